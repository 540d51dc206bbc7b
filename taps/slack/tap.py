"""tap-slack: channels, channel members, users, messages and thread replies (and, with
``include_admin_streams``, integration logs) from the Slack Web API.

Its settings are in :mod:`taps.slack.settings`.
"""

from __future__ import annotations

import logging
import time
from typing import Any, ClassVar

from protocol import Bookmarks, Catalog, MessageWriter, Tap, tap_main
from taps.slack.client import SlackApiError, SlackClient
from taps.slack.settings import SETTINGS, SlackSettings
from taps.slack.streams import ADMIN_STREAM_TYPES, STREAM_TYPES, SlackStream

__all__ = ["TapSlack", "main"]

log = logging.getLogger("sluice.tap")


class TapSlack(Tap):
    name = "tap-slack"
    description = "Singer tap for Slack: channels, channel members, users, messages and thread replies."
    settings_schema: ClassVar[dict[str, Any]] = SETTINGS

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.settings = SlackSettings.from_config(self.config)
        self.client = SlackClient(self.settings)
        self.started = time.time()  # our clock; the run's cut-off is this moment on Slack's (cutoff)
        self._cutoff: str | None = None
        self._channels: list[dict[str, Any]] | None = None

    def cutoff(self) -> str:
        """The run's start on Slack's clock (its ``Date`` headers, never later than ours), taken
        once: thread replies are read before it, and one posted after it comes next run."""
        if self._cutoff is None:
            self._cutoff = self.client.server_time(self.started)
        return self._cutoff

    def streams(self) -> list[SlackStream]:  # type: ignore[override]
        kinds = STREAM_TYPES + (ADMIN_STREAM_TYPES if self.settings.include_admin_streams else [])
        return [cls(self) for cls in kinds]

    def channels(self, stream: str) -> list[dict[str, Any]]:
        """The channels read (listed once a run, by the first ``stream`` that needs them): of the
        configured types, selected, not excluded; public ones the bot is not in joined first when
        ``auto_join_channels`` is on."""
        if self._channels is None:
            params = {"types": ",".join(self.settings.channel_types), "exclude_archived": "false",
                      **self.client.team_params()}
            pages = self.client.pages("conversations.list", "channels", params, stream=stream)
            listed = [c for rows in pages for c in rows]
            self._warn_unlisted({str(c.get("id")) for c in listed})
            found = [c for c in listed if self.settings.wanted(str(c.get("id")))]
            if self.settings.auto_join_channels:
                found = [self._join(c) for c in found]
            self._channels = found
        return self._channels

    def _warn_unlisted(self, listed: set[str]) -> None:
        """One warning naming the selected channels conversations.list did not list (read: none)."""
        missing = sorted((self.settings.selected or frozenset()) - listed - self.settings.excluded_channels)
        if missing:
            log.warning("selected_channels: %s not listed by conversations.list with channel_types %s, so not "
                        "read: a private channel needs private_channel in channel_types (and the bot in it), a "
                        "direct message im or mpim; or the id is wrong", ", ".join(missing),
                        ",".join(self.settings.channel_types))

    def _join(self, channel: dict[str, Any]) -> dict[str, Any]:
        if channel.get("is_member") is not False or channel.get("is_archived") or not channel.get("is_channel"):
            return channel
        try:
            body = self.client.call("conversations.join", {"channel": channel["id"]}, post=True)
        except SlackApiError as exc:
            log.warning("channel %s: could not join: %s", channel["id"], exc)
            return channel
        log.info("channel %s: joined", channel["id"])
        joined = body.get("channel")
        return {**channel, **joined, "is_member": True} if isinstance(joined, dict) else channel

    def test_connection(self) -> str:
        try:
            body = self.client.call("auth.test")
        finally:
            self.client.close()
        return f"token accepted for {body.get('team', '?')} ({body.get('team_id', '?')}) as {body.get('user', '?')}"

    def sync(self, catalog: Catalog, bookmarks: Bookmarks, writer: MessageWriter) -> None:
        try:
            super().sync(catalog, bookmarks, writer)
        finally:
            self.client.close()


main = tap_main(TapSlack)
