"""The settings every file target shares: their schema (merged into each file target's own) and
the frozen object the shared file-target code reads them from, built once from the validated
config (protocol/_settings.py).

Defaults are stated once, in the schema. A file target's settings class extends
:class:`FileSettings` with its own settings; fields whose value is derived from other settings
(the output directory from a setting and its aliases, ``overwrite`` from the write mode) are
listed in its ``DERIVED`` with the settings they come from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

__all__ = ["COMMON_SETTINGS", "FileSettings", "directory"]

# Settings every file target adds to its drop-in settings (the kit reads the last three itself,
# protocol/_target.py; they are declared here because these targets publish them).
COMMON_SETTINGS: dict[str, Any] = {
    "mode": {
        "type": "string",
        "enum": ["append", "overwrite"],
        "description": "append: add to an existing file. overwrite: replace it (the run's file is written "
                       "beside it and renamed over it at the first STATE, or at the end of a run without "
                       "one, so a run that fails before that leaves it untouched).",
    },
    "compression": {
        "type": "string",
        "enum": ["none", "gzip"],
        "default": "none",
        "description": "gzip writes '.gz' files; every committed batch is one complete gzip member.",
    },
    "batch_size_rows": {
        "type": "integer",
        "minimum": 1,
        "default": 100000,
        "description": "Records per stream between durable commits (fsync) when no STATE asks for one sooner.",
    },
    "validate_records": {
        "type": "boolean",
        "default": True,
        "description": "Check every record against its stream's schema; a bad record stops the run with "
                       "one error line naming the line, the stream and the field.",
    },
    "state_flush_seconds": {
        "type": "number",
        "minimum": 0,
        "default": 1.0,
        "description": "A STATE is held at most this long before the files are synced and it is emitted.",
    },
}


def directory(*paths: str | None) -> Path:
    """The output directory: the first of ``paths`` (a setting and its aliases) that is set and not
    empty; the current directory when none is. ``~`` is expanded."""
    return Path(next((p for p in paths if p), ".")).expanduser()


@dataclass(frozen=True)
class FileSettings:
    """The settings the shared file-target code (targets/files/) reads. ``batch_size_rows``,
    ``validate_records``, ``state_flush_seconds`` and ``fast_path`` are the kit's to read."""

    #: fields derived from other settings: field -> the settings its value comes from
    DERIVED: ClassVar[Mapping[str, tuple[str, ...]]] = {}

    output_dir: Path  # where the files (and the commit marker) go
    overwrite: bool   # mode 'overwrite': each file is replaced, else appended to
    compression: str
    validate_records: bool  # the kit validates records itself; a sink that renders values reads it too

    @property
    def compress(self) -> bool:
        return self.compression == "gzip"
