"""tap-github's settings: their schema (what ``--about`` publishes and the config is validated
against) and the one frozen object the tap reads them from, built once from the validated config.

Settings follow MeltanoLabs tap-github: ``repositories``, ``auth_token``, ``api_url``,
``start_date``, ``rate_limit_buffer``, ``user_agent``; plus the HTTP kit's settings
(timeouts, retries, backoff, breaker, client-side rate limit). Defaults are stated once, here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from protocol import ConfigError, build_settings, setting, utc_instant
from protocol.http import HttpSettings, http_settings

__all__ = ["SETTINGS", "GitHubSettings", "github_instant", "github_time"]

SETTINGS: dict[str, Any] = {
    "type": "object",
    "required": ["repositories"],
    "properties": {
        "repositories": {"type": "array", "minItems": 1,
                         "items": {"type": "string", "pattern": "^[^/\\s]+/[^/\\s]+$"},
                         "description": "The repositories to sync, as 'org/repository'."},
        "auth_token": {"type": "string", "secret": True, "writeOnly": True,
                       "description": "GitHub token to authenticate with."},
        "api_url": {"type": "string", "default": "https://api.github.com",
                    "description": "The GitHub REST API base URL (GitHub Enterprise: https://HOST/api/v3)."},
        "start_date": {"type": "string", "format": "date-time",
                       "description": "Sync only what changed at or after this time, when there is no bookmark."},
        "per_page": {"type": "integer", "minimum": 1, "maximum": 100, "default": 100,
                     "description": "Records per page (at most 100)."},
        **http_settings("sluice-tap-github"),
    },
}


@dataclass(frozen=True)
class GitHubSettings:
    repositories: tuple[str, ...]  # each once, in config order
    auth_token: str | None
    api_url: str  # without a trailing slash
    start_date: str | None  # as GitHub writes times, so that strings compare
    per_page: int
    http: HttpSettings  # the HTTP kit's settings

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> GitHubSettings:
        return build_settings(
            cls, SETTINGS, config,
            repositories=tuple(dict.fromkeys(setting(SETTINGS, config, "repositories"))),
            api_url=str(setting(SETTINGS, config, "api_url")).rstrip("/"),
            start_date=_iso(setting(SETTINGS, config, "start_date")),
            http=HttpSettings.from_config(config, SETTINGS))


def _iso(value: Any) -> str | None:
    """``start_date`` as GitHub writes times (``2024-01-01T00:00:00Z``), so that strings compare."""
    if not value:
        return None
    try:
        return github_time(github_instant(str(value)))
    except ValueError as exc:
        raise ConfigError(f"setting 'start_date': {value!r} is not an ISO 8601 date-time") from exc


github_instant = utc_instant  # a time as an aware UTC datetime (protocol._instants)


def github_time(value: datetime) -> str:
    """An instant as GitHub writes times (``2024-01-01T00:00:00Z``), floored to the second."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
