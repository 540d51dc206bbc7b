"""The Stripe streams: one list endpoint each, incremental on ``created``, as singer-io tap-stripe.

A run reads ``created[gte]=bookmark`` and ``created[lt]=now`` in windows of ``date_window_size``
days. A list is newest first, so the bookmark (``{"created": unix seconds}``; invoices:
``"date"``) moves to a window's end only when its last page is read; between pages the STATE
carries the window's end and the ``starting_after`` cursor, so a resumed run goes on from the
next page. An object created during the run falls at or after ``now``: the next run reads it
(``now`` as stored for the next run is read on Stripe's clock: taps/stripe/ends.py).

Updates come from the events stream (``event_updates``): a later run reads the events of the
stream's type (``customer.*``, ...) between the last run's ``now`` and this one's, and emits each
changed object once, as in its newest event (``updated`` = the event's time), unless this run's
listing already emitted it. Its bookmark is ``{"<stream>_events": {"updates_created": ...}}``.
The first run reads no events: its listing is the objects as they are now. It sets that bookmark
to its own start before listing, so that every checkpoint carries it: a run that resumes an
interrupted first run reads the changes made since the interrupted run started (to objects it
already emitted). A state with a stream bookmark but no events bookmark (an interrupted first run
of an older version, or ``event_updates`` off before) cannot tell when that run started: its run
reads every event Stripe keeps (30 days), so nothing Stripe can still tell is lost.

A resumed ``starting_after`` whose object was deleted meanwhile (``resource_missing``) restarts
its window from the newest object, with a warning: that window's objects already emitted come
again, none is skipped.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from protocol import Bookmarks, Stream
from taps.stripe.client import StripeError
from taps.stripe.ends import RunEnd, read_before
from taps.stripe.schemas import SCHEMAS, TIME_FIELDS

if TYPE_CHECKING:
    from taps.stripe.tap import TapStripe

__all__ = ["STREAM_TYPES", "StripeStream", "iso"]

log = logging.getLogger("sluice.tap")

#: seconds of events the API keeps (its reference: 30 days)
EVENTS_KEPT = 30 * 86400
#: list fields emitted as the IDs of their objects
ID_LISTS = ("subscriptions", "items", "lines")


def iso(seconds: Any) -> Any:
    """Unix seconds as singer-io writes date-times (``2024-01-01T00:00:00.000000Z``); other values as they are."""
    if isinstance(seconds, int) and not isinstance(seconds, bool):
        return _iso(seconds)
    return seconds


@functools.lru_cache(maxsize=1 << 14)
def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _ids(value: Any) -> Any:
    """A list object (or a list) of objects as the list of their IDs."""
    if isinstance(value, dict):
        value = value.get("data")
    if isinstance(value, list):
        return [obj["id"] if isinstance(obj, dict) else obj for obj in value] or None
    return value


class StripeStream(Stream):
    manages_bookmark = True
    primary_keys = ("id",)
    replication_key = "created"
    tap: TapStripe
    path: ClassVar[str] = ""
    params: ClassVar[dict[str, Any]] = {}
    bookmark_key: ClassVar[str] = "created"
    event_type: ClassVar[str | None] = None  # the events of this stream's objects: "customer.*"
    event_object: ClassVar[str] = ""  # and the object type their data.object must have

    @property
    def schema(self) -> dict[str, Any]:
        return SCHEMAS[self.name]

    def record(self, raw: dict[str, Any]) -> dict[str, Any]:
        """A record of the schema's fields, timestamps as date-times, ID lists reduced."""
        record = {f: raw.get(f) for f in self.schema["properties"]}
        for path in TIME_FIELDS[self.name]:
            if len(path) == 1:
                record[path[0]] = iso(record[path[0]])
                continue
            holder: Any = record
            for step in path[:-1]:
                holder = holder.get(step) if isinstance(holder, dict) else None
            if isinstance(holder, dict) and path[-1] in holder:
                holder[path[-1]] = iso(holder[path[-1]])
        for name in ID_LISTS:
            if name in record:
                record[name] = _ids(record[name])
        record["updated"] = record.get("created")
        return record

    def start(self, bookmarks: Bookmarks) -> int | None:
        value = bookmarks.get(self.name, self.bookmark_key)
        return int(value) if isinstance(value, int | float) else self.tap.settings.start

    def get_records(self, bookmarks: Bookmarks) -> Iterator[dict[str, Any]]:
        updates = self.tap.settings.event_updates and self.event_type is not None
        since = self.events_since(bookmarks) if updates else None
        if updates and since is None:
            # the checkpoints of this first run carry its start: a resumed run reads the changes since
            bookmarks.set(f"{self.name}_events", "updates_created", self.tap.now)
        listed: set[str] | None = set() if since is not None else None
        for record in self.created_records(bookmarks, self.start(bookmarks)):
            if listed is not None:
                listed.add(record["id"])
            yield record
        if updates:
            events, end = f"{self.name}_events", RunEnd(self.tap.client, self.tap.now)
            if since is not None:
                yield from self.updated_records(int(since), listed or set(), read_before(bookmarks, events), end)
            end.save(bookmarks, events, "updates_created")

    def events_since(self, bookmarks: Bookmarks) -> int | None:
        """Where this run's events start: the events bookmark; None on a first run (no bookmark of the
        stream at all: its listing is every object as it is). A stream bookmark without an events
        bookmark was written by a run that never finished (by a version that did not carry its start)
        or ran without ``event_updates``: the changes since that run's unknown start may be missing,
        so every event Stripe keeps is read (objects changed since then may come twice)."""
        value = bookmarks.get(f"{self.name}_events", "updates_created")
        if value is not None:
            return int(value)
        if self.name not in bookmarks.streams():
            return None
        oldest = self.tap.now - EVENTS_KEPT
        log.warning("%s: the state has a bookmark but no events bookmark (%s_events.updates_created: an "
                    "interrupted first run of an older version, or event_updates off); reading every event "
                    "Stripe keeps, since %s (objects changed since then may come again)", self.name, self.name,
                    iso(oldest))
        return oldest

    def created_records(self, bookmarks: Bookmarks, start: int | None) -> Iterator[dict[str, Any]]:
        """The objects created in [start, now), window by window, newest first within each."""
        end, step = self.tap.now, self.tap.settings.window_seconds
        after = bookmarks.get(self.name, "starting_after")
        resumed = bookmarks.get(self.name, "window_end")
        done, last = read_before(bookmarks, self.name), RunEnd(self.tap.client, end)
        while start is None or start < end:
            stop = end if start is None else min(start + step, end)
            if after and isinstance(resumed, int) and (start is None or start < resumed <= end):
                stop = resumed
            else:
                after = None
            params = {**self.params, "created[lt]": stop}
            if start is not None:
                params["created[gte]"] = start
            for page, cursor in self.pages(params, after):
                for raw in page:
                    last.note(raw.get("created"), raw.get("id"))
                    if raw.get("id") not in done:
                        yield self.record(raw)
                after = cursor
                if after is not None:
                    if start is not None:
                        bookmarks.set(self.name, self.bookmark_key, start)
                    bookmarks.set(self.name, "window_end", stop)
                    bookmarks.set(self.name, "starting_after", after)
                    self.tap.checkpoint(bookmarks)
            bookmarks.clear(self.name, "window_end")
            bookmarks.clear(self.name, "starting_after")
            if stop == end:  # the run's end on Stripe's clock, and the ids read from there (taps/stripe/ends.py)
                last.save(bookmarks, self.name, self.bookmark_key)
            else:
                bookmarks.set(self.name, self.bookmark_key, stop)
            self.tap.checkpoint(bookmarks)
            start = stop

    def pages(self, params: dict[str, Any], after: str | None) -> Iterator[tuple[list[dict[str, Any]], str | None]]:
        """The window's pages from the cursor ``after``; when Stripe no longer has the cursor's object
        (deleted since the state was written: ``resource_missing``), from the window's newest object
        instead. The objects before the cursor come again; none is skipped."""
        pages = self.tap.client.pages(self.path, params, after)
        try:
            first = next(pages)
        except StripeError as exc:
            if not after or exc.code != "resource_missing" or exc.param not in (None, "starting_after"):
                raise
            log.warning("%s: the state's starting_after %s is gone (%s); reading its window again from the "
                        "newest object (objects already emitted come again)", self.name, after, exc)
            pages = self.tap.client.pages(self.path, params)
            first = next(pages)
        yield first
        yield from pages

    def updated_records(self, since: int, listed: set[str], done: frozenset[str], end: RunEnd
                        ) -> Iterator[dict[str, Any]]:
        """Each object changed in [since, now) once, as in its newest event; not those listed this run,
        nor by the events the run before read (``done``); each event read is noted at ``end``."""
        if since < self.tap.now - EVENTS_KEPT:
            log.warning("%s: the last run ended %s; Stripe keeps events for 30 days, so changes before %s "
                        "are not read (a full sync, without the state, reads every object)", self.name,
                        iso(since), iso(self.tap.now - EVENTS_KEPT))
        params = {"type": self.event_type, "created[gte]": since, "created[lt]": self.tap.now}
        for page, _ in self.tap.client.pages("events", params):
            for event in page:
                end.note(event.get("created"), event.get("id"))
                if event.get("id") in done:
                    continue
                obj = (event.get("data") or {}).get("object")
                if not isinstance(obj, dict) or obj.get("object") != self.event_object:
                    continue
                key = obj.get("id")
                if not key or key in listed:
                    continue
                listed.add(key)  # newest first: an older event of the same object is skipped
                record = self.record(obj)
                record["updated"] = iso(event.get("created"))
                record["updated_by_event_type"] = event.get("type")
                yield record


def _stream(name: str, event_object: str | None, *, event_type: str | None = None, bookmark_key: str = "created",
             params: dict[str, Any] | None = None) -> type[StripeStream]:
    attrs = {"name": name, "path": name, "params": params or {}, "bookmark_key": bookmark_key,
             "event_object": event_object or "",
             "event_type": (event_type or f"{event_object}.*") if event_object else None}
    return type(f"{name.title().replace('_', '')}Stream", (StripeStream,), attrs)


class EventsStream(StripeStream):
    """Events are immutable: no updates; ``lookback_window`` seconds before the bookmark are read again."""

    name = "events"
    path = "events"

    def start(self, bookmarks: Bookmarks) -> int | None:
        value = bookmarks.get(self.name, self.bookmark_key)
        if isinstance(value, int | float):
            return max(0, int(value) - self.tap.settings.lookback_window)
        return self.tap.settings.start


STREAM_TYPES: list[type[StripeStream]] = [
    _stream("customers", "customer"),
    _stream("charges", "charge"),
    _stream("invoices", "invoice", bookmark_key="date"),
    _stream("subscriptions", "subscription", event_type="customer.subscription.*", params={"status": "all"}),
    _stream("products", "product"),
    _stream("prices", "price"),
    _stream("payment_intents", "payment_intent"),
    EventsStream,
]
