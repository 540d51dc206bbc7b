"""target-jsonl's settings: their schema (what ``--about`` publishes and the config is validated
against) and the one frozen object the target reads them from, built once from the validated
config. Defaults are stated once, in the schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from protocol import build_settings, setting
from targets.files.settings import COMMON_SETTINGS, FileSettings, directory

__all__ = ["SETTINGS", "JsonlSettings"]

SETTINGS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "destination_path": {
            "type": "string",
            "default": "",
            "description": "Directory of the output files, created if missing. Empty: the current directory.",
        },
        "do_timestamp_file": {
            "type": "boolean",
            "default": False,
            "description": "Add the run's local time to each file name: <stream>-YYYYmmddTHHMMSS.jsonl.",
        },
        "custom_name": {
            "type": "string",
            "description": "File name (without .jsonl) used instead of the stream name; with several "
                           "streams, all of them go to this one file.",
        },
        **COMMON_SETTINGS,
        "mode": {**COMMON_SETTINGS["mode"], "default": "append"},
    },
}


@dataclass(frozen=True)
class JsonlSettings(FileSettings):
    """What target-jsonl reads: the shared file settings and its own."""

    DERIVED: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "output_dir": ("destination_path",),
        "overwrite": ("mode",),
    }

    do_timestamp_file: bool
    custom_name: str | None  # unset or empty: each stream's own name

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> JsonlSettings:
        return build_settings(cls, SETTINGS, config,
                              output_dir=directory(setting(SETTINGS, config, "destination_path")),
                              overwrite=setting(SETTINGS, config, "mode") == "overwrite")
