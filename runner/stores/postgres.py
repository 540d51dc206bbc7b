"""The PostgreSQL state store, for pipelines run from many hosts.

Locks are session advisory locks (``pg_try_advisory_lock``) on a 64-bit hash of the
pipeline's state id, held on a dedicated connection for the whole run. The server drops
them when that session ends: at once when the runner dies and its socket closes, and
within about a minute when its host disappears (TCP keepalives on both sides).
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
from typing import Any

import psycopg

from protocol import dumps, loads
from protocol.pg import first_line
from runner.stores.base import PipelineLock, SQLStore, StartedRun, StoreError, holder_description

__all__ = ["PostgresStore", "lock_key", "redact_url"]

# Keepalives: the client notices a dead server, the server notices a dead client host.
_CONNECT_ARGS: dict[str, Any] = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "application_name": "sluice",
    "options": "-c tcp_keepalives_idle=30 -c tcp_keepalives_interval=10 -c tcp_keepalives_count=3"
    " -c idle_session_timeout=0 -c idle_in_transaction_session_timeout=0",
}

_DDL_LOCK = 0x51C3_5C4E  # serializes CREATE TABLE IF NOT EXISTS between concurrent runners

_SCHEMA = [
    """create table if not exists sluice_state (
        state_id text primary key,
        value jsonb not null,
        updated_at timestamptz not null default now())""",
    """create table if not exists sluice_generation (
        state_id text primary key,
        generation bigint not null)""",
    """create table if not exists sluice_runs (
        id bigserial primary key,
        pipeline text not null,
        state_id text not null,
        started_at timestamptz not null default now(),
        ended_at timestamptz,
        status text not null,
        records_emitted bigint,
        records_committed bigint,
        error text,
        host text not null,
        pid integer not null)""",
    "create index if not exists sluice_runs_pipeline on sluice_runs (pipeline, id)",
    # runs are numbered per pipeline; a store from before that gets its history numbered in id order
    "alter table sluice_runs add column if not exists run_number bigint",
    """update sluice_runs set run_number = numbered.n
        from (select id, row_number() over (partition by pipeline order by id) as n from sluice_runs) numbered
        where sluice_runs.id = numbered.id and sluice_runs.run_number is null
        and exists (select 1 from sluice_runs where run_number is null)""",
    "create unique index if not exists sluice_runs_number on sluice_runs (pipeline, run_number)",
    """create table if not exists sluice_locks (
        state_id text primary key,
        holder text not null,
        since timestamptz not null default now())""",
]

_RUN_COLUMNS = (
    "id, pipeline, state_id, extract(epoch from started_at)::float8, extract(epoch from ended_at)::float8, status, "
    "records_emitted, records_committed, error, host, pid, coalesce(run_number, 0)"
)


def redact_url(url: str) -> str:
    """``postgresql://user:secret@host/db`` -> ``postgresql://user:***@host/db``."""
    return re.sub(r"(//[^:/@]*:).*@(?=[^@]*$)", r"\1***@", url)


def lock_key(state_id: str) -> int:
    """A signed 64-bit advisory lock key for a pipeline."""
    digest = hashlib.blake2b(f"sluice:{state_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _connect(url: str) -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(url, autocommit=True, **_CONNECT_ARGS)
    except psycopg.Error as exc:
        raise StoreError(f"cannot connect to the state store {redact_url(url)}: {first_line(exc)}") from exc


class _AdvisoryLock(PipelineLock):
    def __init__(self, conn: psycopg.Connection[Any], key: int) -> None:
        self._conn: psycopg.Connection[Any] | None = conn
        self._key = key

    def alive(self) -> bool:
        if self._conn is None:
            return False
        try:
            self._conn.execute("select 1")
        except psycopg.Error:
            return False
        return True

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.execute("select pg_advisory_unlock(%s)", (self._key,))
        except psycopg.Error:
            pass  # the session is gone, and the lock with it
        finally:
            conn.close()


class PostgresStore(SQLStore):
    _mark = "%s"
    _run_columns = _RUN_COLUMNS

    def __init__(self, url: str) -> None:
        self.url = url
        self.description = redact_url(url)
        self._db = _connect(url)
        try:
            with self._db.transaction():
                self._db.execute("select pg_advisory_xact_lock(%s)", (_DDL_LOCK,))
                for ddl in _SCHEMA:
                    self._db.execute(ddl)
        except psycopg.Error as exc:
            self._db.close()
            raise StoreError(f"state store {self.description}: {first_line(exc)}") from exc

    def _exec(self, sql: str, params: tuple[Any, ...] = ()) -> psycopg.Cursor[Any]:
        try:
            return self._db.execute(sql, params)  # type: ignore[arg-type]
        except psycopg.Error as exc:
            raise StoreError(f"state store {self.description}: {first_line(exc)}") from exc

    # -- states -------------------------------------------------------------------------
    def get_state(self, state_id: str) -> dict[str, Any] | None:
        row = self._exec("select value::text from sluice_state where state_id = %s", (state_id,)).fetchone()
        return None if row is None else loads(row[0])  # type: ignore[no-any-return]

    def set_state(self, state_id: str, value: dict[str, Any]) -> None:
        self._exec(
            "insert into sluice_state (state_id, value, updated_at) values (%s, %s::jsonb, now()) "
            "on conflict (state_id) do update set value = excluded.value, updated_at = excluded.updated_at",
            (state_id, dumps(value).decode()),
        )

    def list_states(self) -> list[tuple[str, float]]:
        rows = self._exec(
            "select state_id, extract(epoch from updated_at)::float8 from sluice_state order by state_id"
        ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def bump_generation(self, state_id: str) -> int:
        row = self._exec(
            "insert into sluice_generation (state_id, generation) values (%s, 1) on conflict (state_id) "
            "do update set generation = sluice_generation.generation + 1 returning generation", (state_id,)).fetchone()
        assert row is not None
        return int(row[0])

    # -- locks --------------------------------------------------------------------------
    def try_lock(self, state_id: str) -> PipelineLock | None:
        key = lock_key(state_id)
        conn = _connect(self.url)
        try:
            row = conn.execute("select pg_try_advisory_lock(%s)", (key,)).fetchone()
            if not row or not row[0]:
                conn.close()
                return None
            conn.execute(
                "insert into sluice_locks (state_id, holder, since) values (%s, %s, now()) "
                "on conflict (state_id) do update set holder = excluded.holder, since = excluded.since",
                (state_id, holder_description()),
            )
        except psycopg.Error as exc:
            conn.close()
            raise StoreError(f"state store {self.description}: cannot take the lock: {first_line(exc)}") from exc
        return _AdvisoryLock(conn, key)

    def lock_holder(self, state_id: str) -> str | None:
        row = self._exec("select holder from sluice_locks where state_id = %s", (state_id,)).fetchone()
        return None if row is None else str(row[0])

    # -- run history --------------------------------------------------------------------
    def start_run(self, pipeline: str, state_id: str) -> StartedRun:
        try:
            with self._db.transaction():
                # runs of one pipeline under different state ids hold different pipeline locks:
                # this transaction lock keeps them from taking the same number
                self._db.execute("select pg_advisory_xact_lock(%s)", (lock_key(f"run-number:{pipeline}"),))
                row = self._db.execute(
                    "insert into sluice_runs (pipeline, state_id, status, host, pid, run_number) "
                    "values (%s, %s, 'running', %s, %s, "
                    "(select coalesce(max(run_number), 0) + 1 from sluice_runs where pipeline = %s)) "
                    "returning id, run_number",
                    (pipeline, state_id, socket.gethostname(), os.getpid(), pipeline),
                ).fetchone()
        except psycopg.Error as exc:
            raise StoreError(f"state store {self.description}: {first_line(exc)}") from exc
        assert row is not None
        return StartedRun(int(row[0]), int(row[1]))

    def finish_run(
        self, run_id: int, status: str, records_emitted: int | None, records_committed: int | None, error: str | None
    ) -> None:
        self._exec(
            "update sluice_runs set ended_at = now(), status = %s, records_emitted = %s, records_committed = %s, "
            "error = %s where id = %s",
            (status, records_emitted, records_committed, error, run_id),
        )

    def abandon_stale_runs(self, state_id: str) -> int:
        cur = self._exec(
            "update sluice_runs set status = 'abandoned', ended_at = coalesce(ended_at, now()), "
            "error = coalesce(error, 'the runner died during the run') where state_id = %s and status = 'running'",
            (state_id,),
        )
        return cur.rowcount

    def close(self) -> None:
        self._db.close()
