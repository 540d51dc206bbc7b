"""The PostgreSQL state store, for pipelines run from many hosts.

Locks are session advisory locks (``pg_try_advisory_lock``) on a 64-bit hash of the
pipeline's state id, held on a dedicated session for the whole run; ``sluice_locks`` says who
holds each (host, pid, since, run), and ``pg_locks`` which of its rows are live. The server
drops a lock when its session ends: at once when the runner dies (its socket closes), and
``lock_timeout`` seconds after the runner's host went silent (its network gone), because the
session holds a lease (runner/stores/pg_session.py). Writes under a lock (the state, the
generation, the run's start) go through that session: a holder that lost its lock cannot
write any more.
"""

from __future__ import annotations

import os
from typing import Any

import psycopg

from protocol import dumps, loads
from protocol.pg import first_line
from runner.digests import blake2b
from runner.isolation import Redactor
from runner.stores.base import (
    DEFAULT_LOCK_TIMEOUT,
    LockInfo,
    LockLost,
    PipelineLock,
    ProgressWriter,
    SQLStore,
    StartedRun,
    StoreError,
    abandoned_error,
    host_name,
)
from runner.stores.dashboard import ProgressRow, progress_upsert
from runner.stores.pg_session import GuardedSession, LeaseLock, lease_settings
from runner.stores.urls import redact_url, url_passwords

__all__ = ["PostgresStore", "lock_key", "redact_url"]

MIN_QUERY_LIMIT = 10.0  # seconds: the least a query on the store's own session may take before it is given up

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
        value json not null,
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
    # who holds the lock, and the session holding it (a row is live while pg_locks shows its lock)
    """alter table sluice_locks add column if not exists host text, add column if not exists pid integer,
        add column if not exists pipeline text, add column if not exists run_id bigint,
        add column if not exists backend_pid integer, add column if not exists lock_key bigint""",
    # the dashboard (sluice ui): a run's tenant (named in its pipeline's name); its commands and log
    # tail, counts per stream at its end, live progress while it runs
    "alter table sluice_runs add column if not exists tenant text",
    """update sluice_runs set tenant = substr(pipeline, strpos(pipeline, '@') + 1)
        where tenant is null and strpos(pipeline, '@') > 0""",
    """create table if not exists sluice_run_streams (
        run_id bigint not null,
        stream text not null,
        emitted bigint,
        committed bigint,
        primary key (run_id, stream))""",
    """create table if not exists sluice_run_details (
        run_id bigint primary key,
        commands text,
        log_tail text)""",
    """create table if not exists sluice_run_progress (
        run_id bigint not null,
        stream text not null,
        records bigint not null,
        committed bigint,
        rate double precision,
        updated_at timestamptz not null default now(),
        primary key (run_id, stream))""",
    # a state is kept as the JSON text the target sent (json, not jsonb): it comes back exactly, key order
    # and numbers as written, and may hold "\u0000" (jsonb refuses it) and more than jsonb's 256 MiB
    "alter table sluice_state alter column value type json using value::json",
]
# the last steps of _SCHEMA are done: nothing to create (saves every runner the DDL lock)
_SCHEMA_DONE = """select 1 where to_regclass('sluice_run_progress') is not null and (select atttypid from pg_attribute
    where attrelid = to_regclass('sluice_state') and attname = 'value') = 'json'::regtype"""

# the rows of sluice_locks whose advisory lock (classid: high 32 bits of the key, objid: low) is held now
_LIVE_LOCKS = """select l.state_id, l.host, l.pid, extract(epoch from l.since)::float8, l.pipeline, l.run_id,
        r.run_number
    from sluice_locks l left join sluice_runs r on r.id = l.run_id
    where exists (select 1 from pg_locks p where p.locktype = 'advisory' and p.granted and p.objsubid = 1
        and p.pid = l.backend_pid and p.classid::bigint = ((l.lock_key >> 32) & 4294967295)
        and p.objid::bigint = (l.lock_key & 4294967295))"""

_RUN_COLUMNS = (
    "id, pipeline, state_id, extract(epoch from started_at)::float8, extract(epoch from ended_at)::float8, status, "
    "records_emitted, records_committed, error, host, pid, coalesce(run_number, 0)"
)


def lock_key(state_id: str) -> int:
    """A signed 64-bit advisory lock key for a pipeline."""
    digest = blake2b(f"sluice:{state_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _connect(url: str) -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(url, autocommit=True, **_CONNECT_ARGS)
    except psycopg.Error as exc:
        # libpq quotes what it could not parse (a password with a space or a stray %, the whole URI):
        # the URL's passwords are masked in its words too
        said = Redactor(url_passwords(url))(redact_url(first_line(exc)))
        raise StoreError(f"cannot connect to the state store {redact_url(url)}: {said}") from exc


class PostgresStore(SQLStore):
    _mark = "%s"
    _run_columns = _RUN_COLUMNS

    def __init__(self, url: str, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> None:
        self.url = url
        self.description = redact_url(url)
        self.lock_timeout = lock_timeout
        self._held: dict[str, LeaseLock] = {}  # the locks this store holds, by state id
        where = f"state store {self.description}"
        self._session = GuardedSession(_connect(url), where, max(lock_timeout, MIN_QUERY_LIMIT))
        try:
            self._session.run(_create_schema)
        except StoreError:
            self._session.close()
            raise

    def _exec(self, sql: str, params: tuple[Any, ...] = ()) -> psycopg.Cursor[Any]:
        return self._session.execute(sql, params)

    def _session_for(self, state_id: str) -> GuardedSession:
        """The session of the lock on ``state_id`` when this store holds it, else its own."""
        held = self._held.get(state_id)
        return self._session if held is None else held.session

    def _fenced(self, state_id: str, sql: str, params: tuple[Any, ...] = ()) -> psycopg.Cursor[Any]:
        return self._session_for(state_id).execute(sql, params)

    # -- states -------------------------------------------------------------------------
    def get_state(self, state_id: str) -> dict[str, Any] | None:
        row = self._exec("select value::text from sluice_state where state_id = %s", (state_id,)).fetchone()
        return None if row is None else loads(row[0])  # type: ignore[no-any-return]

    def set_state(self, state_id: str, value: dict[str, Any]) -> None:
        text = dumps(value).decode()

        def store(conn: psycopg.Connection[Any]) -> None:
            try:
                conn.execute(
                    "insert into sluice_state (state_id, value, updated_at) values (%s, %s::json, now()) "
                    "on conflict (state_id) do update set value = excluded.value, updated_at = excluded.updated_at",
                    (state_id, text))
            except (psycopg.DataError, psycopg.errors.ProgramLimitExceeded) as exc:  # the value, not the session
                raise StoreError(f"cannot store the state of '{state_id}' ({len(text):,} bytes of JSON) in "
                                 f"{self.description}: {first_line(exc)}") from exc

        self._session_for(state_id).run(store)

    def list_states(self) -> list[tuple[str, float]]:
        rows = self._exec(
            "select state_id, extract(epoch from updated_at)::float8 from sluice_state order by state_id"
        ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def bump_generation(self, state_id: str) -> int:
        row = self._fenced(
            state_id,
            "insert into sluice_generation (state_id, generation) values (%s, 1) on conflict (state_id) "
            "do update set generation = sluice_generation.generation + 1 returning generation", (state_id,)).fetchone()
        assert row is not None
        return int(row[0])

    # -- locks --------------------------------------------------------------------------
    def try_lock(self, state_id: str) -> PipelineLock | None:
        key, timeout = lock_key(state_id), self.lock_timeout
        session = GuardedSession(_connect(self.url), f"the lock of '{state_id}' in {self.description}",
                                 timeout / 2, lease=timeout / 2, lost_error=LockLost)

        def take(conn: psycopg.Connection[Any]) -> bool:
            settings = lease_settings(timeout, conn.info.server_version)
            calls = "".join("set_config(%s, %s, false), " for _ in settings)
            params = [item for pair in settings.items() for item in pair]
            row = conn.execute(f"select {calls}pg_try_advisory_lock(%s)", (*params, key)).fetchone()
            if not row or not row[-1]:
                return False
            mine = LockInfo.mine(state_id)
            conn.execute(
                "insert into sluice_locks (state_id, holder, since, host, pid, pipeline, run_id, backend_pid, "
                "lock_key) values (%s, %s, now(), %s, %s, null, null, pg_backend_pid(), %s) "
                "on conflict (state_id) do update set holder = excluded.holder, since = excluded.since, "
                "host = excluded.host, pid = excluded.pid, "
                "pipeline = null, run_id = null, backend_pid = excluded.backend_pid, lock_key = excluded.lock_key",
                (state_id, mine.describe(), mine.host, mine.pid, key),
            )
            return True

        try:
            taken = session.run(take)
        except StoreError as exc:
            session.close()
            raise StoreError(f"cannot take the lock of '{state_id}': {exc}") from exc
        if not taken:
            session.close()
            return None
        lock = LeaseLock(session, key, timeout, on_release=lambda: self._held.pop(state_id, None))
        self._held[state_id] = lock
        return lock

    def lock_holder(self, state_id: str) -> str | None:
        rows = self._exec(f"{_LIVE_LOCKS} and l.state_id = %s", (state_id,)).fetchall()
        return _lock_info(rows[0]).describe() if rows else None

    def locks(self) -> list[LockInfo]:
        return [_lock_info(row) for row in self._exec(f"{_LIVE_LOCKS} order by l.state_id").fetchall()]

    # -- run history --------------------------------------------------------------------
    def start_run(self, pipeline: str, state_id: str, tenant: str | None = None) -> StartedRun:
        held = state_id in self._held

        def insert(conn: psycopg.Connection[Any]) -> tuple[int, int]:
            with conn.transaction():
                # runs of one pipeline under different state ids hold different pipeline locks:
                # this transaction lock keeps them from taking the same number
                conn.execute("select pg_advisory_xact_lock(%s)", (lock_key(f"run-number:{pipeline}"),))
                row = conn.execute(
                    "insert into sluice_runs (pipeline, state_id, status, host, pid, tenant, run_number) "
                    "values (%s, %s, 'running', %s, %s, %s, "
                    "(select coalesce(max(run_number), 0) + 1 from sluice_runs where pipeline = %s)) "
                    "returning id, run_number",
                    (pipeline, state_id, host_name(), os.getpid(), tenant, pipeline),
                ).fetchone()
                assert row is not None
                if held:
                    conn.execute("update sluice_locks set pipeline = %s, run_id = %s where state_id = %s",
                                 (pipeline, row[0], state_id))
            return int(row[0]), int(row[1])

        return StartedRun(*self._session_for(state_id).run(insert))

    def finish_run(
        self, run_id: int, status: str, records_emitted: int | None, records_committed: int | None, error: str | None
    ) -> None:
        self._exec(
            "update sluice_runs set ended_at = now(), status = %s, records_emitted = %s, records_committed = %s, "
            "error = %s where id = %s",
            (status, records_emitted, records_committed, error, run_id),
        )

    def abandon_stale_runs(self, state_id: str) -> int:
        cur = self._fenced(
            state_id,
            "update sluice_runs set status = 'abandoned', ended_at = coalesce(ended_at, now()), "
            "error = coalesce(error, %s) where state_id = %s and status = 'running'",
            (abandoned_error(), state_id),
        )
        if cur.rowcount:
            self.clear_ended_progress()  # what the dead runner's live progress left
        return cur.rowcount

    def clock(self) -> float:
        row = self._exec("select extract(epoch from clock_timestamp())::float8").fetchone()
        assert row is not None
        return float(row[0])

    def _epoch(self, column: str) -> str:
        return f"extract(epoch from {column})::float8"

    def _state_text(self, column: str) -> str:
        return f"{column}::text"

    def progress_writer(self) -> ProgressWriter:
        limit = max(self.lock_timeout, MIN_QUERY_LIMIT)
        return _PostgresProgress(GuardedSession(_connect(self.url), f"progress in {self.description}", limit))

    def close(self) -> None:
        self._session.close()


class _PostgresProgress(ProgressWriter):
    """Progress on a session of its own: a slow write never holds up (or loses) the run's sessions."""

    def __init__(self, session: GuardedSession) -> None:
        self._session = session
        self._sql = progress_upsert("%s", "now()")

    def write(self, run_id: int, rows: list[ProgressRow]) -> None:
        def upsert(conn: psycopg.Connection[Any]) -> None:
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(self._sql, [(run_id, *row) for row in rows])

        self._session.run(upsert)

    def close(self) -> None:
        self._session.close()


def _create_schema(conn: psycopg.Connection[Any]) -> None:
    if conn.execute(_SCHEMA_DONE).fetchone():
        return
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (_DDL_LOCK,))
        for ddl in _SCHEMA:
            conn.execute(ddl)


def _lock_info(row: tuple[Any, ...]) -> LockInfo:
    state_id, host, pid, since, pipeline, run_id, run = row
    return LockInfo(state_id, host or "?", int(pid or 0), float(since), pipeline,
                    None if run_id is None else int(run_id), None if run is None else int(run))

