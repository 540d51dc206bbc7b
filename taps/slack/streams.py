"""The Slack streams. ``channels`` and ``users`` are listings; ``channel_members``, ``messages``
and ``threads`` are read per channel (partition context ``{"channel_id"}``, as in MeltanoLabs
tap-slack), ``messages`` and ``threads`` with one bookmark per channel.

    messages   conversations.history, ``oldest`` = the channel's bookmark (exclusive; newest
               first, so the bookmark moves when the channel is done)
    threads    the parents of the last ``thread_lookback_days`` before the thread bookmark (or,
               without one, before ``start_date``) whose ``latest_reply`` is past it, then
               conversations.replies ``oldest`` = the bookmark (or ``start_date``, inclusive),
               ``latest`` = the run's start on Slack's clock (a reply posted during the run comes
               next run; the bookmark never passes it, whatever this machine's clock says)

A channel Slack refuses (``not_in_channel``, ``channel_not_found``, ...) is skipped with a
warning; so is a thread whose parent is gone (``thread_not_found``), and the channel's other
threads are read. ``ts`` values are compared as exact decimals, never as floats.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from protocol import Bookmarks, Stream
from taps.slack.client import ChannelUnavailable, ThreadUnavailable
from taps.slack.schemas import SCHEMAS

if TYPE_CHECKING:
    from taps.slack.tap import TapSlack

__all__ = ["ADMIN_STREAM_TYPES", "STREAM_TYPES", "SlackStream"]

log = logging.getLogger("sluice.tap")
DAY = Decimal(86400)


def later(a: str | None, b: str | None) -> bool:
    """Whether Slack timestamp ``a`` is after ``b`` (None is before everything)."""
    if a is None:
        return False
    return b is None or Decimal(a) > Decimal(b)


@dataclass(frozen=True)
class Span:
    """The replies a channel's threads are read for: after ``oldest`` (at or after it when
    ``inclusive``: start_date's "at or after"; None: from the first), before ``latest`` (the run's
    cut-off, on Slack's clock)."""

    oldest: str | None
    inclusive: bool
    latest: str

    def past_oldest(self, ts: str | None) -> bool:
        """Whether ``ts`` is past the lower bound (a parent's ``latest_reply``: a reply to read)."""
        if ts is None or self.oldest is None:
            return ts is not None
        return later(ts, self.oldest) or (self.inclusive and Decimal(ts) == Decimal(self.oldest))

    def admits(self, ts: str | None) -> bool:
        """Whether a reply posted at ``ts`` is read (past the lower bound, before the cut-off)."""
        return self.past_oldest(ts) and later(self.latest, ts)

    def params(self) -> dict[str, str]:
        """``oldest`` / ``latest`` / ``inclusive`` (which Slack applies to both: :meth:`admits` decides)."""
        if self.oldest is None:
            return {"latest": self.latest}
        return {"oldest": self.oldest, "latest": self.latest, **({"inclusive": "true"} if self.inclusive else {})}


class SlackStream(Stream):
    manages_bookmark = True
    tap: TapSlack

    @property
    def schema(self) -> dict[str, Any]:
        return SCHEMAS[self.name]

    def fields(self) -> list[str]:
        return [f for f in self.schema["properties"] if f != "channel_id"]

    def bookmark(self, bookmarks: Bookmarks, channel_id: str) -> str | None:
        value = bookmarks.partition_value(self.name, {"channel_id": channel_id})
        return None if value is None else str(Decimal(str(value)).quantize(Decimal("0.000001")))

    def set_bookmark(self, bookmarks: Bookmarks, channel_id: str, value: str) -> None:
        context = {"channel_id": channel_id}
        if later(value, self.bookmark(bookmarks, channel_id)):
            bookmarks.set_partition(self.name, context, "replication_key", "ts")
            bookmarks.set_partition(self.name, context, "replication_key_value", value)


class ChannelsStream(SlackStream):
    name = "channels"
    primary_keys = ("id",)

    def fields(self) -> list[str]:
        return list(self.schema["properties"])

    def get_records(self, bookmarks: Bookmarks) -> Iterator[dict[str, Any]]:
        fields = self.fields()
        for channel in self.tap.channels(self.name):
            yield {f: channel.get(f) for f in fields}


class UsersStream(SlackStream):
    name = "users"
    primary_keys = ("id",)

    def fields(self) -> list[str]:
        return list(self.schema["properties"])

    def get_records(self, bookmarks: Bookmarks) -> Iterator[dict[str, Any]]:
        fields = self.fields()
        for rows in self.tap.client.pages("users.list", "members", self.tap.client.team_params(),
                                             stream=self.name):
            for raw in rows:
                yield {f: raw.get(f) for f in fields}


class PerChannelStream(SlackStream):
    def get_records(self, bookmarks: Bookmarks) -> Iterator[dict[str, Any]]:
        for channel in self.tap.channels(self.name):
            channel_id = str(channel["id"])
            try:
                yield from self.channel_records(bookmarks, channel_id)
            except ChannelUnavailable as exc:
                log.warning("%s: channel %s skipped: %s", self.name, channel_id, exc)

    def channel_records(self, bookmarks: Bookmarks, channel_id: str) -> Iterator[dict[str, Any]]:
        raise NotImplementedError


class ChannelMembersStream(PerChannelStream):
    name = "channel_members"
    primary_keys = ("channel_id", "member_id")

    def channel_records(self, bookmarks: Bookmarks, channel_id: str) -> Iterator[dict[str, Any]]:
        for rows in self.tap.client.pages("conversations.members", "members", {"channel": channel_id},
                                             stream=self.name):
            for member in rows:
                yield {"channel_id": channel_id, "member_id": member}


class MessagesStream(PerChannelStream):
    name = "messages"
    primary_keys: tuple[str, ...] = ("channel_id", "ts")
    replication_key = "ts"

    def window(self, bookmarks: Bookmarks, channel_id: str) -> dict[str, Any]:
        """``oldest`` (and ``inclusive`` for start_date, which is "at or after") of a channel."""
        start = self.bookmark(bookmarks, channel_id)
        if start is not None:
            return {"oldest": start}
        first = self.tap.settings.start_ts
        return {"oldest": first, "inclusive": "true"} if first else {}

    def channel_records(self, bookmarks: Bookmarks, channel_id: str) -> Iterator[dict[str, Any]]:
        fields = self.fields()
        best: str | None = None
        params = {"channel": channel_id, **self.window(bookmarks, channel_id)}
        for rows in self.tap.client.pages("conversations.history", "messages", params, stream=self.name):
            for raw in rows:
                record = {f: raw.get(f) for f in fields}
                record["channel_id"] = channel_id
                if later(record["ts"], best):
                    best = record["ts"]
                yield record
        if best is not None:
            self.set_bookmark(bookmarks, channel_id, best)


class ThreadsStream(MessagesStream):
    name = "threads"
    primary_keys = ("channel_id", "thread_ts", "ts")

    def span(self, bookmarks: Bookmarks, channel_id: str) -> Span:
        """After the channel's bookmark; without one, at or after ``start_date`` (if set)."""
        mark = self.bookmark(bookmarks, channel_id)
        if mark is not None:
            return Span(mark, False, self.tap.cutoff())
        return Span(self.tap.settings.start_ts, True, self.tap.cutoff())

    def parents(self, span: Span) -> dict[str, Any]:
        """The conversations.history window of the parents looked at: ``thread_lookback_days``
        before the span's start, whose older replies were read (or are before ``start_date``)."""
        if span.oldest is None:
            return {}
        back = max(Decimal(span.oldest) - DAY * self.tap.settings.thread_lookback_days, Decimal(0))
        return {"oldest": f"{back:.6f}", **({"inclusive": "true"} if span.inclusive else {})}

    def channel_records(self, bookmarks: Bookmarks, channel_id: str) -> Iterator[dict[str, Any]]:
        fields = self.fields()
        span = self.span(bookmarks, channel_id)
        params: dict[str, Any] = {"channel": channel_id, **self.parents(span)}
        best: str | None = None
        for rows in self.tap.client.pages("conversations.history", "messages", params, stream=self.name):
            for parent in rows:
                if not parent.get("reply_count") or not span.past_oldest(parent.get("latest_reply")):
                    continue
                for record in self.thread(channel_id, str(parent["ts"]), span, fields):
                    if later(record["ts"], best):
                        best = record["ts"]
                    yield record
        if best is not None:  # before the cut-off: a reply posted during the run is after it
            self.set_bookmark(bookmarks, channel_id, best)

    def thread(self, channel_id: str, thread_ts: str, span: Span, fields: list[str]) -> Iterator[dict[str, Any]]:
        """:meth:`replies`, or none when the thread is gone: a parent deleted after the listing
        took it leaves nothing to read, and must not cost the channel's other threads."""
        try:
            yield from self.replies(channel_id, thread_ts, span, fields)
        except ThreadUnavailable as exc:
            log.warning("%s: channel %s: thread %s skipped: %s (its parent message is gone)",
                        self.name, channel_id, thread_ts, exc)

    def replies(self, channel_id: str, thread_ts: str, span: Span, fields: list[str]) -> Iterator[dict[str, Any]]:
        """The replies of one thread in ``span`` (not the parent)."""
        params: dict[str, Any] = {"channel": channel_id, "ts": thread_ts, **span.params()}
        for rows in self.tap.client.pages("conversations.replies", "messages", params, stream=self.name):
            for raw in rows:
                ts = raw.get("ts")
                if ts == thread_ts or not span.admits(ts):
                    continue  # the parent (always sent first), or a reply read before or after the cut-off
                record = {f: raw.get(f) for f in fields}
                record["channel_id"] = channel_id
                record["thread_ts"] = thread_ts
                yield record


class IntegrationLogsStream(SlackStream):
    """team.integrationLogs (admin): apps and integrations added, changed or removed."""

    name = "integration_logs"
    primary_keys = ("user_id", "date", "change_type")

    def fields(self) -> list[str]:
        return list(self.schema["properties"])

    def get_records(self, bookmarks: Bookmarks) -> Iterator[dict[str, Any]]:
        fields = self.fields()
        for rows in self.tap.client.numbered_pages("team.integrationLogs", "logs", self.tap.client.team_params()):
            for raw in rows:
                yield {f: raw.get(f) for f in fields}


STREAM_TYPES: list[type[SlackStream]] = [
    ChannelsStream, ChannelMembersStream, UsersStream, MessagesStream, ThreadsStream]
ADMIN_STREAM_TYPES: list[type[SlackStream]] = [IntegrationLogsStream]
