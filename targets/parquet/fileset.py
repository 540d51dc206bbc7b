"""A stream's file sets: one directory per Parquet schema, files made visible only whole.

    <destination_path>/<stream>/v1/[<key>=<value>/...]part-<run>-<n>.parquet
                               v1/_sluice_fileset.json    the set's Arrow schema and partition keys
                               v2/...                     the next schema of the stream

Every file of one ``v<N>`` directory has the same schema, so each is one dataset for any reader.
A stream keeps writing to its newest set while its schema is the same (in later runs too); a
SCHEMA whose columns differ starts ``v<N+1>``. A set directory appears by rename, with its
descriptor inside, so a half-made set is never seen.

A file is written under a hidden temporary name in its final directory
(``.part-....parquet.tmp``: a leading dot, which pyarrow's dataset discovery skips, and not
ending in ``.parquet``, so ``*.parquet`` globs skip it too), fsynced, renamed to its name and the
directory fsynced. A run killed mid-write leaves at most a temporary file; the next run that
writes the stream removes them.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from protocol import JSONDecodeError, TargetError, dumps, loads
from targets.files import safe_name
from targets.files.durable import fsync_dir
from targets.parquet.settings import ParquetSettings

__all__ = ["DESCRIPTOR", "FileSet"]

log = logging.getLogger("sluice.target.parquet")

DESCRIPTOR = "_sluice_fileset.json"
_VERSION = re.compile(r"v([0-9]+)\Z")
_TEMP = re.compile(r"\.part-.*\.tmp\Z|\.v[0-9]+\..*\.tmp\Z")


def _mkdirs(path: Path) -> None:
    """Create ``path`` and its missing parents, each made durable in its parent."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        try:
            directory.mkdir()
        except FileExistsError:
            continue
        fsync_dir(directory.parent)


class FileSet:
    """The set a stream writes to now (chosen on the first write, from the sets on disk)."""

    def __init__(self, settings: ParquetSettings, stream: str, schema: pa.Schema, keys: list[str],
                 stamp: str, numbers: Iterator[int]) -> None:
        self.settings = settings
        self.stream = stream
        self.root = settings.output_dir / safe_name(stream)
        self.schema = schema
        self.keys = keys
        self.stamp = stamp
        self.fingerprint = hashlib.sha256(
            (schema.to_string(show_schema_metadata=False) + "\n" + "/".join(keys)).encode()).hexdigest()
        self.directory: Path | None = None
        self._numbers = numbers  # shared by the run's sinks: file names never repeat
        self.written: list[Path] = []  # files made visible by this run

    # -- choosing the set ----------------------------------------------------------------

    def _versions(self) -> list[tuple[int, Path]]:
        if not self.root.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in self.root.iterdir() if (m := _VERSION.match(p.name)) and p.is_dir()]
        return sorted(found)

    def _descriptor(self, directory: Path) -> dict[str, Any]:
        try:
            data: Any = loads((directory / DESCRIPTOR).read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, JSONDecodeError) as exc:
            raise TargetError(f"stream '{self.stream}': cannot read {directory / DESCRIPTOR}: {exc}") from exc
        return data if isinstance(data, dict) else {}

    def open(self) -> Path:
        """The set's directory: the newest one if its schema is this one, else a new one."""
        if self.directory is not None:
            return self.directory
        _mkdirs(self.root)
        self.clean()
        versions = self._versions()
        newest = self._descriptor(versions[-1][1]) if versions else {}
        owner = newest.get("stream", self.stream)
        if owner != self.stream:  # another stream's name maps to the same directory: never mix them
            raise TargetError(f"stream '{self.stream}': {self.root} holds the file sets of stream '{owner}'; "
                              "give this stream its own name (a stream map's __alias__)")
        if newest.get("fingerprint") == self.fingerprint:
            self.directory = versions[-1][1]
            return self.directory
        number = versions[-1][0] + 1 if versions else 1
        final = self.root / f"v{number}"
        temp = self.root / f".v{number}.{os.getpid()}.tmp"
        temp.mkdir()
        descriptor = {"fingerprint": self.fingerprint, "stream": self.stream, "version": number,
                      "partition_keys": self.keys, "schema": self.schema.to_string(show_schema_metadata=False),
                      "created_at": datetime.now(UTC).isoformat()}
        _write_synced(temp / DESCRIPTOR, dumps(descriptor) + b"\n")
        fsync_dir(temp)
        os.rename(temp, final)
        fsync_dir(self.root)
        log.info("stream '%s': new file set %s", self.stream, final)
        self.directory = final
        return final

    def clean(self) -> None:
        """Remove the temporary files and sets that a killed run left in this stream's directory."""
        for top, dirs, files in os.walk(self.root):
            for name in files:
                if _TEMP.match(name):
                    os.unlink(os.path.join(top, name))
                    log.warning("stream '%s': removed %s, left by an interrupted run", self.stream, name)
            for name in [d for d in dirs if _TEMP.match(d)]:
                for leftover in Path(top, name).iterdir():
                    leftover.unlink()
                os.rmdir(os.path.join(top, name))
                dirs.remove(name)

    # -- files ---------------------------------------------------------------------------

    def start(self, partition: str) -> OpenFile:
        """A new file of the set under its ``partition`` sub-path, invisible until committed."""
        directory = self.open() / partition if partition else self.open()
        _mkdirs(directory)
        name = f"part-{self.stamp}-{next(self._numbers):05d}.parquet"
        return OpenFile(self, directory / name)

    def write(self, table: pa.Table, partition: str) -> Path:
        """Write ``table`` as one file under the set's ``partition`` sub-path, visible only whole."""
        file = self.start(partition)
        try:
            file.write(table)
            return file.commit()
        finally:
            file.discard()


class OpenFile:
    """One file being written under its hidden temporary name; :meth:`commit` makes it visible."""

    def __init__(self, fileset: FileSet, path: Path) -> None:
        self.fileset = fileset
        self.path = path
        self.temp = path.with_name(f".{path.name}.tmp")
        self.rows = 0
        settings = fileset.settings
        self._writer: pq.ParquetWriter | None = pq.ParquetWriter(
            self.temp, fileset.schema, compression=settings.compression,
            compression_level=settings.compression_level)
        self._row_group = settings.row_group_rows

    def write(self, table: pa.Table) -> None:
        assert self._writer is not None
        self._writer.write_table(table, row_group_size=self._row_group)
        self.rows += table.num_rows

    def commit(self) -> Path:
        """Close, fsync, rename into place, fsync the directory: the file is visible and durable."""
        assert self._writer is not None
        self._writer.close()
        self._writer = None
        fd = os.open(self.temp, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(self.temp, self.path)
        fsync_dir(self.path.parent)
        self.fileset.written.append(self.path)
        return self.path

    def discard(self) -> None:
        """Drop the file if it was not committed (never raises: a failure is on its way)."""
        if self._writer is None:
            return
        try:
            self._writer.close()
        except (OSError, pa.ArrowException) as exc:
            log.debug("%s: %s", self.temp, exc)
        self._writer = None
        self.temp.unlink(missing_ok=True)


def _write_synced(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
