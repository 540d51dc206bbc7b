"""tap-slack's settings: their schema (what ``--about`` publishes and the config is validated
against) and the one frozen object the tap reads them from, built once from the validated config.

Settings follow MeltanoLabs tap-slack (Meltano Hub's default variant): ``api_key``,
``start_date``, ``thread_lookback_days``, ``channel_types``, ``auto_join_channels``,
``selected_channels``, ``excluded_channels``, ``include_admin_streams``, ``team_id``; plus
``channels`` (singer-io tap-slack's name for the selection), ``api_url``, ``limit`` and the HTTP
kit's settings. Defaults are stated once, here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from protocol import ConfigError, build_settings, setting
from protocol.http import HttpSettings, http_settings

__all__ = ["CHANNEL_TYPES", "SETTINGS", "SlackSettings"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CHANNEL_TYPES = ("public_channel", "private_channel", "mpim", "im")

_IDS = {"type": "array", "items": {"type": "string", "minLength": 1}}

SETTINGS: dict[str, Any] = {
    "type": "object",
    "required": ["api_key"],
    "properties": {
        "api_key": {"type": "string", "secret": True, "writeOnly": True, "minLength": 1,
                    "description": "Slack bot token (xoxb-...) sent as a Bearer token. Scopes: channels:read, "
                                   "channels:history, users:read (and groups:*, im:*, mpim:* for those types; "
                                   "channels:join for auto_join_channels; admin for the admin streams)."},
        "start_date": {"type": "string", "format": "date-time",
                       "description": "Read messages and replies posted at or after this time, for a channel "
                                      "with no bookmark yet (replies also in threads begun up to "
                                      "thread_lookback_days before it)."},
        "thread_lookback_days": {"type": "integer", "minimum": 0, "default": 1,
                                 "description": "Days before a channel's thread bookmark (on a first run: before "
                                                "start_date) whose parent messages are looked at for new "
                                                "replies."},
        "channel_types": {"type": "array", "minItems": 1, "uniqueItems": True,
                          "items": {"enum": list(CHANNEL_TYPES)}, "default": ["public_channel"],
                          "description": "The conversation types read: public_channel, private_channel, mpim "
                                         "and/or im (the token needs the matching read scopes)."},
        "auto_join_channels": {"type": "boolean", "default": False,
                               "description": "Join the public channels the bot is not a member of "
                                              "(conversations.join) before reading them. Off: such a channel "
                                              "is skipped with a warning."},
        "selected_channels": {**_IDS, "description": "Channel IDs to read; unset: every channel listed. One that "
                                                     "conversations.list does not list (see channel_types) is "
                                                     "named in a warning."},
        "channels": {**_IDS, "description": "Channel IDs to read, singer-io tap-slack's name for "
                                            "selected_channels; when both are set, their union is read."},
        "excluded_channels": {**_IDS, "description": "Channel IDs never read (wins over selected_channels)."},
        "include_admin_streams": {"type": "boolean", "default": False,
                                  "description": "Offer the streams that need an admin token "
                                                 "(integration_logs, from team.integrationLogs)."},
        "team_id": {"type": "string", "default": "",
                    "description": "For an app installed in an Enterprise Grid organization: the workspace "
                                   "to list channels and users of (sent as team_id)."},
        "api_url": {"type": "string", "default": "https://slack.com/api",
                    "description": "The Slack Web API base URL."},
        "limit": {"type": "integer", "minimum": 1, "maximum": 999, "default": 200,
                  "description": "Records asked for per page (Slack's limit parameter; it advises at most 200)."},
        **http_settings("sluice-tap-slack"),
    },
}


@dataclass(frozen=True)
class SlackSettings:
    api_key: str
    start_ts: str | None  # start_date as a Slack timestamp ("1704067200.000000")
    thread_lookback_days: int
    channel_types: tuple[str, ...]
    auto_join_channels: bool
    selected: frozenset[str] | None  # None: every channel
    excluded_channels: frozenset[str]
    include_admin_streams: bool
    team_id: str
    api_url: str  # without a trailing slash
    limit: int
    http: HttpSettings

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SlackSettings:
        chosen = [*(config.get("selected_channels") or ()), *(config.get("channels") or ())]
        return build_settings(
            cls, SETTINGS, config,
            start_ts=_slack_ts(setting(SETTINGS, config, "start_date")),
            channel_types=tuple(dict.fromkeys(setting(SETTINGS, config, "channel_types"))),
            selected=frozenset(chosen) or None,
            excluded_channels=frozenset(config.get("excluded_channels") or ()),
            api_url=str(setting(SETTINGS, config, "api_url")).rstrip("/"),
            http=HttpSettings.from_config(config, SETTINGS))

    def wanted(self, channel_id: str) -> bool:
        """Whether a listed channel is read (selected, or no selection, and not excluded)."""
        if channel_id in self.excluded_channels:
            return False
        return self.selected is None or channel_id in self.selected


def _slack_ts(value: Any) -> str | None:
    """``start_date`` as a Slack timestamp: whole epoch seconds and six decimals."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(f"setting 'start_date': {value!r} is not an ISO 8601 date-time") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    delta = parsed - EPOCH
    return f"{delta.days * 86400 + delta.seconds}.{delta.microseconds:06d}"
