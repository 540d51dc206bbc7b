"""The embedded state store: one SQLite file, plus one flock()ed lock file per pipeline.

The lock is ``fcntl.flock`` on ``locks/<pipeline>.lock`` next to the database. The kernel
drops it when the holding process dies, however it dies (kill -9 included), so a dead
runner never blocks a pipeline. The lock file is never deleted (deleting would race); it holds
its last holder as JSON (:class:`LockInfo`), and ``/proc/locks`` says whether it is held now.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
import re
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from protocol import SQLITE_BUSY_SECONDS, JSONDecodeError, dumps, enter_wal, loads
from runner.digests import blake2b
from runner.stores.base import (
    LockInfo,
    PipelineLock,
    ProgressWriter,
    SQLStore,
    StartedRun,
    StoreError,
    abandoned_error,
    host_name,
)
from runner.stores.dashboard import ProgressRow, progress_upsert

__all__ = ["SQLiteStore"]

PROGRESS_BUSY_SECONDS = 2.0  # a progress write waits this long for the database at most (then it is skipped)

_SCHEMA = """
create table if not exists sluice_state (
    state_id text primary key,
    value text not null,
    updated_at real not null
);
create table if not exists sluice_generation (
    state_id text primary key,
    generation integer not null
);
create table if not exists sluice_runs (
    id integer primary key autoincrement,
    pipeline text not null,
    state_id text not null,
    started_at real not null,
    ended_at real,
    status text not null,
    records_emitted integer,
    records_committed integer,
    error text,
    host text not null,
    pid integer not null,
    run_number integer
);
create index if not exists sluice_runs_pipeline on sluice_runs (pipeline, id);
create table if not exists sluice_run_streams (
    run_id integer not null,
    stream text not null,
    emitted integer,
    committed integer,
    primary key (run_id, stream)
);
create table if not exists sluice_run_details (
    run_id integer primary key,
    commands text,
    log_tail text
);
create table if not exists sluice_run_progress (
    run_id integer not null,
    stream text not null,
    records integer not null,
    committed integer,
    rate real,
    updated_at real not null,
    primary key (run_id, stream)
);
"""

# a store written before runs were numbered per pipeline: number its history in id order
_NUMBER_RUNS = """
alter table sluice_runs add column run_number integer;
update sluice_runs set run_number = (
    select count(*) from sluice_runs earlier
    where earlier.pipeline = sluice_runs.pipeline and earlier.id <= sluice_runs.id);
"""
# a store from before the dashboard (sluice ui): a run's tenant (named in its pipeline's name)
_DASHBOARD_COLUMNS = """
alter table sluice_runs add column tenant text;
update sluice_runs set tenant = substr(pipeline, instr(pipeline, '@') + 1) where instr(pipeline, '@') > 0;
"""
_NUMBER_INDEX = "create unique index if not exists sluice_runs_number on sluice_runs (pipeline, run_number)"

_RUN_COLUMNS = (
    "id, pipeline, state_id, started_at, ended_at, status, records_emitted, records_committed, error, host, pid, "
    "coalesce(run_number, 0)"
)


def lock_file_name(state_id: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", state_id)[:80]
    digest = blake2b(state_id.encode(), digest_size=4).hexdigest()
    return f"{safe}-{digest}.lock"


class _FlockLock(PipelineLock):
    def __init__(self, fd: int, info: LockInfo, on_release: Callable[[], object]) -> None:
        self._fd: int | None = fd
        self._on_release = on_release
        self.info = info
        self.write(info)

    def write(self, info: LockInfo) -> None:
        """Say who holds the lock, in its file (read by ``sluice locks`` and a refused run)."""
        self.info = info
        if self._fd is not None:
            data = dumps(info.to_dict()) + b"\n"
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, data, 0)

    def alive(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            self._on_release()
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _read_holder(path: Path) -> LockInfo | str | None:
    """The holder a lock file names: a LockInfo, the text of an older runner's file, or None."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    if not text:
        return None
    try:
        data = loads(text)
        return LockInfo(data["state_id"], data["host"], int(data["pid"]), float(data["since"]), data.get("pipeline"),
                        data.get("run_id"), data.get("run"))
    except (JSONDecodeError, KeyError, TypeError, ValueError):
        return text


def _flocked_files() -> set[tuple[int, int, int]] | None:
    """(major, minor, inode) of every file flock()ed now, from /proc/locks; None without it."""
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    held = set()
    for line in lines:
        fields = line.split()
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[3] == "WRITE":
            with_dev = fields[5].split(":")
            if len(with_dev) == 3:
                held.add((int(with_dev[0], 16), int(with_dev[1], 16), int(with_dev[2])))
    return held


def _is_held(path: Path, flocked: set[tuple[int, int, int]] | None) -> bool:
    try:
        st = path.stat()
    except OSError:
        return False
    if flocked is not None:
        return (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino) in flocked
    # no /proc/locks: try a shared lock for an instant (a run starting in that instant is refused)
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


class SQLiteStore(SQLStore):
    _mark = "?"
    _run_columns = _RUN_COLUMNS

    def __init__(self, path: Path) -> None:
        self.path = path
        self._held: dict[str, _FlockLock] = {}
        self.description = f"sqlite:{path}"
        self.lock_dir = path.parent / "locks"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), timeout=SQLITE_BUSY_SECONDS, isolation_level=None)
            enter_wal(self._db)
            self._db.execute("pragma synchronous=normal")
            self._db.executescript(_SCHEMA)
            self._migrate("run_number", _NUMBER_RUNS)
            self._db.execute(_NUMBER_INDEX)
            self._migrate("tenant", _DASHBOARD_COLUMNS)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the state store {path}: {exc}") from exc

    def _migrate(self, column: str, script: str) -> None:
        """Bring a store that predates ``column`` of sluice_runs up to date (once, under the write lock)."""
        if not self._has_run_column(column):
            self._db.execute("begin immediate")
            try:
                if not self._has_run_column(column):  # another runner may have migrated meanwhile
                    for statement in script.split(";"):
                        if statement.strip():
                            self._db.execute(statement)
                self._db.execute("commit")
            except sqlite3.Error:
                self._db.execute("rollback")
                raise

    def _has_run_column(self, column: str) -> bool:
        return any(row[1] == column for row in self._db.execute("pragma table_info(sluice_runs)"))

    def _exec(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        try:
            return self._db.execute(sql, params)
        except sqlite3.Error as exc:
            raise StoreError(f"state store {self.path}: {exc}") from exc

    # -- states -------------------------------------------------------------------------
    def get_state(self, state_id: str) -> dict[str, Any] | None:
        row = self._exec("select value from sluice_state where state_id = ?", (state_id,)).fetchone()
        return None if row is None else loads(row[0])  # type: ignore[no-any-return]

    def set_state(self, state_id: str, value: dict[str, Any]) -> None:
        self._exec(
            "insert into sluice_state (state_id, value, updated_at) values (?, ?, ?) "
            "on conflict (state_id) do update set value = excluded.value, updated_at = excluded.updated_at",
            (state_id, dumps(value).decode(), time.time()),
        )

    def list_states(self) -> list[tuple[str, float]]:
        return list(self._exec("select state_id, updated_at from sluice_state order by state_id").fetchall())

    def bump_generation(self, state_id: str) -> int:
        row = self._exec(
            "insert into sluice_generation (state_id, generation) values (?, 1) on conflict (state_id) "
            "do update set generation = generation + 1 returning generation", (state_id,)).fetchone()
        assert row is not None
        return int(row[0])

    # -- locks --------------------------------------------------------------------------
    def _lock_path(self, state_id: str) -> Path:
        return self.lock_dir / lock_file_name(state_id)

    def try_lock(self, state_id: str) -> PipelineLock | None:
        path = self._lock_path(state_id)
        try:
            self.lock_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise StoreError(f"cannot open lock file {path}: {exc.strerror}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        lock = _FlockLock(fd, LockInfo.mine(state_id), lambda: self._held.pop(state_id, None))
        self._held[state_id] = lock
        return lock

    def lock_holder(self, state_id: str) -> str | None:
        path = self._lock_path(state_id)
        holder = _read_holder(path)
        if holder is None or not _is_held(path, _flocked_files()):
            return None
        return holder.describe() if isinstance(holder, LockInfo) else holder

    def locks(self) -> list[LockInfo]:
        if not self.lock_dir.is_dir():
            return []
        flocked = _flocked_files()
        found = []
        for path in sorted(self.lock_dir.glob("*.lock")):
            holder = _read_holder(path)
            if isinstance(holder, LockInfo) and _is_held(path, flocked):
                found.append(holder)
        return sorted(found, key=lambda info: info.state_id)

    # -- run history --------------------------------------------------------------------
    def start_run(self, pipeline: str, state_id: str, tenant: str | None = None) -> StartedRun:
        # one statement: SQLite's write lock keeps two runners from taking the same number
        row = self._exec(
            "insert into sluice_runs (pipeline, state_id, started_at, status, host, pid, tenant, run_number) "
            "values (?, ?, ?, ?, ?, ?, ?, "
            "(select coalesce(max(run_number), 0) + 1 from sluice_runs where pipeline = ?)) returning id, run_number",
            (pipeline, state_id, time.time(), "running", host_name(), os.getpid(), tenant, pipeline),
        ).fetchone()
        assert row is not None
        started = StartedRun(int(row[0]), int(row[1]))
        held = self._held.get(state_id)
        if held is not None:
            held.write(dataclasses.replace(held.info, pipeline=pipeline, run_id=started.id, run=started.number))
        return started

    def finish_run(
        self, run_id: int, status: str, records_emitted: int | None, records_committed: int | None, error: str | None
    ) -> None:
        self._exec(
            "update sluice_runs set ended_at = ?, status = ?, records_emitted = ?, records_committed = ?, error = ? "
            "where id = ?",
            (time.time(), status, records_emitted, records_committed, error, run_id),
        )

    def abandon_stale_runs(self, state_id: str) -> int:
        cur = self._exec(
            "update sluice_runs set status = 'abandoned', ended_at = coalesce(ended_at, ?), "
            "error = coalesce(error, ?) where state_id = ? and status = 'running'",
            (time.time(), abandoned_error(), state_id),
        )
        if cur.rowcount:
            self.clear_ended_progress()  # what the dead runner's live progress left
        return cur.rowcount

    def progress_writer(self) -> ProgressWriter:
        try:
            db = sqlite3.connect(str(self.path), timeout=PROGRESS_BUSY_SECONDS, isolation_level=None,
                                 check_same_thread=False)  # opened here, then used by the timer's thread only
        except sqlite3.Error as exc:
            raise StoreError(f"state store {self.path}: {exc}") from exc
        return _SQLiteProgress(db, self.path)

    def close(self) -> None:
        self._db.close()


class _SQLiteProgress(ProgressWriter):
    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self._db, self._path = db, path
        self._sql = progress_upsert("?", "?")

    def write(self, run_id: int, rows: list[ProgressRow]) -> None:
        now = time.time()
        try:
            self._db.execute("begin immediate")
            try:
                self._db.executemany(self._sql, [(run_id, *row, now) for row in rows])
            finally:
                self._db.execute("commit")
        except sqlite3.Error as exc:
            raise StoreError(f"state store {self._path}: {exc}") from exc

    def close(self) -> None:
        self._db.close()
