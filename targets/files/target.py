"""The base of the file targets: where each stream's file lives, and the open files."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, ClassVar

from protocol import EXACTLY_ONCE_CAPABILITY, Committed, ConfigError, Target, TargetError
from targets.files.durable import DurableFile
from targets.files.marker import Marker, Positions

__all__ = ["COMMON_SETTINGS", "FileTarget"]

# Settings every file target adds to its drop-in settings (the base Target reads the last three).
COMMON_SETTINGS: dict[str, Any] = {
    "mode": {
        "type": "string",
        "enum": ["append", "overwrite"],
        "description": "append: add to an existing file. overwrite: replace it (the old file is truncated "
                       "when the first batch is written, so a run that fails before that leaves it untouched).",
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


class FileTarget(Target):
    """A target writing one file per stream. Subclasses define :meth:`file_path`."""

    capabilities: ClassVar[list[str]] = ["about", EXACTLY_ONCE_CAPABILITY]
    default_mode: ClassVar[str] = "append"
    exactly_once = True

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        if self.config.get("stream_maps"):
            raise ConfigError("invalid config", [f"setting 'stream_maps': not supported by {self.name}"])
        self.overwrite = self.write_mode() == "overwrite"
        self.compress = (self.config.get("compression") or "none") == "gzip"
        self._files: dict[str, tuple[DurableFile, str]] = {}
        self._marker: Marker | None = None

    def write_mode(self) -> str:
        return str(self.config.get("mode") or self.default_mode)

    def file_path(self, stream: str) -> Path:
        """Where ``stream`` is written (before the '.gz' suffix that compression adds)."""
        raise NotImplementedError

    def output_dir(self) -> Path:
        """The configured output directory (where the commit marker lives)."""
        raise NotImplementedError

    # -- exactly-once: the commit marker (targets/files/marker.py) -------------------------

    def _marker_for(self, state_id: str) -> Marker:
        return Marker(Path(os.path.abspath(self.output_dir())), state_id)

    def load_committed(self, state_id: str) -> Committed | None:
        return self._marker_for(state_id).load()

    def start_exactly_once(self) -> None:
        assert self.control is not None
        marker = self._marker = self._marker_for(self.control.state_id)
        try:
            self.previous = marker.load()
            marker.recover()
        except OSError as exc:
            raise TargetError(f"cannot roll back to the commit marker {marker.path}: {exc}") from exc
        if self.resuming:
            self.overwrite = False  # continue the files of the run that died; they were this run's

    def _positions(self, synced: bool) -> dict[str, Positions]:
        return {key: [(file.ino, file.synced if synced else file.committed)]
                for key, (file, _) in self._files.items() if file.opened}

    def _journal(self, file: DurableFile, positions: Positions) -> None:
        """A file is about to get its first bytes (or be replaced): list it in the marker."""
        assert self._marker is not None
        files = self._positions(synced=False)
        files[os.path.abspath(file.path)] = positions
        try:
            self._marker.write(self.last_commit or self.previous, files)
        except OSError as exc:
            raise TargetError(f"cannot write the commit marker {self._marker.path}: {exc}") from exc

    def commit_state(self, committed: Committed) -> None:
        """Every file is synced (the drain flushed them): the marker's rename commits."""
        assert self._marker is not None
        self._marker.write(committed, self._positions(synced=True))

    def test_connection(self) -> str:
        """--test: the directory of a stream named 'test' can be created and written to."""
        directory = self.file_path("test").parent
        try:
            directory.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=directory) as probe:
                probe.write(b"probe")
                os.fsync(probe.fileno())
        except OSError as exc:
            raise TargetError(f"cannot write to {directory}: {exc.strerror or exc}") from exc
        return f"{directory} is writable"

    def shares_files(self) -> bool:
        """Whether several streams may write to one file (target-jsonl's custom_name)."""
        return False

    def file_for(self, stream: str, *, line_based: bool = False) -> DurableFile:
        """The stream's file; streams that map to the same path share it if :meth:`shares_files`."""
        path = self.file_path(stream)
        if self.compress and path.suffix != ".gz":
            path = path.with_name(path.name + ".gz")
        key = os.path.abspath(path)
        known = self._files.get(key)
        if known is not None:
            if not self.shares_files():
                raise ConfigError(
                    f"streams '{known[1]}' and '{stream}' would both write to {path}: "
                    "give each stream its own file name"
                )
            return known[0]
        file = DurableFile(path, overwrite=self.overwrite, compress=self.compress, line_based=line_based)
        if self._marker is not None:
            file.journal = self._journal
        self._files[key] = (file, stream)
        return file
