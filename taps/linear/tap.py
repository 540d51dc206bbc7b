"""tap-linear: issues, projects, teams, users and cycles from Linear's GraphQL API.

Its settings are in :mod:`taps.linear.settings`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from protocol import Bookmarks, Catalog, MessageWriter, Tap, tap_main
from taps.linear.client import LinearClient
from taps.linear.settings import SETTINGS, LinearSettings
from taps.linear.streams import STREAM_NAMES, LinearStream

__all__ = ["TapLinear", "main"]


class TapLinear(Tap):
    name = "tap-linear"
    description = "Singer tap for Linear (GraphQL API): issues, projects, teams, users and cycles."
    settings_schema: ClassVar[dict[str, Any]] = SETTINGS

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.settings = LinearSettings.from_config(self.config)
        self.client = LinearClient(self.settings)

    def streams(self) -> list[LinearStream]:  # type: ignore[override]
        return [LinearStream(self, name) for name in STREAM_NAMES]

    def test_connection(self) -> str:
        try:
            viewer = self.client.viewer()
        finally:
            self.client.close()
        org = (viewer.get("organization") or {}).get("name")
        return f"credentials accepted for {viewer.get('email') or viewer.get('name') or 'the viewer'}" + (
            f" ({org})" if org else "")

    def sync(self, catalog: Catalog, bookmarks: Bookmarks, writer: MessageWriter) -> None:
        try:
            super().sync(catalog, bookmarks, writer)
        finally:
            self.client.close()


main = tap_main(TapLinear)
