"""target-csv's settings: their schema (what ``--about`` publishes and the config is validated
against) and the one frozen object the target and its sinks read them from, built once from
the validated config. Defaults are stated once, in the schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from protocol import build_settings, setting
from targets.files.settings import COMMON_SETTINGS, FileSettings, directory

__all__ = ["OUTPUT_PATHS", "SETTINGS", "CsvSettings"]

_STRFTIME = "https://docs.python.org/3/library/datetime.html#strftime-and-strptime-format-codes"

#: the output directory's setting and its aliases, in order of precedence
OUTPUT_PATHS = ("output_path", "destination_path", "output_path_prefix")

SETTINGS: dict[str, Any] = {
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
            "minLength": 1,
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
            "minLength": 1,
            "default": "UTC",
            "description": "Time zone (tz database name) of {timestamp} and {datestamp}.",
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
            "description": "Escape character of the CSV dialect, as in Python's csv module (and the MeltanoLabs "
                           "variant): a value's own escape characters are written doubled; quotes inside "
                           "quoted fields stay doubled. Read the files back with the same escape character.",
        },
        **COMMON_SETTINGS,
    },
}


@dataclass(frozen=True)
class CsvSettings(FileSettings):
    """What target-csv reads: the shared file settings and its own."""

    DERIVED: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "output_dir": OUTPUT_PATHS,
        "overwrite": ("mode", "overwrite_behavior"),
    }

    file_naming_scheme: str
    datestamp_format: str
    timestamp_format: str
    timestamp_timezone: str
    record_sort_property_name: str | None
    escape_character: str | None

    @property
    def dialect(self) -> dict[str, Any]:
        """The csv module's writer and reader options: the Excel dialect, with the escape character."""
        options: dict[str, Any] = {"dialect": "excel"}
        if self.escape_character:
            options["escapechar"] = self.escape_character
        return options

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> CsvSettings:
        paths = [setting(SETTINGS, config, name) for name in OUTPUT_PATHS]
        mode = setting(SETTINGS, config, "mode")
        if mode is None:  # 'mode' wins; else the MeltanoLabs setting decides
            appends = setting(SETTINGS, config, "overwrite_behavior") == "append_records"
            mode = "append" if appends else "overwrite"
        return build_settings(cls, SETTINGS, config, output_dir=directory(*paths), overwrite=mode == "overwrite")
