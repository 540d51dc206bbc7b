"""A file that grows by appends, is made durable on demand, and rolls back on failure.

The contract with the target's drain (see protocol/_target.py):

    write(data)    append bytes (compressed on the fly when gzip); not yet durable
    sync()         everything written is on disk (gzip: the open member is ended; fsync)
    checkpoint()   a STATE covering everything synced is about to be emitted: the
                   rollback point moves to the current end of the file
    abort()        after a failure: truncate back to the rollback point

So after a failure the file holds exactly what the last emitted STATE covers: nothing
before it is lost, nothing after it remains.

Gzip: each sync ends a complete gzip member, and concatenated members are one valid gzip
file (RFC 1952), so the rollback point always sits on a member boundary and truncating
there leaves a file every gzip reader accepts.

The file is opened lazily, on the first write. An ``overwrite`` file is written as a new file
beside the old one (``.<name>.<pid>.overwrite``, *staged*) that replaces it by a rename at the
first checkpoint (or at :meth:`close`, for a run without STATE): until then the previous file is
untouched, so a run that fails before its first STATE leaves it as it was, and :meth:`abort`
removes the staged file. A staged file a killed run left behind is removed by the next open.

Exactly-once (targets/files/marker.py): ``journal(file, [(inode, size), ...])`` is called
before the first byte is appended and before a rewritten copy replaces the file, so the commit
marker names the file's committed bytes at all times. A staged file is not journaled: the target
commits it with its rename (the marker first, then :meth:`install`; see FileTarget.commit_state).
"""

from __future__ import annotations

import gzip
import io
import logging
import os
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from glob import escape as glob_escape
from pathlib import Path
from typing import IO

from targets.files.writelock import lock_for_writing

__all__ = ["DurableFile", "fsync_dir", "staged_path"]

log = logging.getLogger("sluice.files")

GZIP_LEVEL = 6
_OPEN_FLAGS = os.O_RDWR | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
_datasync = getattr(os, "fdatasync", os.fsync)

# transform(part, first) -> the new bytes for one part of the old content (uncompressed).
Transform = Callable[[IO[bytes], bool], Iterable[bytes]]
# journal(file, [(inode, committed size), ...]): where the committed bytes of the file are
Journal = Callable[["DurableFile", list[tuple[int, int]]], None]


def fsync_dir(path: Path) -> None:
    """Make a directory entry (a new or renamed file) durable."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# a file of one process's beside ``path``: ``.<name>.<pid>.overwrite`` (an overwrite run's new file
# until its first checkpoint), ``.<name>.<pid>.rewrite`` (target-csv's wider copy until its rename)
_STAGED, _REWRITE = ".overwrite", ".rewrite"


def _scratch(path: Path, suffix: str, pid: int | None = None) -> Path:
    return path.with_name(f".{path.name}.{os.getpid() if pid is None else pid}{suffix}")


def staged_path(path: Path, pid: int | None = None) -> Path:
    """Where an ``overwrite`` run writes ``path``'s new content until its first checkpoint."""
    return _scratch(path, _STAGED, pid)


def _remove_stale(path: Path) -> None:
    """Files of ``path`` that runs no longer alive left behind: the staged file of an overwrite run
    killed before its first STATE, the copy of a rewrite (target-csv's wider header) killed before
    its rename."""
    for suffix in (_STAGED, _REWRITE):
        for stale in path.parent.glob(f".{glob_escape(path.name)}.*{suffix}"):
            pid = stale.name[len(path.name) + 2:-len(suffix)]
            if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
                stale.unlink(missing_ok=True)
                log.info("%s: removed %s, left by an interrupted run", path, stale.name)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


class _Window(io.RawIOBase):
    """Read-only view of bytes [start, end) of an open file descriptor."""

    def __init__(self, fd: int, start: int, end: int) -> None:
        super().__init__()
        self._fd = fd
        self._pos = start
        self._end = end

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        want = min(len(buffer), self._end - self._pos)
        if want <= 0:
            return 0
        data = os.pread(self._fd, want, self._pos)
        n = len(data)
        buffer[:n] = data
        self._pos += n
        return n


class DurableFile:
    """One output file. Not thread-safe; shared by the sinks that write to the same path."""

    def __init__(self, path: Path, *, overwrite: bool = False, compress: bool = False,
                 line_based: bool = False) -> None:
        self.path = path
        self.overwrite = overwrite
        self.compress = compress
        self.line_based = line_based  # plain files of whole lines: a torn last line is cut on open
        self._fd: int | None = None
        self._z: zlib._Compress | None = None
        self.size = 0        # bytes on disk (the end of the file)
        self.synced = 0      # size at the last sync
        self.committed = 0   # the rollback point: size at the last checkpoint (or at open)
        self.ino = 0         # the inode of the open file
        self.journal: Journal | None = None
        self._staged: Path | None = None  # overwrite: the new file until it replaces ``path``

    # -- state -----------------------------------------------------------------------

    @property
    def opened(self) -> bool:
        return self._fd is not None

    @property
    def staged(self) -> Path | None:
        """The staged file of an ``overwrite`` run not yet installed (None: the writes go to ``path``)."""
        return self._staged

    def existing_size(self) -> int:
        """Size of the file on disk before this run wrote to it (0 when absent)."""
        if self._fd is not None:
            return self.committed
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    @contextmanager
    def read_existing(self) -> Iterator[IO[bytes]]:
        """The content already on disk, decompressed. For a header check before writing."""
        fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            with self._part(fd, 0, os.fstat(fd).st_size) as part:
                yield part
        finally:
            os.close(fd)

    # -- the write path --------------------------------------------------------------

    def open(self) -> None:
        if self._fd is not None:
            return
        parent = self.path.parent
        parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(self.path)
        if self.overwrite:
            self._open_staged()
            return
        created = not self.path.exists()
        fd = os.open(self.path, _OPEN_FLAGS, 0o666)
        lock_for_writing(fd, self.path)  # one writer at a time (targets/files/writelock.py)
        try:
            size = os.lseek(fd, 0, os.SEEK_END)
            if size and self.line_based and not self.compress:
                size = self._cut_torn_line(fd, size)
            if created:
                fsync_dir(parent)
            self.ino = os.fstat(fd).st_ino
            if self.journal is not None:
                self.journal(self, [(self.ino, size)])
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        self.size = self.synced = self.committed = size
        log.info("writing to %s (append)", self.path)

    def _open_staged(self) -> None:
        staged = staged_path(self.path)
        fd = os.open(staged, _OPEN_FLAGS | os.O_TRUNC, 0o666)
        lock_for_writing(fd, staged)
        self._fd, self._staged = fd, staged
        self.ino = os.fstat(fd).st_ino
        self.size = self.synced = self.committed = 0
        log.info("writing to %s (overwrite: it replaces the file at the first STATE)", staged)

    def install(self) -> None:
        """Overwrite: the staged file (synced) replaces ``path``; later writes append to it."""
        staged = self._staged
        if staged is None:
            return
        self.sync()
        os.replace(staged, self.path)
        fsync_dir(self.path.parent)
        self._staged = None
        log.info("%s replaced by this run's file", self.path)

    def _cut_torn_line(self, fd: int, size: int) -> int:
        """A run killed mid-write (SIGKILL, power loss) can leave a partial last line; no
        STATE ever covered it (STATEs follow whole synced batches), so it is cut off."""
        pos = size
        while pos > 0:
            start = max(0, pos - 65536)
            chunk = os.pread(fd, pos - start, start)
            if pos == size and chunk.endswith(b"\n"):
                return size
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                keep = start + newline + 1
                break
            pos = start
        else:
            keep = 0
        os.ftruncate(fd, keep)
        os.fsync(fd)
        log.warning("%s: cut %d bytes of a partial last line left by an interrupted run", self.path, size - keep)
        return keep

    def write(self, data: bytes) -> None:
        if self._fd is None:
            self.open()
        if self.compress:
            if self._z is None:
                self._z = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
            data = self._z.compress(data)
        if data:
            self._write_all(data)

    def _write_all(self, data: bytes) -> None:
        fd = self._fd
        assert fd is not None
        view = memoryview(data)
        total = len(view)
        done = 0
        while done < total:
            done += os.write(fd, view[done:])
        self.size += total

    def _end_member(self) -> None:
        if self._z is not None:
            tail = self._z.flush(zlib.Z_FINISH)
            self._z = None
            self._write_all(tail)

    def sync(self) -> None:
        """Make everything written durable (ends the open gzip member)."""
        if self._fd is None:
            return
        self._end_member()
        if self.size != self.synced:
            _datasync(self._fd)  # data and the file size; not the mtime
            self.synced = self.size

    def checkpoint(self) -> None:
        """A STATE covering everything synced is about to be emitted (a staged file replaces the old one)."""
        if self._fd is not None:
            self.install()
            self.committed = self.synced

    def abort(self) -> None:
        """Truncate back to the last checkpoint and close the file (its write lock goes with it: a
        write after this opens it again). Never raises: a failure is already on its way."""
        if self._fd is None:
            return
        self._z = None
        if self._staged is not None:  # never installed: the previous file stays as it was
            self._drop_staged()
            return
        try:
            if self.size != self.committed:
                os.ftruncate(self._fd, self.committed)
                os.fsync(self._fd)
                log.info("%s: rolled back %d bytes written after the last STATE", self.path,
                         self.size - self.committed)
            self.size = self.synced = self.committed
        except OSError as exc:
            log.error("%s: could not roll back to %d bytes: %s", self.path, self.committed, exc)
        finally:
            os.close(self._fd)
            self._fd = None

    def _drop_staged(self) -> None:
        assert self._fd is not None and self._staged is not None
        os.close(self._fd)
        self._fd = None
        try:
            self._staged.unlink(missing_ok=True)
        except OSError as exc:
            log.error("%s: could not remove %s: %s", self.path, self._staged, exc)
        else:
            log.info("%s: left as it was; this run's file %s removed (no STATE covered it)", self.path,
                     self._staged.name)
        self._staged = None
        self.size = self.synced = self.committed = 0

    def close(self) -> None:
        """The run ended well: everything written is durable (a staged file replaces the old one)."""
        if self._fd is None:
            return
        try:
            self.sync()
            self.install()
        finally:
            os.close(self._fd)
            self._fd = None

    # -- rewriting (a CSV header that widens) -----------------------------------------

    def rewrite(self, transform: Transform) -> None:
        """Replace the content through ``transform``, atomically, keeping the rollback point.

        The old content is handed over in two parts: up to the rollback point
        (``first=True``) and after it. The new file is written to a temporary file, synced
        and renamed over the old one; the rollback point moves to the end of the first
        part's output, so :meth:`abort` still removes exactly what came after the last STATE.
        """
        if self._fd is None:
            self.open()
        self._end_member()
        live = self._staged or self.path
        tmp = _scratch(self.path, _REWRITE)
        tmp.unlink(missing_ok=True)  # a scratch file of this process's: appended to from empty
        new = DurableFile(tmp, compress=self.compress)
        done = False
        new_committed = 0
        try:
            src = os.open(live, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            try:
                for first, start, end in ((True, 0, self.committed), (False, self.committed, self.size)):
                    with self._part(src, start, end) as part:
                        for chunk in transform(part, first):
                            new.write(chunk)
                    new.open()
                    new._end_member()
                    if first:
                        new_committed = new.size
            finally:
                os.close(src)
            new.sync()
            new_ino = os.fstat(new._fd).st_ino  # type: ignore[arg-type]
            if self.journal is not None and self._staged is None:  # a staged file is in no marker yet
                self.journal(self, [(self.ino, self.committed), (new_ino, new_committed)])
            os.replace(tmp, live)
            self.ino = new_ino
            fsync_dir(self.path.parent)
            done = True
        finally:
            if not done:
                new.abort()
                if new._fd is not None:
                    os.close(new._fd)
                    new._fd = None
                tmp.unlink(missing_ok=True)
        assert new._fd is not None
        os.close(self._fd)  # type: ignore[arg-type]
        self._fd, new._fd = new._fd, None
        self.size = self.synced = new.size
        self.committed = new_committed

    @contextmanager
    def _part(self, fd: int, start: int, end: int) -> Iterator[IO[bytes]]:
        with io.BufferedReader(_Window(fd, start, end), buffer_size=1 << 20) as raw:
            if not self.compress:
                yield raw
                return
            with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
                yield unzipped  # type: ignore[misc]
