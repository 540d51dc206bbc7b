"""The commit marker of the file targets: which bytes of which files a STATE covers.

Under `sluice` (exactly-once, see protocol/_exactly_once.py) a file target keeps one marker
per state id in its output directory, ``.sluice-state-<state id>-<hash>.json``::

    {"state_id": ..., "generation": 3, "sequence": 41, "complete": false,
     "value": {...the STATE value...},
     "files": {"/abs/path/users.jsonl": [[inode, size], ...], ...}}

It is replaced atomically (temporary file, fsync, rename, fsync of the directory) after
every file was synced, so the marker always names committed bytes: the first ``size``
bytes of the file with that inode. A commit is the marker's rename. On the next start
under sluice every listed file is truncated back to its size, which removes whatever a
killed run wrote after its last commit. A file has two candidates only while target-csv
replaces it with a rewritten copy (a wider header): the inode on disk says which one holds.

A file the marker does not list is entered (with its size at that moment) before the
first byte is written to it, so a run killed before its first commit is undone too.

An ``overwrite`` run writes a new file beside the old one (targets/files/durable.py) and commits
it with the marker, which then also names the rename still to be done (``"renames": {file: staged
file}``); the rename follows. A run killed between the two leaves the staged file: the next
start renames it (when its inode is the one listed), completing what the marker committed.

Two pipelines (two state ids) may append to one file in turn: a roll-back never cuts a file
below what another state id's marker committed in it. Bytes a killed run wrote before another
pipeline's commit are then kept (the records after its last STATE come again: at least once,
for that one pipeline); what another pipeline committed is never removed.
"""

from __future__ import annotations

import glob
import hashlib
import logging
import os
import re
from pathlib import Path
from typing import Any

from protocol import Committed, JSONDecodeError, TargetError, dumps, loads
from targets.files.durable import fsync_dir
from targets.files.writelock import lock_for_writing

__all__ = ["Marker", "Positions"]

log = logging.getLogger("sluice.files")

#: (inode, committed size) candidates of one file
Positions = list[tuple[int, int]]


def marker_name(state_id: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", state_id)[:80]
    digest = hashlib.blake2b(state_id.encode(), digest_size=4).hexdigest()
    return f".sluice-state-{safe}-{digest}.json"


class Marker:
    """One state id's marker file; holds the last written content in memory."""

    def __init__(self, directory: Path, state_id: str) -> None:
        self.directory = directory
        self.state_id = state_id
        self.path = directory / marker_name(state_id)
        self.committed: Committed | None = None
        self.files: dict[str, Positions] = {}
        self.renames: dict[str, str] = {}  # file -> its staged replacement, committed but maybe not renamed

    def load(self) -> Committed | None:
        """Read the marker (None if there is none)."""
        try:
            data: Any = loads(self.path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, JSONDecodeError) as exc:
            raise TargetError(f"cannot read the commit marker {self.path}: {exc}") from exc
        try:
            self.committed = Committed.from_dict(data)
            self.files = {str(k): [(int(i), int(n)) for i, n in v] for k, v in (data.get("files") or {}).items()}
            self.renames = {str(k): str(v) for k, v in (data.get("renames") or {}).items()}
        except (KeyError, TypeError, ValueError) as exc:
            raise TargetError(f"the commit marker {self.path} is malformed: {exc}") from exc
        return self.committed

    def recover(self) -> None:
        """Truncate every listed file back to its committed size, never below what another state
        id's marker committed in it (two pipelines appending to one file in turn: each one's
        commits are the other's to keep); drop unfinished markers."""
        for name, staged in self.renames.items():
            _complete_rename(Path(staged), Path(name), self.files.get(name, []))
        others = self._committed_by_others()
        for name, positions in self.files.items():
            _truncate_back(Path(name), positions, others.get(name, {}))
        for stale in self.directory.glob(f"{glob.escape(self.path.name)}.*.tmp"):
            stale.unlink(missing_ok=True)  # a marker write killed before its rename: never committed

    def _committed_by_others(self) -> dict[str, dict[int, int]]:
        """{file: {inode: the largest size committed}} in the other markers of the directory."""
        found: dict[str, dict[int, int]] = {}
        for other in self.directory.glob(".sluice-state-*.json"):
            if other == self.path:
                continue
            try:
                files = loads(other.read_bytes()).get("files") or {}
                listed = [(str(k), int(i), int(n)) for k, v in files.items() for i, n in v]
            except (OSError, JSONDecodeError, AttributeError, TypeError, ValueError) as exc:
                raise TargetError(f"cannot read the commit marker {other} (another pipeline's, which the "
                                  f"roll-back must respect): {exc}") from exc
            for name, inode, size in listed:
                sizes = found.setdefault(name, {})
                sizes[inode] = max(size, sizes.get(inode, 0))
        return found

    def write(self, committed: Committed | None, files: dict[str, Positions],
              renames: dict[str, str] | None = None) -> None:
        """Replace the marker atomically and durably. ``renames``: staged files (overwrite) that
        replace the files named, committed by this write and renamed after it."""
        base = committed or Committed(0, 0, True, None)
        data: dict[str, Any] = {"state_id": self.state_id, "generation": base.generation, "sequence": base.sequence,
                                "complete": base.complete, "value": base.value,
                                "files": {k: [list(p) for p in v] for k, v in files.items()}}
        if renames:
            data["renames"] = renames
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            os.write(fd, dumps(data) + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        fsync_dir(self.directory)
        self.committed = committed
        self.files = {k: list(v) for k, v in files.items()}
        self.renames = dict(renames or {})


def _complete_rename(staged: Path, path: Path, positions: Positions) -> None:
    """A committed overwrite whose rename a killed run did not do: done now (if ``staged`` is still
    the file the marker committed)."""
    try:
        inode = staged.stat().st_ino
    except FileNotFoundError:
        return  # renamed before the run ended
    if inode not in {ino for ino, _ in positions}:
        return
    os.replace(staged, path)
    fsync_dir(path.parent)
    log.warning("%s: replaced by its committed new content %s, which an interrupted run had not yet renamed",
                path, staged.name)


def _truncate_back(path: Path, positions: Positions, others: dict[int, int]) -> None:
    """Cut ``path`` back to its committed size, or to what another marker committed (``others``:
    {inode: size}) when that is more. Under the file's write lock (targets/files/writelock.py): a
    run writing it now would have its rows cut while it still counts them as written."""
    try:
        fd = os.open(path, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return
    lock_for_writing(fd, path)
    try:
        st = os.fstat(fd)
        size = _committed_size(path, st, positions, others)
        if size is None or st.st_size == size:
            return
        os.ftruncate(fd, size)
        os.fsync(fd)
    finally:
        os.close(fd)
    log.warning("%s: removed %d bytes written after the last commit by an interrupted run", path, st.st_size - size)


def _committed_size(path: Path, st: os.stat_result, positions: Positions, others: dict[int, int]) -> int | None:
    """The size ``path`` is cut back to, or None when it is to be left as it is."""
    sizes = [size for ino, size in positions if ino == st.st_ino]
    if not sizes:
        log.warning("%s was replaced outside sluice since its last commit; left as it is", path)
        return None
    size = sizes[-1]
    if others.get(st.st_ino, 0) > size and st.st_size > size:
        size = min(others[st.st_ino], st.st_size)
        log.info("%s: another pipeline committed %d bytes of it after this one's last commit: kept", path,
                 size - sizes[-1])
    if st.st_size < size:
        log.warning("%s is shorter (%d bytes) than its last commit (%d bytes): changed outside sluice",
                    path, st.st_size, size)
        return None
    return size
