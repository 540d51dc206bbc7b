"""SQLite files opened by more than one process: the switch to WAL mode, waited for.

SQLite answers a journal-mode change that meets another connection's lock with "database is
locked" at once, without the connection's busy timeout. Processes opening a new file at the same
moment (two runners and their state store, two targets loading one database, a webhook receiver
and its tap on one spool) would fail. The mode is kept in the file, so only a file's first
openings race.
"""

from __future__ import annotations

import sqlite3
import time

__all__ = ["SQLITE_BUSY_SECONDS", "enter_wal"]

#: how long a statement on a shared SQLite file waits for another process's lock (the connection's
#: ``timeout``), and the switch to WAL mode for the other openers of a new file
SQLITE_BUSY_SECONDS = 30.0


def enter_wal(conn: sqlite3.Connection, seconds: float = SQLITE_BUSY_SECONDS) -> None:
    """Put ``conn``'s database in WAL mode, waiting up to ``seconds`` for other processes' locks."""
    deadline = time.monotonic() + seconds
    pause = 0.002
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)
