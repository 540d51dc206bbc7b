"""target-jsonl: one JSON Lines file per stream, durable before every STATE it emits.

Drop-in for the andyh1203 variant (Meltano Hub's default): ``destination_path``,
``do_timestamp_file`` and ``custom_name`` keep their meaning; the file of a stream is
``<destination_path>/<custom_name or stream>[-<YYYYmmddTHHMMSS>].jsonl``. The settings are
declared, and read into one frozen object, in targets/jsonl/settings.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from protocol import target_main
from targets.files import FileTarget, safe_name
from targets.files.naming import run_time
from targets.jsonl.settings import SETTINGS, JsonlSettings
from targets.jsonl.sink import JsonlSink

__all__ = ["TargetJsonl", "main"]


class TargetJsonl(FileTarget):
    name = "target-jsonl"
    description = "Writes each stream's records to a JSON Lines file, synced to disk before every STATE."
    sink_class = JsonlSink
    settings_schema: ClassVar[dict[str, Any]] = SETTINGS
    settings: JsonlSettings

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self._stamp = "-" + run_time().strftime("%Y%m%dT%H%M%S") if self.settings.do_timestamp_file else ""

    def read_settings(self) -> JsonlSettings:
        return JsonlSettings.from_config(self.config)

    def shares_files(self) -> bool:
        return bool(self.settings.custom_name)  # every stream to one file, as andyh1203's target does

    def file_path(self, stream: str) -> Path:
        base = safe_name(self.settings.custom_name or stream)
        return self.settings.output_dir / f"{base}{self._stamp}.jsonl"


main = target_main(TargetJsonl)
