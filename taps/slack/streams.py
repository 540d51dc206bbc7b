"""The Slack streams. ``channels`` and ``users`` are listings; ``channel_members``, ``messages``
and ``threads`` are read per channel (partition context ``{"channel_id"}``, as in MeltanoLabs
tap-slack), ``messages`` and ``threads`` with one bookmark per channel.

    messages   conversations.history, ``oldest`` = the channel's bookmark (exclusive; newest
               first, so the bookmark moves when the channel is done)
    threads    the parents of the last ``thread_lookback_days`` before the thread bookmark whose
               ``latest_reply`` is past it, then conversations.replies ``oldest`` = the bookmark,
               ``latest`` = the run's start (a reply posted during the run comes next run)

A channel Slack refuses (``not_in_channel``, ``channel_not_found``, ...) is skipped with a
warning; so is a thread whose parent is gone (``thread_not_found``), and the channel's other
threads are read. ``ts`` values are compared as exact decimals, never as floats.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
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

    def channel_records(self, bookmarks: Bookmarks, channel_id: str) -> Iterator[dict[str, Any]]:
        fields = self.fields()
        mark = self.bookmark(bookmarks, channel_id)
        params: dict[str, Any] = {"channel": channel_id, **self.window(bookmarks, channel_id)}
        if mark is not None:
            back = Decimal(mark) - DAY * self.tap.settings.thread_lookback_days
            params["oldest"] = f"{max(back, Decimal(0)):.6f}"
        best: str | None = None
        for rows in self.tap.client.pages("conversations.history", "messages", params, stream=self.name):
            for parent in rows:
                if not parent.get("reply_count") or not later(parent.get("latest_reply"), mark):
                    continue
                for record in self.thread(channel_id, str(parent["ts"]), mark, fields):
                    if later(record["ts"], best):
                        best = record["ts"]
                    yield record
        if best is not None:
            self.set_bookmark(bookmarks, channel_id, best)

    def thread(self, channel_id: str, thread_ts: str, mark: str | None, fields: list[str]) -> Iterator[dict[str, Any]]:
        """:meth:`replies`, or none when the thread is gone: a parent deleted after the listing
        took it leaves nothing to read, and must not cost the channel's other threads."""
        try:
            yield from self.replies(channel_id, thread_ts, mark, fields)
        except ThreadUnavailable as exc:
            log.warning("%s: channel %s: thread %s skipped: %s (its parent message is gone)",
                        self.name, channel_id, thread_ts, exc)

    def replies(self, channel_id: str, thread_ts: str, mark: str | None, fields: list[str]) -> Iterator[dict[str, Any]]:
        """The replies of one thread after ``mark`` and before the run's start (not the parent)."""
        params: dict[str, Any] = {"channel": channel_id, "ts": thread_ts, "latest": self.tap.run_ts}
        if mark is not None:
            params["oldest"] = mark
        for rows in self.tap.client.pages("conversations.replies", "messages", params, stream=self.name):
            for raw in rows:
                ts = raw.get("ts")
                if ts == thread_ts or not later(ts, mark):
                    continue  # the parent (always sent first), or a reply read before
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
