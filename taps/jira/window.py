"""The updated-time window of an incremental issue search, and its bookmark.

JQL compares ``updated`` to the minute, in the Jira user's time zone. The bookmark is the newest
``updated`` seen (UTC, to the millisecond) and the ids of the issues seen at exactly that time. A
saved bookmark is compared as an instant, never as text: set by hand or by another Jira tap, it may
be any ISO 8601 form of its time (``+0200``, no milliseconds), whose text does not sort with ours.
The next search asks for ``updated >= "yyyy-MM-dd HH:mm"`` (the bookmark's minute, floored, in the
user's zone): the issues of that minute come again, and those older than the bookmark, or at it and
already seen, are dropped. Nothing is lost (the minute is re-read) and nothing is
emitted twice (id + updated de-duplicates).

Within a run the window moves the same way after each page (:meth:`Window.advance`), because the
search asks again from the newest minute seen instead of following offsets (see
:mod:`taps.jira.search`): the overlap it reads again is dropped just as a next run would drop it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from protocol import Bookmarks, FatalSourceError, saved_instant
from protocol import utc_instant as instant

__all__ = ["Window", "jira_time", "search_jql", "utc_text"]

HOUR = timedelta(hours=1)
#: the bookmark's extra key: the ids of the issues seen at exactly replication_key_value
SEEN = "ids_at_bookmark"


def utc_text(value: datetime) -> str:
    """``2024-01-01T09:15:30.123Z``: UTC, milliseconds (Jira's precision)."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def jira_time(value: str | None, what: str = "updated") -> str | None:
    """A Jira time (``2024-01-01T10:15:30.123+0100``) as :func:`utc_text`."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise FatalSourceError(f"field '{what}': {value!r} is not a Jira date-time") from exc
    return utc_text(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))


def _minute(value: datetime, zone: ZoneInfo, shift: timedelta) -> str:
    """``value`` as a JQL minute in ``zone``; a wall time the zone has twice (the hour clocks go back)
    is moved by ``shift`` first, so that Jira, whichever of the two it reads, reads no less than asked."""
    local = value.astimezone(zone).replace(tzinfo=None)
    if zone.utcoffset(local.replace(fold=0)) != zone.utcoffset(local.replace(fold=1)):
        local = (value + shift).astimezone(zone).replace(tzinfo=None)
    return local.strftime("%Y-%m-%d %H:%M")


def search_jql(base: str | None, start: str | None, end: datetime | None, zone: ZoneInfo) -> str:
    """The search: ``(base) AND updated >= "start minute" AND updated < "minute after end" ORDER BY updated``.
    ``start`` is a :func:`utc_text`; its minute is floored, so issues of that minute come again."""
    terms = [f"({base})"] if base else []
    if start is not None:
        when = datetime.fromisoformat(start.replace("Z", "+00:00"))
        terms.append(f'updated >= "{_minute(when, zone, -HOUR)}"')
    if end is not None:
        terms.append(f'updated < "{_minute(end + timedelta(minutes=1), zone, HOUR)}"')
    return " ".join([" AND ".join(terms), "ORDER BY updated ASC"]).lstrip()


@dataclass
class Window:
    """One stream's search window: from its bookmark (or start_date) to end_date."""

    stream: str
    start: str | None  # utc_text
    seen: set[str]  # ids at exactly ``start``
    end: datetime | None
    best: str | None = None
    best_ids: set[str] = field(default_factory=set)
    start_at: datetime | None = None  # ``start``'s exact instant (a saved bookmark may be finer than ms)

    def __post_init__(self) -> None:
        if self.start_at is None and self.start is not None:
            self.start_at = instant(self.start)

    @classmethod
    def open(cls, stream: str, bookmarks: Bookmarks, start_date: datetime | None,
             end_date: datetime | None) -> Window:
        value = bookmarks.replication_value(stream)
        if value is not None:
            at = saved_instant(stream, value)
            seen = {str(i) for i in bookmarks.get(stream, SEEN) or []}
            return cls(stream, utc_text(at), seen, end_date, start_at=at)
        return cls(stream, utc_text(start_date) if start_date else None, set(), end_date)

    def jql(self, base: str | None, zone: ZoneInfo) -> str:
        """:func:`search_jql` from the window's start."""
        return search_jql(base, self.start, self.end, zone)

    def accept(self, issue_id: str, updated: str | None) -> bool:
        """Whether an issue found by the search is new to this stream (and remember it when it is)."""
        if updated is None:
            return False
        start, at = self.start_at, instant(updated)
        if start is not None and (at < start or (at == start and issue_id in self.seen)):
            return False
        if self.end is not None and updated > utc_text(self.end):
            return False
        if self.best is None or updated > self.best:
            self.best, self.best_ids = updated, {issue_id}
        elif updated == self.best:
            self.best_ids.add(issue_id)
        return True

    def advance(self) -> None:
        """Start the window at the newest issue accepted (after a page whose records are all emitted): the
        search may ask again from that minute, and what it then finds older, or at that time and already
        accepted, is dropped as a next run would drop it. An issue changed since comes again (newer)."""
        if self.best is None:
            return
        best_at = instant(self.best)
        if best_at == self.start_at:
            self.seen |= self.best_ids
        else:
            self.start, self.start_at, self.seen = self.best, best_at, set(self.best_ids)

    def save(self, bookmarks: Bookmarks, key: str) -> None:
        """Write the bookmark (after a page whose records are all emitted), never backward: decided by
        instant, as the state's own "never backward" compares texts, which need not sort as times."""
        if self.best is None:
            return
        current = bookmarks.replication_value(self.stream)
        best_at = instant(self.best)
        current_at = None if current is None else saved_instant(self.stream, current)
        if current_at is not None and best_at < current_at:
            return
        ids: Iterable[str] = self.best_ids
        if best_at == current_at:
            ids = self.best_ids | {str(i) for i in bookmarks.get(self.stream, SEEN) or []}
        bookmarks.set(self.stream, "replication_key", key)
        bookmarks.set(self.stream, "replication_key_value", self.best)
        bookmarks.set(self.stream, SEEN, sorted(ids))
