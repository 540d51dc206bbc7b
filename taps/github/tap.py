"""tap-github: repositories and their issues, pull requests, commits and issue comments.

Its settings are in :mod:`taps.github.settings`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from protocol import Bookmarks, Catalog, MessageWriter, Tap, tap_main
from taps.github.client import GitHubClient
from taps.github.settings import SETTINGS, GitHubSettings
from taps.github.streams import STREAM_TYPES, GitHubStream

__all__ = ["TapGitHub", "main"]


class TapGitHub(Tap):
    name = "tap-github"
    description = "Singer tap for GitHub: repositories, issues, pull requests, commits and issue comments."
    settings_schema: ClassVar[dict[str, Any]] = SETTINGS

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.settings = GitHubSettings.from_config(self.config)
        self.client = GitHubClient(self.settings)

    def streams(self) -> list[GitHubStream]:  # type: ignore[override]
        return [cls(self) for cls in STREAM_TYPES]

    def test_connection(self) -> str:
        try:
            first = self.settings.repositories[0]
            repo = self.client.repository(first)
        finally:
            self.client.close()
        return f"token accepted; {repo.get('full_name', first)} is readable"

    def sync(self, catalog: Catalog, bookmarks: Bookmarks, writer: MessageWriter) -> None:
        try:
            super().sync(catalog, bookmarks, writer)
        finally:
            self.client.close()


main = tap_main(TapGitHub)
