"""tap-csv: one Singer stream per CSV file, directory or glob.

Settings are those of MeltanoLabs tap-csv plus our additions (see :mod:`taps.csv.settings`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from protocol import ConfigError, Tap, plural, tap_main
from taps.csv.client import missing_path
from taps.csv.settings import SETTINGS, CsvSettings
from taps.csv.streams import CsvStream

__all__ = ["TapCsv", "main"]


class TapCsv(Tap):
    name = "tap-csv"
    description = "Singer tap for CSV files: typed columns, incremental by key or file time, gzip."
    settings_schema: ClassVar[dict[str, Any]] = SETTINGS

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.settings = CsvSettings.from_config(self.config)
        missing = [f"files entry '{spec.entity}': {path} does not exist"
                   for spec in self.settings.files if (path := missing_path(spec)) is not None]
        if missing:
            raise ConfigError("input not found", missing)
        self._streams: list[CsvStream] | None = None

    def streams(self) -> list[CsvStream]:  # type: ignore[override]
        if self._streams is None:
            add_metadata = self.settings.add_metadata_columns
            self._streams = [CsvStream(self, spec, add_metadata=add_metadata) for spec in self.settings.files]
        return self._streams

    def test_connection(self) -> str:
        streams = self.streams()
        files = sum(stream.check() for stream in streams)
        return f"{plural(len(streams), 'stream')}, {plural(files, 'readable file')} with a header"


main = tap_main(TapCsv)
