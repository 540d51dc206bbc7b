"""tap-rest: any JSON REST API, described entirely in the config file.

Each ``streams`` entry names a path, where the records are in the response (a JSONPath),
the primary keys, the replication key and the query parameter that carries its bookmark,
the pagination style, and a schema (given, or inferred from a sample). Auth and the
top-level ``params``/``headers``/``pagination`` apply to every stream. Setting names follow
tap-rest-api-msdk where it has them; they are in :mod:`taps.rest.settings`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from protocol import Bookmarks, Catalog, MessageWriter, Tap, plural, tap_main
from taps.rest.client import RestClient
from taps.rest.settings import SETTINGS, RestSettings
from taps.rest.streams import RestStream

__all__ = ["TapRest", "main"]


class TapRest(Tap):
    name = "tap-rest"
    description = "Singer tap for any JSON REST API: paths, records, keys, pagination and auth from config."
    settings_schema: ClassVar[dict[str, Any]] = SETTINGS

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.settings = RestSettings.from_config(self.config)
        self.client = RestClient(self.settings)
        self._streams: list[RestStream] | None = None

    def streams(self) -> list[RestStream]:  # type: ignore[override]
        if self._streams is None:
            self._streams = [RestStream(self, spec) for spec in self.settings.streams]
        return self._streams

    def test_connection(self) -> str:
        stream = self.streams()[0]
        try:
            records = next(stream.pages(dict(stream.spec.params)), [])
        finally:
            self.client.close()
        return f"'{stream.name}' answered with {plural(len(records), 'record')}"

    def sync(self, catalog: Catalog, bookmarks: Bookmarks, writer: MessageWriter) -> None:
        try:
            super().sync(catalog, bookmarks, writer)
        finally:
            self.client.close()


main = tap_main(TapRest)
