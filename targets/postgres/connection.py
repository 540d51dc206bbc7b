"""The PostgreSQL connection: settings to conninfo, and a session that survives a drop.

:class:`Session` runs every statement of the open transaction through :meth:`Session.run`,
which keeps a journal of them. When the connection drops (server restart, a terminated
backend, a network cut), the session reconnects with exponential backoff, replays the
journal (the transaction was lost with the connection) and carries on; after
``max_tries`` it gives up with one clear :class:`TargetError`. The journal is emptied
by every commit. The COPY data of the open transaction is the session's too: a loader wraps
each chunk in :meth:`Session.chunk`, and the session keeps it for a replay in memory, up to
16 chunks (``KEEP_BYTES`` when no chunk size is set), and in a spool file beyond that, so
memory stays bounded whatever the batch size.

The connection is used by one worker thread: :meth:`Session.submit` queues a statement
and returns at once (at most ``MAX_PENDING`` wait), so the database loads one chunk
while the main thread parses and encodes the next; :meth:`Session.run` waits for its
result. An error of a queued statement is raised by the next ``submit``/``run``. The worker needs the GIL
after each wait on the socket: the main thread hands it over within 0.5 ms (see
:mod:`protocol._threads`), not the interpreter's default 5 ms.

A SIGTERM (or SIGINT) arriving while COMMIT is in flight does not abandon it: :meth:`Session.commit`
waits for the outcome (see :mod:`protocol._signals`), so what the target reports is what
the database holds.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import backoff
import psycopg
from psycopg import errors as pg_errors
from psycopg import pq

from protocol import TargetError, hand_over_promptly, stop_held
from protocol.pg import connect, conninfo_from_settings, describe, first_line, unreachable

__all__ = ["KEEP_BYTES", "Chunk", "Session", "conninfo_from_config"]

log = logging.getLogger("sluice.target.postgres")

T = TypeVar("T")
MAX_PENDING = 2
#: chunk bytes of the open transaction kept in memory for a replay when no chunk size is set
KEEP_BYTES = 32 * 1024 * 1024
KEEP_CHUNKS = 16  # when it is set: this many chunks
SPOOL_MEMORY = 16 * 1024 * 1024  # the spool file itself stays in memory up to this size
Op = Callable[[psycopg.Connection[Any]], Any]


def conninfo_from_config(config: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """(conninfo, keyword parameters) for psycopg.connect, from target-postgres settings."""
    return conninfo_from_settings(config, application_name="sluice target-postgres",
                                  options="-c TimeZone=UTC -c work_mem=64MB")


def _utc(conn: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    """``conn`` with the session this target's SQL assumes, whatever the environment asks: libpq
    sends PGTZ and PGDATESTYLE after the ``options`` above, so they would win. A date-time without
    an offset is UTC (it was the PGTZ zone's), and a date or time widened to text is ISO 8601."""
    conn.autocommit = True  # set for the session at once: no transaction, so no COMMIT of its own
    conn.execute(b"SET TimeZone = 'UTC'")
    conn.execute(b"SET DateStyle = 'ISO, MDY'")
    conn.autocommit = False
    return conn


class _ConnectionLost(Exception):
    """Internal: the connection broke; retry after a reconnect."""


class _Skipped(Exception):
    """Internal: a queued statement not run because an earlier one failed."""


class _Kept:
    """The COPY data of the open transaction, kept for a replay: in memory up to ``limit``
    bytes, in a spool file beyond that. Emptied by every commit and rollback."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_memory = 0
        self.spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)

    def keep(self, data: bytes) -> int:
        """Keep ``data``: -1 when it may stay in memory (the caller holds it), else its offset
        in the spool file (the caller lets it go)."""
        if self.in_memory + len(data) <= self.limit:
            self.in_memory += len(data)
            return -1
        spool = self.spool
        spool.seek(0, 2)
        offset = spool.tell()
        spool.write(data)
        return offset

    def read(self, offset: int, size: int) -> Iterator[bytes]:
        spool = self.spool
        spool.seek(offset)
        while size:
            block = spool.read(min(size, 4 * 1024 * 1024))
            if not block:
                break
            yield block
            size -= len(block)

    def clear(self) -> None:
        self.in_memory = 0
        self.spool.seek(0)
        self.spool.truncate()

    def close(self) -> None:
        self.spool.close()


class Chunk:
    """One chunk of COPY data in the open transaction (:meth:`Session.chunk`). Its first
    :meth:`blocks` sends it and hands it to the session to keep; a replay reads it back."""

    __slots__ = ("_data", "_kept", "_offset", "_sent", "size")

    def __init__(self, data: bytes, kept: _Kept) -> None:
        self._data: bytes | None = data
        self._kept = kept
        self._offset = -1
        self._sent = False
        self.size = len(data)

    def blocks(self) -> Iterator[bytes]:
        data = self._data
        if data is None:
            yield from self._kept.read(self._offset, self.size)
            return
        if not self._sent:
            self._sent = True
            self._offset = self._kept.keep(data)
            if self._offset >= 0:
                self._data = None
        yield data


class Session:
    """One connection, its open transaction and the journal that can rebuild it."""

    def __init__(self, conninfo: str, params: Mapping[str, Any], *, max_tries: int = 6,
                 max_wait: float = 8.0, chunk_size: int | None = None) -> None:
        self._conninfo = conninfo
        self._params = dict(params)
        self.where = describe(conninfo, params)
        self.max_tries = max_tries
        self.max_wait = max_wait
        self._journal: list[Op] = []
        self._lost = False
        self._failed = False
        self._pending: deque[Future[Any]] = deque()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="target-postgres")
        hand_over_promptly()  # the COPY sender waits on the socket 16 times per 2 MiB chunk
        #: bumped by every reconnect: per-connection objects (temp tables) are gone after it
        self.generation = 0
        #: the open transaction's id (recorded when it starts): after a connection drop during
        #: COMMIT, txid_status() tells whether that commit went through
        self._xid: int | None = None
        self._backend: int | None = None  # the server process of that transaction
        self._kept = _Kept(KEEP_CHUNKS * chunk_size if chunk_size else KEEP_BYTES)
        self.conn = self._connect()

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            return _utc(connect(self._conninfo, self._params))
        except psycopg.OperationalError as exc:
            detail = unreachable(exc) or (str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__)
            raise TargetError(f"cannot connect to PostgreSQL at {self.where}: {detail}") from exc

    def _reconnect(self) -> None:
        try:
            self.conn.close()
        except psycopg.Error:
            pass
        try:
            self.conn = _utc(connect(self._conninfo, self._params))
        except psycopg.OperationalError as exc:
            raise _ConnectionLost(str(exc)) from exc
        self.generation += 1
        self._lost = False

    def _guard(self, op: Op) -> Any:
        try:
            return op(self.conn)
        except psycopg.OperationalError as exc:
            if self.conn.broken or self.conn.closed:
                self._lost = True
                raise _ConnectionLost(str(exc).strip()) from exc
            raise TargetError(f"PostgreSQL at {self.where}: {first_line(exc)}") from exc
        except psycopg.Error as exc:
            detail = exc.diag.message_detail if isinstance(exc, pg_errors.UniqueViolation) else None
            raise TargetError(f"PostgreSQL at {self.where}: {first_line(exc)}" +
                              (f" ({detail.rstrip('.')})" if detail else "")) from exc

    def _attempt(self, op: Op, journalled: bool) -> Any:
        if self._lost:
            self._reconnect()
            if op is self._commit_op and self._committed_before():
                return None  # the COMMIT went through; only its reply was lost: nothing to replay
            self._xid = None
            for past in (self._journal[:-1] if journalled else self._journal):
                self._begin()
                self._guard(past)
        if op is not self._commit_op:
            self._begin()
        return self._guard(op)

    def _begin(self) -> None:
        """Record the id of the transaction that the next statement opens, and its backend."""
        if self.conn.info.transaction_status == pq.TransactionStatus.IDLE:
            row = self._guard(lambda conn: conn.execute(b"SELECT txid_current(), pg_backend_pid()").fetchone())
            self._xid, self._backend = int(row[0]), int(row[1])

    def _txid_status(self, xid: int) -> str | None:
        row = self._guard(lambda conn: conn.execute("SELECT txid_status(%s)", (xid,)).fetchone())
        self._guard(lambda conn: conn.rollback())
        return row[0] if row is not None else None

    def _committed_before(self) -> bool:
        """Whether the open transaction committed, its COMMIT's reply lost with the connection.

        If the old backend is still running that COMMIT (a deferred trigger, a lock, a slow
        disk), it is cancelled first, so the outcome is final before anything is decided: a
        commit past its point of no return stays committed, anything else is rolled back.
        Replaying beside a COMMIT that may still go through would load the batch twice."""
        xid = self._xid
        if xid is None:
            return False
        status = self._txid_status(xid)
        if status == "in progress":
            backend, low = self._backend, xid & 0xFFFFFFFF  # backend_xid: the 32-bit xid, no epoch
            self._guard(lambda conn: conn.execute(
                "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE pid = %s AND backend_xid::text = %s",
                (backend, str(low))).fetchall())
            for _ in range(100):
                time.sleep(0.1)
                status = self._txid_status(xid)
                if status != "in progress":
                    break
            log.warning("connection to PostgreSQL at %s lost during COMMIT; the server was still running it, so it "
                        "was cancelled: transaction %s %s", self.where, xid, status)
        if status == "in progress":
            raise TargetError(
                f"connection to PostgreSQL at {self.where} lost during COMMIT, and transaction {xid} is still in "
                f"progress on the server: whether it commits is unknown, so the batch is not replayed and no STATE "
                f"is emitted for it (SELECT txid_status({xid}) tells the outcome)")
        if status == "committed":
            log.warning("connection to PostgreSQL at %s lost during COMMIT, which went through (transaction %s "
                        "committed): nothing to replay", self.where, xid)
            return True
        return False

    @staticmethod
    def _commit_op(conn: psycopg.Connection[Any]) -> None:
        conn.commit()

    def _on_backoff(self, details: Any) -> None:
        log.warning("connection to PostgreSQL at %s lost; reconnecting in %.1fs (try %d of %d) and replaying "
                    "the open batch", self.where, details["wait"], details["tries"], self.max_tries)

    def _execute(self, op: Op, journal: bool) -> Any:
        """In the worker thread: one statement, with reconnects and journal replay."""
        if self._failed:
            raise _Skipped
        if journal:
            self._journal.append(op)
        retrying = backoff.on_exception(
            backoff.expo, _ConnectionLost, max_tries=self.max_tries, max_value=self.max_wait,
            on_backoff=self._on_backoff, logger=None,
        )(self._attempt)
        try:
            return retrying(op, journal)
        except _ConnectionLost as exc:
            self._failed = True
            raise self._gave_up(op is self._commit_op, exc) from exc
        except BaseException:
            self._failed = True
            raise

    def _gave_up(self, committing: bool, exc: _ConnectionLost) -> TargetError:
        cause = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        lost = f"connection to PostgreSQL at {self.where} lost"
        if not committing:  # the server rolls back a transaction whose connection is gone
            return TargetError(f"{lost} and {self.max_tries - 1} reconnects failed; nothing after the last STATE "
                               f"was committed: {cause}")
        # the server may have committed before the connection went: say so, never guess
        xid = self._xid
        what, check = (f"transaction {xid}", f" (SELECT txid_status({xid}) tells)") if xid is not None else \
            ("the open transaction", "")
        return TargetError(f"{lost} during COMMIT and {self.max_tries - 1} reconnects failed: whether {what} "
                           f"committed is unknown, and no STATE was emitted for it{check}: {cause}")

    def _settle(self, limit: int) -> None:
        """Wait until at most ``limit`` statements are queued; raise the first error."""
        pending = self._pending
        while pending and (len(pending) > limit or pending[0].done()):
            try:
                pending.popleft().result()
            except _Skipped:
                continue

    def submit(self, op: Op) -> None:
        """Queue ``op(conn)`` in the open transaction; returns before it ran."""
        self._settle(MAX_PENDING - 1)
        self._pending.append(self._pool.submit(self._execute, op, True))

    def chunk(self, data: bytes) -> Chunk:
        """``data``, COPY data that a statement of the open transaction sends with
        :meth:`Chunk.blocks`, kept by the session until the commit for a replay."""
        return Chunk(data, self._kept)

    def run(self, op: Callable[[psycopg.Connection[Any]], T], *, journal: bool = True) -> T:
        """Run ``op(conn)`` after every queued statement; return its result."""
        future = self._pool.submit(self._execute, op, journal)
        self._pending.append(future)
        self._settle(0)
        result: T = future.result()
        return result

    def commit(self) -> None:
        # Once COMMIT is sent, its outcome is what we report: a SIGTERM or SIGINT waits for it.
        with stop_held("the commit in flight went through"):
            self.run(self._commit_op, journal=False)
        self._xid = None
        self._journal.clear()
        self._kept.clear()

    def rollback(self) -> None:
        self._failed = True
        while self._pending:
            try:
                self._pending.popleft().result()
            except (_Skipped, TargetError):
                continue
        self._failed = False
        self._xid = None
        self._journal.clear()
        self._kept.clear()
        if not (self.conn.closed or self.conn.broken):
            try:
                self.conn.rollback()
            except psycopg.Error as exc:
                log.warning("rollback failed: %s", first_line(exc))

    def close(self) -> None:
        self.rollback()
        self._pool.shutdown(wait=True)
        self._kept.close()
        self.conn.close()

