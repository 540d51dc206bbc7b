"""tap-jira: projects, issues, issue comments and changelogs, users, boards and sprints from Jira Cloud.

Its settings are in :mod:`taps.jira.settings`.
"""

from __future__ import annotations

from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from protocol import Bookmarks, Catalog, FatalSourceError, MessageWriter, Tap, tap_main
from taps.jira.client import JiraClient
from taps.jira.settings import SETTINGS, JiraSettings
from taps.jira.streams import STREAM_TYPES, JiraStream

__all__ = ["TapJira", "main"]


class TapJira(Tap):
    name = "tap-jira"
    description = ("Singer tap for Jira Cloud (REST v3): projects, issues, issue comments, changelogs, users, "
                   "boards and sprints.")
    settings_schema: ClassVar[dict[str, Any]] = SETTINGS

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.settings = JiraSettings.from_config(self.config)
        self.client = JiraClient(self.settings)
        self._zone: ZoneInfo | None = self.settings.time_zone

    def streams(self) -> list[JiraStream]:  # type: ignore[override]
        return [cls(self) for cls in STREAM_TYPES]

    def zone(self) -> ZoneInfo:
        """The time zone Jira reads JQL times in: the setting, else the user's (/myself), else UTC."""
        if self._zone is None:
            name = self.client.myself().get("timeZone") or "UTC"
            try:
                self._zone = ZoneInfo(str(name))
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise FatalSourceError(f"{name!r}, the Jira user's time zone, is unknown here; "
                                       "set time_zone") from exc
        return self._zone

    def test_connection(self) -> str:
        try:
            me = self.client.myself()
        finally:
            self.client.close()
        return f"credentials accepted; signed in as {me.get('displayName') or me.get('accountId')}"

    def sync(self, catalog: Catalog, bookmarks: Bookmarks, writer: MessageWriter) -> None:
        try:
            super().sync(catalog, bookmarks, writer)
        finally:
            self.client.close()


main = tap_main(TapJira)
