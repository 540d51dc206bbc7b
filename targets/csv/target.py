"""target-csv: one CSV file per stream, durable before every STATE it emits.

Drop-in for the MeltanoLabs variant (Meltano Hub's default): ``output_path`` (or its aliases
``destination_path`` and the deprecated ``output_path_prefix``), ``file_naming_scheme`` with
``{stream_name}``, ``{datestamp}`` and ``{timestamp}``, their formats and time zone,
``overwrite_behavior``, ``record_sort_property_name`` and ``escape_character`` keep their
meaning. Files use the Excel dialect (comma, minimal quoting, CRLF), UTF-8.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from protocol import target_main
from targets.csv.sink import CsvSink, CsvSinkSettings
from targets.files import FileTarget, safe_name
from targets.files.naming import run_time
from targets.files.target import COMMON_SETTINGS

__all__ = ["TargetCsv", "main"]

_STRFTIME = "https://docs.python.org/3/library/datetime.html#strftime-and-strptime-format-codes"


class TargetCsv(FileTarget):
    name = "target-csv"
    description = "Writes each stream's records to a CSV file, synced to disk before every STATE."
    sink_class = CsvSink
    default_mode = "overwrite"
    settings_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "output_path": {
                "type": "string",
                "description": "Directory of the output files, created if missing. Default: the current directory.",
            },
            "destination_path": {
                "type": "string",
                "description": "Alias of output_path (the hotgluexyz variant's name).",
            },
            "output_path_prefix": {
                "type": "string",
                "description": "DEPRECATED alias of output_path.",
            },
            "file_naming_scheme": {
                "type": "string",
                "default": "{stream_name}.csv",
                "description": "File name of each stream, with the substitutions {stream_name}, {datestamp} "
                               "and {timestamp}. May contain '/' for sub-directories.",
            },
            "datestamp_format": {
                "type": "string",
                "default": "%Y-%m-%d",
                "description": f"strftime format of {{datestamp}} ({_STRFTIME}).",
            },
            "timestamp_format": {
                "type": "string",
                "default": "%Y-%m-%d.T%H%M%S",
                "description": f"strftime format of {{timestamp}} ({_STRFTIME}).",
            },
            "timestamp_timezone": {
                "type": "string",
                "default": "UTC",
                "description": "Time zone (tz database name) of {timestamp} and {datestamp}.",
            },
            "stream_maps": {
                "type": "object",
                "description": "Accepted for compatibility; stream maps are not supported (a non-empty value is "
                               "refused).",
            },
            "record_sort_property_name": {
                "type": "string",
                "description": "Sort the records of each batch by this property (streams without it are not "
                               "sorted). Batches are batch_size_rows records or what lies between two STATEs.",
            },
            "overwrite_behavior": {
                "type": "string",
                "enum": ["append_records", "replace_file"],
                "default": "replace_file",
                "description": "replace_file: replace an existing file; append_records: add to it. "
                               "The setting 'mode' wins when both are given.",
            },
            "escape_character": {
                "type": "string",
                "minLength": 1,
                "maxLength": 1,
                "description": "Character escaping the quote character inside quoted fields.",
            },
            **COMMON_SETTINGS,
        },
    }

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        started = run_time(self.config.get("timestamp_timezone") or "UTC")
        self._substitutions = {
            "{datestamp}": started.strftime(self.config.get("datestamp_format") or "%Y-%m-%d"),
            "{timestamp}": started.strftime(self.config.get("timestamp_format") or "%Y-%m-%d.T%H%M%S"),
        }
        csv_options: dict[str, Any] = {"dialect": "excel"}
        if self.config.get("escape_character"):
            csv_options["escapechar"] = self.config["escape_character"]
        self.settings = CsvSinkSettings(csv_options, self.validate_records,
                                        self.config.get("record_sort_property_name") or None)

    def write_mode(self) -> str:
        if self.config.get("mode"):
            return str(self.config["mode"])
        return "append" if self.config.get("overwrite_behavior") == "append_records" else "overwrite"

    def output_dir(self) -> Path:
        return Path(self.config.get("output_path") or self.config.get("destination_path")
                    or self.config.get("output_path_prefix") or ".").expanduser()

    def file_path(self, stream: str) -> Path:
        name = str(self.config.get("file_naming_scheme") or "{stream_name}.csv")
        name = name.replace("{stream_name}", safe_name(stream))
        for key, value in self._substitutions.items():
            name = name.replace(key, value)
        return self.output_dir() / name


main = target_main(TargetCsv)
