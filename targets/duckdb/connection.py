"""The DuckDB connection: the lazy import of the extra, the file lock, one transaction.

``duckdb`` is imported here, on first use, never when the package is imported, so
``--about`` and ``pip install sluice`` need no DuckDB. Errors of the driver are mapped into
:class:`protocol.TargetError` where they enter (:meth:`Connection.run`), one line each.
A DuckDB file has one writer at a time: a second target on the same file waits for the lock
(up to ``LOCK_WAIT`` seconds), then fails with one line naming the file.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from protocol import ConfigError, TargetError

__all__ = ["LOCK_WAIT", "Connection", "load_duckdb"]

log = logging.getLogger("sluice.target.duckdb")

LOCK_WAIT = 30.0
MISSING_EXTRA = "target-duckdb needs the extra: pip install 'sluice[duckdb]'"


def load_duckdb() -> ModuleType:
    """The duckdb module, or ConfigError with the one line that says how to install it."""
    try:
        import duckdb
    except ImportError as exc:
        raise ConfigError(MISSING_EXTRA) from exc
    return duckdb


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


class Connection:
    """One DuckDB database file, opened read-write, and its open transaction."""

    def __init__(self, path: str) -> None:
        self.duckdb = load_duckdb()
        self.path = path
        self.in_tx = False
        if path != ":memory:":
            try:
                Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise TargetError(f"cannot create the directory of DuckDB database {path}: {exc}") from exc
        self.conn = self._open(str(Path(path).expanduser()) if path != ":memory:" else path)

    def _open(self, where: str) -> Any:
        deadline = time.monotonic() + LOCK_WAIT
        waited = False
        while True:
            try:
                return self.duckdb.connect(where)
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

    def run(self, what: str, sql: str, params: tuple[Any, ...] | list[Any] | None = None) -> list[Any]:
        """Run one statement (outside the transaction); its rows."""
        try:
            return list(self.conn.execute(sql, params).fetchall())
        except self.duckdb.Error as exc:
            raise TargetError(f"DuckDB {what} failed: {_first_line(exc)}") from exc

    def write(self, what: str, sql: str, params: tuple[Any, ...] | list[Any] | None = None) -> None:
        """Run one statement in the open transaction (begun if needed)."""
        if not self.in_tx:
            self.run("begin", "BEGIN TRANSACTION")
            self.in_tx = True
        self.run(what, sql, params)

    def commit(self) -> None:
        if self.in_tx:
            self.run("commit", "COMMIT")
            self.in_tx = False

    def rollback(self) -> None:
        if self.in_tx:
            self.in_tx = False
            try:
                self.conn.execute("ROLLBACK")
            except self.duckdb.Error as exc:
                log.warning("rollback failed: %s", _first_line(exc))

    def close(self) -> None:
        self.rollback()
        try:
            self.conn.close()
        except self.duckdb.Error as exc:
            log.warning("close of DuckDB database %s failed: %s", self.path, _first_line(exc))
