"""The spool writer: every verified delivery is committed (and fsync'd) before it is acknowledged,
and many concurrent deliveries share one commit (group commit).

    SpoolWriter ............ the group-commit loop, shared by both backends
    ├── SQLiteSpoolWriter    one file in WAL mode, synchronous=FULL: a commit returns after fsync
    └── PgSpoolWriter        a PostgreSQL table (taps/webhook/spool_pg.py)

A request handler calls :meth:`SpoolWriter.add`; the returned future resolves with True (newly
stored) or False (a re-delivery of a (source, delivery_id) in the spool, or pruned from it within
``spool.dedupe_days``: :mod:`taps.webhook.ledger`) only after the
transaction that holds it has committed. A failed commit fails every future of its batch with
:class:`SpoolError` and rolls the batch back: nothing of it is stored, and the handler answers 503.

Batching: the writer owns one thread and one connection. While a batch commits, new deliveries
queue; when it returns, the next batch is everything queued. ``commit_window_ms`` lets a batch wait
a little longer for requests that have started but not yet queued (a body still arriving, a
signature being checked), never longer than the window and never when nothing is on its way.

The schema (``deliveries``) is fixed by CONTRACT-18; ``seq`` is the spool position tap-webhook's
STATE counts in. This module needs no extra (sqlite3 is in the standard library).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Awaitable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from protocol import SQLITE_BUSY_SECONDS, TargetError, enter_wal
from taps.webhook import ledger

if TYPE_CHECKING:
    from taps.webhook.providers import Verified
    from taps.webhook.settings import SpoolSettings

__all__ = ["SCHEMA", "Delivery", "SQLiteSpoolWriter", "SpoolError", "SpoolStats", "SpoolWriter", "Unstorable",
           "open_writer"]

log = logging.getLogger("sluice.webhook.spool")

SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  source TEXT NOT NULL,
  delivery_id TEXT NOT NULL,
  event_type TEXT,
  received_at REAL NOT NULL,
  headers TEXT NOT NULL,
  body BLOB NOT NULL,
  UNIQUE (source, delivery_id)
)
"""



class SpoolError(TargetError):
    """The spool could not store a batch; none of its deliveries is stored (the request gets 503)."""


class Unstorable(SpoolError):
    """This one delivery can never be stored by the spool's backend (a retry would fail the same way).

    It is refused before it joins a batch: inside one, it would fail the commit of every delivery
    queued with it, and again at each of the provider's retries. The receiver answers 422."""


@dataclass(frozen=True, slots=True)
class Delivery:
    source: str
    delivery_id: str
    event_type: str | None
    received_at: float
    headers: str  # JSON object of the kept headers
    body: bytes


@dataclass(frozen=True)
class SpoolStats:
    depth: int  # deliveries in the spool (not yet pruned by tap-webhook)
    oldest_received_at: float | None  # of the first one still in the spool


class SpoolWriter:
    """Group commit over one connection on one thread; subclasses write a batch and read stats."""

    def __init__(self, commit_window_ms: float = 0.0) -> None:
        self.window = commit_window_ms / 1000.0
        self.arriving = 0  # requests between "started" and "queued or rejected" (see arrived())
        self.commits = 0
        self.committed = 0  # deliveries in successful commits, duplicates included
        self._queue: list[tuple[Delivery, asyncio.Future[bool]]] = []
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spool")
        self._ready = asyncio.Event()  # something is queued
        self._full = asyncio.Event()  # nothing more is on its way: commit now
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    # -- the backend's part (each runs on the writer thread) -------------------------------------
    def _open(self) -> None:
        raise NotImplementedError

    def _write(self, batch: Sequence[Delivery]) -> list[bool]:
        """Insert the batch in one transaction and commit; True for each newly stored delivery."""
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError

    def _unstorable(self, delivery: Delivery) -> str | None:
        """Why the backend cannot store ``delivery``, or None (the SQLite spool stores any text)."""
        return None

    def _stats(self) -> SpoolStats:
        """Read on a connection of its own (called from a worker thread, not the writer's)."""
        raise NotImplementedError

    # -- the receiver's part (event loop) ---------------------------------------------------------
    def open(self) -> None:
        """Open the spool (creating its table): before the server starts, so a bad spool stops it."""
        self._executor.submit(self._open).result()

    async def start(self) -> None:
        """Start the commit loop (in the server's event loop)."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="spool-writer")

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def started(self) -> None:
        """A request for this spool has begun (its body may still be arriving)."""
        self.arriving += 1

    def arrived(self) -> None:
        """That request is now queued, or was rejected: a waiting batch need not wait for it."""
        self.arriving -= 1
        if self.arriving <= 0 and self._queue:
            self._full.set()

    def add(self, source: str, verified: Verified, headers: Mapping[str, str], body: bytes,
            received_at: float) -> Awaitable[bool]:
        """Queue a delivery; the future resolves after the commit holding it (True: newly stored).
        Raises :class:`Unstorable` for a delivery the backend cannot hold (it is not queued)."""
        if self._closing:
            raise SpoolError("the spool is closing")
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        delivery = Delivery(source, verified.delivery_id, verified.event_type, received_at,
                            orjson.dumps(dict(headers)).decode(), body)
        if (problem := self._unstorable(delivery)) is not None:
            raise Unstorable(problem)
        self._queue.append((delivery, future))
        self._ready.set()
        if self.arriving <= 0:
            self._full.set()
        return future

    async def stats(self) -> SpoolStats:
        return await asyncio.to_thread(self._stats)

    async def close(self) -> None:
        """Commit what is queued, then close the connection."""
        self._closing = True
        if self._task is not None:
            self._ready.set()
            await self._task
        await asyncio.get_running_loop().run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=True)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                if self._closing:
                    return
                self._ready.clear()
                await self._ready.wait()
                continue
            if self.window > 0 and self.arriving > 0 and not self._closing:
                timer = loop.call_later(self.window, self._full.set)
                await self._full.wait()
                timer.cancel()
            batch, self._queue = self._queue, []
            self._full.clear()
            await self._commit(loop, batch)

    async def _commit(self, loop: asyncio.AbstractEventLoop,
                      batch: list[tuple[Delivery, asyncio.Future[bool]]]) -> None:
        started = time.perf_counter()
        try:
            stored = await loop.run_in_executor(self._executor, self._write, [d for d, _ in batch])
        except SpoolError as exc:
            log.error("spool commit of %d deliveries failed: %s", len(batch), exc)
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        self.commits += 1
        self.committed += len(batch)
        for (_, future), new in zip(batch, stored, strict=True):
            if not future.done():  # a cancelled request (client gone) keeps what was committed
                future.set_result(new)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("committed %d deliveries in %.1f ms", len(batch), (time.perf_counter() - started) * 1000)


class SQLiteSpoolWriter(SpoolWriter):
    """The default spool: a SQLite file in WAL mode with ``synchronous=FULL`` (each commit fsyncs).

    Checkpoints (copying the WAL back into the database file, and its fsync) are kept off the
    acknowledgement path: the writer's connection never checkpoints by itself; a passive checkpoint
    runs on another connection and thread every ``CHECKPOINT_SECONDS`` after commits, and a full
    one at close. (SQLite's default, a checkpoint inside every ~1,000th page's commit, puts its
    tens of milliseconds into the latency of the deliveries waiting on that commit.)
    """

    CHECKPOINT_SECONDS = 1.0

    def __init__(self, path: str, commit_window_ms: float = 0.0) -> None:
        super().__init__(commit_window_ms)
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._checkpointer: asyncio.Task[None] | None = None
        self._stop_checkpoints = asyncio.Event()

    def _open(self) -> None:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                   timeout=SQLITE_BUSY_SECONDS)
            enter_wal(conn)
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA wal_autocheckpoint=0")
            conn.execute("BEGIN IMMEDIATE")  # a new spool gets its id in the transaction creating it
            conn.execute(SCHEMA)
            ledger.ensure(conn)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise SpoolError(f"cannot open the SQLite spool {self.path}: {exc}") from exc
        self._conn = conn

    async def start(self) -> None:
        await super().start()
        self._checkpointer = asyncio.get_running_loop().create_task(self._checkpoints(), name="spool-checkpoints")

    async def close(self) -> None:
        self._stop_checkpoints.set()
        if self._checkpointer is not None:
            await self._checkpointer  # never cut a checkpoint short: its connection is closed after it
        await super().close()

    async def _checkpoints(self) -> None:
        conn: sqlite3.Connection | None = None
        done = self.commits
        while not self._stop_checkpoints.is_set():
            try:
                await asyncio.wait_for(self._stop_checkpoints.wait(), self.CHECKPOINT_SECONDS)
            except TimeoutError:
                pass
            if self.commits == done or self._stop_checkpoints.is_set():
                continue
            done = self.commits
            try:
                if conn is None:
                    conn = await asyncio.to_thread(sqlite3.connect, self.path, isolation_level=None,
                                                   check_same_thread=False, timeout=30)
                await asyncio.to_thread(conn.execute, "PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error as exc:  # the next one tries again; the WAL only grows meanwhile
                log.warning("SQLite spool %s: checkpoint failed: %s", self.path, exc)
        if conn is not None:
            conn.close()

    def _write(self, batch: Sequence[Delivery]) -> list[bool]:
        conn = self._conn
        assert conn is not None, "the spool is not open"
        try:
            conn.execute("BEGIN IMMEDIATE")
            stored = [conn.execute(ledger.INSERT, {
                "source": d.source, "delivery_id": d.delivery_id, "event_type": d.event_type,
                "received_at": d.received_at, "headers": d.headers, "body": d.body}).rowcount == 1 for d in batch]
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.rollback()
            raise SpoolError(f"SQLite spool {self.path}: {exc}") from exc
        return stored

    def _close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as exc:  # a reader holds the WAL: it is checkpointed by the next writer
                log.warning("SQLite spool %s: final checkpoint failed: %s", self.path, exc)
            self._conn.close()
            self._conn = None

    def _stats(self) -> SpoolStats:
        try:
            conn = sqlite3.connect(f"{Path(self.path).resolve().as_uri()}?mode=ro", uri=True, timeout=5)
            try:
                depth, = conn.execute("SELECT count(*) FROM deliveries").fetchone()
                oldest = conn.execute("SELECT received_at FROM deliveries ORDER BY seq LIMIT 1").fetchone()
            finally:
                conn.close()
        except sqlite3.Error as exc:
            raise SpoolError(f"SQLite spool {self.path}: {exc}") from exc
        return SpoolStats(depth, oldest[0] if oldest else None)


def open_writer(settings: SpoolSettings, commit_window_ms: float) -> SpoolWriter:
    """The writer for the configured backend (not yet started)."""
    if settings.backend == "postgres":
        from taps.webhook.spool_pg import PgSpoolWriter

        assert settings.dsn is not None
        return PgSpoolWriter(settings.dsn, settings.table, commit_window_ms)
    return SQLiteSpoolWriter(settings.path, commit_window_ms)
