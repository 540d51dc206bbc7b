"""tap-github: repositories and their issues, pull requests, commits and issue comments.

Settings follow MeltanoLabs tap-github: ``repositories``, ``auth_token``, ``api_url``,
``start_date``, ``rate_limit_buffer``, ``user_agent``; plus the HTTP kit's settings
(timeouts, retries, backoff, breaker, client-side rate limit).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from protocol import Bookmarks, Catalog, ConfigError, MessageWriter, Tap, tap_main
from protocol.http import HTTP_SETTINGS
from taps.github.client import GitHubClient
from taps.github.streams import STREAM_TYPES, GitHubStream

__all__ = ["TapGitHub", "main"]


class TapGitHub(Tap):
    name = "tap-github"
    description = "Singer tap for GitHub: repositories, issues, pull requests, commits and issue comments."
    settings_schema: ClassVar[dict[str, Any]] = {
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
            **HTTP_SETTINGS,
        },
    }

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.repositories: list[str] = list(dict.fromkeys(self.config["repositories"]))
        self.start_date = _iso(self.config.get("start_date"))
        self.client = GitHubClient(self.config)

    def streams(self) -> list[GitHubStream]:  # type: ignore[override]
        return [cls(self) for cls in STREAM_TYPES]

    def test_connection(self) -> str:
        try:
            repo = self.client.repository(self.repositories[0])
        finally:
            self.client.close()
        return f"token accepted; {repo.get('full_name', self.repositories[0])} is readable"

    def sync(self, catalog: Catalog, bookmarks: Bookmarks, writer: MessageWriter) -> None:
        try:
            super().sync(catalog, bookmarks, writer)
        finally:
            self.client.close()


def _iso(value: Any) -> str | None:
    """``start_date`` as GitHub writes times (``2024-01-01T00:00:00Z``), so that strings compare."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(f"setting 'start_date': {value!r} is not an ISO 8601 date-time") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


main = tap_main(TapGitHub)
