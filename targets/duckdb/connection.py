"""The DuckDB connection: the lazy import of the extra, the file lock, one transaction.

``duckdb`` is imported here, on first use, never when the package is imported, so
``--about`` and ``pip install sluice`` need no DuckDB. Errors of the driver are mapped into
:class:`protocol.TargetError` where they enter (:meth:`Connection.run`), one line each.
A DuckDB file has one writer at a time: a second target on the same file waits for the lock
(up to ``LOCK_WAIT`` seconds), then fails with one line naming the file.

Chunk loads run on one worker thread (:meth:`Connection.submit`; DuckDB releases the GIL while
it executes), so the next chunk is decoded and built while DuckDB loads this one. DuckDB's client
takes the GIL back between the tasks of a query, so the main thread hands it over within 20 us
(``protocol.hand_over_promptly``): at the default 5 ms the loads ran at 40% of their speed. At most
``MAX_PENDING`` loads are queued; every other statement, the commit included, first waits for
them (:meth:`Connection.settle`), and a failed load is raised there.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

from protocol import ENGINE_SWITCH_INTERVAL, ConfigError, TargetError, hand_over_promptly, stop_held
from targets.duckdb.instance import instance

__all__ = ["LOCK_WAIT", "MAX_PENDING", "Connection", "engine_version", "load_duckdb"]

log = logging.getLogger("sluice.target.duckdb")

LOCK_WAIT = 30.0
MAX_PENDING = 2
#: Rows per row group of the tables written (DuckDB's default: 122,880). A transaction's rows wait
#: in memory until a whole row group is there, and what waits is compressed by the COMMIT, on one
#: core, while the target does nothing else; with smaller groups flushed one at a time
#: (write_buffer_row_group_count = 1), most are compressed and written by the chunk loads on the
#: worker thread, overlapping the reading of the input. 200,000 records (bench/): the COMMIT
#: 0.31 -> 0.06 s, the run 10-15% shorter, the file 6% larger, scans as fast.
ROW_GROUP_SIZE = 32_768
#: The database file's name inside the connection (attached to an in-memory one, the only way
#: to give ROW_GROUP_SIZE); every statement runs in it (USE)
ALIAS = "sluice_target"
MISSING_EXTRA = "target-duckdb needs the extra: pip install 'sluice[duckdb]'"
#: 1.2 checks a key deleted and inserted again in one transaction at commit (1.1 refuses the insert) and
#: has ALTER TABLE ... ADD PRIMARY KEY; 1.2's ``INSERT ... SELECT ... ON CONFLICT DO UPDATE`` drops the
#: rows of the SELECT that meet no conflict when others do (1.2.2: tests/integration/duckdb/test_old_engine.py
#: lost 4 rows of 7 and the STATE after them was emitted), which 1.3 does not
OLDEST = (1, 3)


def _engine() -> ModuleType:
    """DuckDB's compiled module where it stands alone (duckdb 1.4 and later: ``_duckdb``, which
    the ``duckdb`` package re-exports), else the package. The package also imports its relation
    API in Python (~100 ms of a ~1 s load here); a target that only connects and executes SQL
    needs none of it. Whichever module it is, it has what :class:`Connection` calls."""
    engine: ModuleType | None
    try:
        import _duckdb as engine  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        engine = None
    calls = ("connect", "Error", "IOException", "__version__")
    if engine is not None and all(hasattr(engine, name) for name in calls) \
            and all(hasattr(engine.DuckDBPyConnection, name) for name in ("execute", "fetchall", "close")):
        return engine
    import duckdb

    return duckdb


def engine_version(duckdb: ModuleType) -> tuple[int, ...]:
    """The module's (major, minor, patch) version (a part that is not a number: 0)."""
    return tuple(int(p) if p.isdigit() else 0 for p in str(getattr(duckdb, "__version__", "0")).split(".")[:3])


def load_duckdb() -> ModuleType:
    """The duckdb module, or ConfigError with the one line that says how to install it."""
    try:
        duckdb = _engine()
    except ImportError as exc:
        raise ConfigError(MISSING_EXTRA) from exc
    version = str(getattr(duckdb, "__version__", "0"))
    if engine_version(duckdb) < OLDEST:
        raise ConfigError(f"target-duckdb needs duckdb {OLDEST[0]}.{OLDEST[1]} or later (found {version}): "
                          "pip install 'sluice[duckdb]'")
    return duckdb


def _first_line(exc: BaseException) -> str:
    """The error's first line; for a value a reader could not convert, also the line that names
    the value and the column (DuckDB gives the file's line first, then these)."""
    lines = str(exc).strip().splitlines()
    if not lines:
        return type(exc).__name__
    which = next((line.strip() for line in lines[1:] if line.startswith("Error when converting column")), None)
    return f"{lines[0]}: {which}" if which else lines[0]


class Connection:
    """One DuckDB database file, opened read-write, and its open transaction."""

    def __init__(self, path: str) -> None:
        self.duckdb = load_duckdb()
        self.version = engine_version(self.duckdb)
        self.path = path
        self.in_tx = False
        if path != ":memory:":
            try:
                Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise TargetError(f"cannot create the directory of DuckDB database {path}: {exc}") from exc
        self.conn = self._open(str(Path(path).expanduser()) if path != ":memory:" else path)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sluice-duckdb")
        hand_over_promptly(ENGINE_SWITCH_INTERVAL)  # DuckDB takes the GIL between the tasks of each load
        self._pending: deque[Future[None]] = deque()

    def _open(self, where: str) -> Any:
        deadline = time.monotonic() + LOCK_WAIT
        waited = False
        while True:
            try:
                return self._connect(where)
            except self.duckdb.IOException as exc:
                if "lock" not in str(exc).lower():
                    raise TargetError(f"cannot open DuckDB database {self.path}: {_first_line(exc)}") from exc
                if time.monotonic() >= deadline:
                    raise TargetError(f"DuckDB database {self.path} is locked by another process (waited "
                                      f"{LOCK_WAIT:.0f} s): {_first_line(exc)}") from exc
                if not waited:
                    log.info("DuckDB database %s is locked by another process; waiting", self.path)
                    waited = True
                time.sleep(0.1)
            except self.duckdb.Error as exc:
                raise TargetError(f"cannot open DuckDB database {self.path}: {_first_line(exc)}") from exc

    def _connect(self, where: str) -> Any:
        """A connection whose default database is the file, attached with ROW_GROUP_SIZE row
        groups and flushed to the file one row group at a time (see the constants), to an
        instance opened ahead (instance.py)."""
        conn = instance(self.duckdb)
        # a date-time without an offset is UTC, as in every target (DuckDB took the machine's zone)
        conn.execute("SET TimeZone = 'UTC'")
        if where == ":memory:":
            return conn
        try:
            conn.execute(f"ATTACH '{where.replace(chr(39), chr(39) * 2)}' AS {ALIAS} (ROW_GROUP_SIZE {ROW_GROUP_SIZE})")
            conn.execute(f"USE {ALIAS}")
            if conn.execute("SELECT count(*) FROM duckdb_settings() WHERE name = 'write_buffer_row_group_count'"
                            ).fetchall() != [(0,)]:  # DuckDB 1.4 and before: row groups wait for the COMMIT
                conn.execute("SET write_buffer_row_group_count = 1")
        except BaseException:
            conn.close()
            raise
        return conn

    def _execute(self, what: str, sql: str, params: tuple[Any, ...] | list[Any] | None = None) -> list[Any]:
        try:
            return list(self.conn.execute(sql, params).fetchall())
        except self.duckdb.Error as exc:
            raise TargetError(f"DuckDB {what} failed: {_first_line(exc)}") from exc

    def run(self, what: str, sql: str, params: tuple[Any, ...] | list[Any] | None = None) -> list[Any]:
        """Run one statement after every queued load; its rows."""
        self.settle(0)
        return self._execute(what, sql, params)

    def write(self, what: str, sql: str, params: tuple[Any, ...] | list[Any] | None = None) -> None:
        """Run one statement in the open transaction (begun if needed)."""
        self._begin()
        self.run(what, sql, params)

    def _begin(self) -> None:
        if not self.in_tx:
            self.run("begin", "BEGIN TRANSACTION")
            self.in_tx = True

    def submit(self, job: Callable[[Callable[..., list[Any]]], None]) -> None:
        """Queue ``job(execute)`` in the open transaction, ``execute(what, sql, params)`` running
        one statement; returns before it ran (at most MAX_PENDING - 1 others still queued)."""
        self._begin()
        self.settle(MAX_PENDING - 1)
        self._pending.append(self._pool.submit(job, self._execute))

    def settle(self, keep: int) -> None:
        """Wait until at most ``keep`` queued loads remain; raise the first that failed."""
        while len(self._pending) > keep:
            self._pending.popleft().result()

    def commit(self) -> None:
        if self.in_tx:
            # once COMMIT is sent, its outcome is what we report: a SIGTERM or SIGINT waits for it
            self.settle(0)
            with stop_held("the commit in flight went through"):
                self._execute("commit", "COMMIT")
            self.in_tx = False

    def rollback(self) -> None:
        while self._pending:  # let queued loads end (their errors are the rollback's reason, or moot)
            try:
                self._pending.popleft().result()
            except TargetError:
                pass
        if self.in_tx:
            self.in_tx = False
            try:
                self.conn.execute("ROLLBACK")
            except self.duckdb.Error as exc:
                log.warning("rollback failed: %s", _first_line(exc))

    def close(self) -> None:
        self.rollback()
        self._pool.shutdown(wait=True)
        try:
            self.conn.close()
        except self.duckdb.Error as exc:
            log.warning("close of DuckDB database %s failed: %s", self.path, _first_line(exc))
