"""Bounded waits on PostgreSQL sessions, and the lease that keeps a pipeline lock alive.

A runner whose network is gone, or whose packets something still acknowledges without
passing them on (a stalled proxy, a half-dead NAT), sees no error from TCP: a query would
wait for ever. So every query here runs under a watchdog: one that has not finished after its
limit gets its socket shut down, which fails it at once.

The session that holds a pipeline lock also keeps a lease of ``timeout`` seconds:

- the server ends the session when it heard nothing on it for ``timeout`` seconds
  (``idle_session_timeout``, ``idle_in_transaction_session_timeout``; PostgreSQL 14 or later),
  which frees the advisory lock: another host can take the pipeline over;
- the holder sends a heartbeat every ``timeout/4`` seconds, and counts the lock lost once none
  got through for ``timeout/2`` seconds, before the server can give it to anyone else. From
  then on every write under that lock is refused (the session is shut down), so a cut-off
  holder cannot overwrite the state of the host that took over, even once its network is back.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg

from protocol.pg import first_line
from runner.stores.base import PipelineLock, StoreError

__all__ = ["GuardedSession", "LeaseLock", "lease_settings"]

T = TypeVar("T")
_TICK = 0.1  # how often the watchdog looks at the sessions


class GuardedSession:
    """A connection whose queries never wait longer than ``limit`` seconds. With ``lease``, it is
    also lost once no query sent in the last ``lease`` seconds has been answered."""

    def __init__(self, conn: psycopg.Connection[Any], where: str, limit: float, lease: float | None = None,
                 lost_error: type[StoreError] = StoreError) -> None:
        self.conn = conn
        self.lost_error = lost_error  # raised once the session is lost (LockLost for a lock's session)
        self.where = where
        self.limit = limit
        self.lease = lease
        self.lost: str | None = None  # why the session was given up
        self.last_ok = time.monotonic()  # when the last query that was answered was sent
        self._fd = conn.pgconn.socket
        self._busy_since: float | None = None
        self._mutex = threading.Lock()  # one query (or transaction) at a time, timed on its own
        self._socket_lock = threading.Lock()  # a trip never shuts down a closed (reused) descriptor
        self._closed = False
        _WATCHDOG.add(self)

    def run(self, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        """``work(conn)`` (one query, or a transaction of several) under the watchdog."""
        with self._mutex:
            if self.lost is not None:
                raise self.lost_error(f"{self.where}: {self.lost}")
            sent = self._busy_since = time.monotonic()
            try:
                result = work(self.conn)
            except psycopg.Error as exc:
                if self.lost is None and self.conn.broken:
                    self.lost = f"the session ended ({first_line(exc)})"
                if self.lost is not None:
                    raise self.lost_error(f"{self.where}: {self.lost}") from exc
                raise StoreError(f"{self.where}: {first_line(exc)}") from exc
            finally:
                self._busy_since = None
            self.last_ok = max(self.last_ok, sent)
            return result

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> psycopg.Cursor[Any]:
        return self.run(lambda conn: conn.execute(sql, params))  # type: ignore[arg-type]

    @property
    def alive(self) -> bool:
        return self.lost is None and not self._closed and not self.conn.broken

    def check(self, now: float) -> None:
        """The watchdog's look: trip a query past its limit, or a lease not renewed in time."""
        busy = self._busy_since
        if busy is not None and now - busy > self.limit:
            self._trip(f"the state store did not answer for {self.limit:g} s")
        elif self.lease is not None and now - self.last_ok > self.lease:
            self._trip(f"no heartbeat reached the state store for {self.lease:g} s")

    def _trip(self, why: str) -> None:
        with self._socket_lock:
            if self._closed or self.lost is not None:
                return
            self.lost = why
            with contextlib.suppress(OSError):  # shut down, not closed: psycopg still owns the descriptor
                sock = socket.socket(fileno=os.dup(self._fd))
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                finally:
                    sock.close()

    def close(self) -> None:
        with self._socket_lock:
            self._closed = True
        self.conn.close()
        _WATCHDOG.discard(self)


class _Watchdog:
    """One daemon thread per process that looks at every open guarded session."""

    def __init__(self) -> None:
        self._sessions: weakref.WeakSet[GuardedSession] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, session: GuardedSession) -> None:
        with self._lock:
            self._sessions.add(session)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._watch, name="sluice-store-watchdog", daemon=True)
                self._thread.start()

    def discard(self, session: GuardedSession) -> None:
        with self._lock:
            self._sessions.discard(session)

    def _watch(self) -> None:
        while True:
            time.sleep(_TICK)
            with self._lock:
                sessions = list(self._sessions)
            now = time.monotonic()
            for session in sessions:
                session.check(now)


_WATCHDOG = _Watchdog()


def lease_settings(timeout: float, server_version: int) -> dict[str, str]:
    """The settings that make the server end a lock session silent for ``timeout`` seconds."""
    ms = str(max(1, round(timeout * 1000)))
    settings = {"idle_in_transaction_session_timeout": ms, "tcp_user_timeout": ms}
    if server_version >= 140000:
        settings["idle_session_timeout"] = ms
    return settings


class LeaseLock(PipelineLock):
    """A session advisory lock kept alive by heartbeats (see the module's docstring)."""

    def __init__(self, session: GuardedSession, key: int, timeout: float,
                 on_release: Callable[[], object] | None = None) -> None:
        self.session = session
        self._key = key
        self._interval = timeout / 4
        self._on_release = on_release
        self._stop = threading.Event()
        self._released = False
        self._beat = threading.Thread(target=self._heartbeat, name="sluice-lock-heartbeat", daemon=True)
        self._beat.start()

    def _heartbeat(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.session.execute("select 1")
            except StoreError:
                return  # the session is lost: alive() says so from now on

    def alive(self) -> bool:
        return not self._released and self.session.alive

    def release(self) -> None:
        if self._released:
            return
        self._released = True
        self._stop.set()
        self._beat.join(self.session.limit + 1)
        if self._on_release is not None:
            self._on_release()
        try:
            if self.session.alive:
                self.session.execute("select pg_advisory_unlock(%s)", (self._key,))
        except StoreError:
            pass  # the session is gone, and the lock with it
        finally:
            self.session.close()
