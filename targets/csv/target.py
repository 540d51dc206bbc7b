"""target-csv: one CSV file per stream, durable before every STATE it emits.

Drop-in for the MeltanoLabs variant (Meltano Hub's default): ``output_path`` (or its aliases
``destination_path`` and the deprecated ``output_path_prefix``), ``file_naming_scheme`` with
``{stream_name}``, ``{datestamp}`` and ``{timestamp}``, their formats and time zone,
``overwrite_behavior``, ``record_sort_property_name`` and ``escape_character`` keep their
meaning. Files use the Excel dialect (comma, minimal quoting, CRLF), UTF-8. The settings are
declared, and read into one frozen object, in targets/csv/settings.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from protocol import target_main
from targets.csv.settings import SETTINGS, CsvSettings
from targets.csv.sink import CsvSink
from targets.files import FileTarget, safe_name
from targets.files.naming import run_time

__all__ = ["TargetCsv", "main"]


class TargetCsv(FileTarget):
    name = "target-csv"
    description = "Writes each stream's records to a CSV file, synced to disk before every STATE."
    sink_class = CsvSink
    settings_schema: ClassVar[dict[str, Any]] = SETTINGS
    settings: CsvSettings

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        started = run_time(self.settings.timestamp_timezone)
        self._substitutions = {
            "{datestamp}": started.strftime(self.settings.datestamp_format),
            "{timestamp}": started.strftime(self.settings.timestamp_format),
        }

    def read_settings(self) -> CsvSettings:
        return CsvSettings.from_config(self.config)

    def file_path(self, stream: str) -> Path:
        name = self.settings.file_naming_scheme.replace("{stream_name}", safe_name(stream))
        for key, value in self._substitutions.items():
            name = name.replace(key, value)
        return self.settings.output_dir / name


main = target_main(TargetCsv)
