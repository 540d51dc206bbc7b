"""target-jsonl: one JSON Lines file per stream, durable before every STATE it emits.

Drop-in for the andyh1203 variant (Meltano Hub's default): ``destination_path``,
``do_timestamp_file`` and ``custom_name`` keep their meaning; the file of a stream is
``<destination_path>/<custom_name or stream>[-<YYYYmmddTHHMMSS>].jsonl``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from protocol import target_main
from targets.files import FileTarget, safe_name
from targets.files.naming import run_time
from targets.files.target import COMMON_SETTINGS
from targets.jsonl.sink import JsonlSink

__all__ = ["TargetJsonl", "main"]


class TargetJsonl(FileTarget):
    name = "target-jsonl"
    description = "Writes each stream's records to a JSON Lines file, synced to disk before every STATE."
    sink_class = JsonlSink
    default_mode = "append"
    settings_schema: ClassVar[dict[str, Any]] = {
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

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self._stamp = "-" + run_time().strftime("%Y%m%dT%H%M%S") if self.config.get("do_timestamp_file") else ""

    def shares_files(self) -> bool:
        return bool(self.config.get("custom_name"))  # every stream to one file, as andyh1203's target does

    def output_dir(self) -> Path:
        return Path(self.config.get("destination_path") or ".").expanduser()

    def file_path(self, stream: str) -> Path:
        base = safe_name(self.config.get("custom_name") or stream)
        return self.output_dir() / f"{base}{self._stamp}.jsonl"


main = target_main(TargetJsonl)
