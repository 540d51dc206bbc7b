"""The base of the file targets: where each stream's file lives, and the open files."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, ClassVar

from protocol import EXACTLY_ONCE_CAPABILITY, Committed, ConfigError, SchemaMessage, Target, TargetError
from targets.files.durable import DurableFile
from targets.files.marker import Marker, Positions
from targets.files.settings import FileSettings
from targets.files.sink import FileSink

__all__ = ["FileTarget"]


class FileTarget(Target):
    """A target writing one file per stream. Subclasses define :meth:`read_settings`,
    :meth:`make_sink` (handing the sink the settings) and :meth:`file_path`."""

    capabilities: ClassVar[list[str]] = ["about", "stream-maps", "schema-flattening", EXACTLY_ONCE_CAPABILITY]
    sink_class: ClassVar[type[FileSink]]
    exactly_once = True
    settings: FileSettings

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.settings = self.read_settings()
        self.overwrite = self.settings.overwrite  # false when resuming a run that died (start_exactly_once)
        self._files: dict[str, tuple[DurableFile, str]] = {}
        self._marker: Marker | None = None

    def read_settings(self) -> FileSettings:
        """The target's settings, built once from the validated config."""
        raise NotImplementedError

    def file_path(self, stream: str) -> Path:
        """Where ``stream`` is written (before the '.gz' suffix that compression adds)."""
        raise NotImplementedError

    # -- exactly-once: the commit marker (targets/files/marker.py) -------------------------

    def _marker_for(self, state_id: str) -> Marker:
        return Marker(Path(os.path.abspath(self.settings.output_dir)), state_id)

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
        """Each open file's committed bytes (``synced``: the bytes about to be); a staged file (an
        overwrite not yet installed) only when it is about to be committed."""
        return {key: [(file.ino, file.synced if synced else file.committed)]
                for key, (file, _) in self._files.items() if file.opened and (synced or file.staged is None)}

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
        """Every file is synced (the drain flushed them): the marker's rename commits. A staged file
        (overwrite) replaces its file after that: the marker names the rename, which the next start
        completes if this run dies before it does (Marker.recover)."""
        assert self._marker is not None
        staged = [file for file, _ in self._files.values() if file.staged is not None]
        self._marker.write(committed, self._positions(synced=True),
                           renames={os.path.abspath(f.path): str(f.staged) for f in staged})
        for file in staged:
            file.install()

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

    def loader_for(self, schema: SchemaMessage) -> DurableFile:
        """A file sink's loader: its stream's file."""
        return self.file_for(schema.stream, line_based=self.sink_class.line_based)

    def file_for(self, stream: str, *, line_based: bool = False) -> DurableFile:
        """The stream's file; streams that map to the same path share it if :meth:`shares_files`."""
        path = self.file_path(stream)
        compress = self.settings.compress
        if compress and path.suffix != ".gz":
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
        file = DurableFile(path, overwrite=self.overwrite, compress=compress, line_based=line_based)
        if self._marker is not None:
            file.journal = self._journal
        self._files[key] = (file, stream)
        return file
