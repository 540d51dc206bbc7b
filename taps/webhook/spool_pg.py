"""The PostgreSQL spool: the same columns as the SQLite one, in ``spool.table``.

A batch is one INSERT of arrays (one round trip) ``ON CONFLICT (source, delivery_id) DO NOTHING``,
skipping the ids pruned within ``spool.dedupe_days``, in one transaction; the commit returns once
the server has flushed its WAL (PostgreSQL's default
``synchronous_commit``), so an acknowledged delivery is durable. ``seq`` is a BIGSERIAL: with one
receiver per table the batches commit in ``seq`` order, which is what tap-webhook's ``{"seq": N}``
state relies on. A lost connection fails the batch (503) and is reopened for the next one.

PostgreSQL text cannot hold U+0000, which a provider's signed body may put in an event id or type
(SQLite stores it). Such a delivery is refused on its own (:class:`~taps.webhook.spool.Unstorable`,
422) before it joins a batch; storing a stand-in id instead would give the same delivery another
id than on SQLite, one that could also be some other delivery's. Headers never hold it (the HTTP
server refuses a NUL in a header with 400, and kept headers are stored as JSON text, escaped).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql

from protocol.pg import connect, first_line
from taps.webhook.ledger_pg import PgLedger
from taps.webhook.spool import Delivery, SpoolError, SpoolStats, SpoolWriter

__all__ = ["PgSpoolWriter", "create_table"]


def _table(name: str) -> sql.Composable:
    return sql.SQL(".").join(sql.Identifier(part) for part in name.split("."))


def create_table(conn: psycopg.Connection[Any], table: str) -> None:
    """The spool table and its unique (source, delivery_id) constraint, if absent, and its bookkeeping
    (:mod:`taps.webhook.ledger_pg`): a new table gets its id in the transaction creating it."""
    conn.execute(sql.SQL(
        "CREATE TABLE IF NOT EXISTS {} (seq BIGSERIAL PRIMARY KEY, source TEXT NOT NULL, delivery_id TEXT NOT NULL, "
        "event_type TEXT, received_at DOUBLE PRECISION NOT NULL, headers TEXT NOT NULL, body BYTEA NOT NULL, "
        "UNIQUE (source, delivery_id))").format(_table(table)))
    PgLedger(table).ensure(conn)


class PgSpoolWriter(SpoolWriter):
    def __init__(self, dsn: str, table: str, commit_window_ms: float = 0.0) -> None:
        super().__init__(commit_window_ms)
        self.dsn = dsn
        self.table = table
        self._conn: psycopg.Connection[Any] | None = None
        self._insert = PgLedger(table).insert()

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            try:
                self._conn = connect(self.dsn, {"application_name": "sluice tap-webhook serve"})
            except psycopg.Error as exc:
                raise SpoolError(f"cannot connect to the PostgreSQL spool: {first_line(exc)}") from exc
        return self._conn

    def _open(self) -> None:
        conn = self._connection()
        try:
            with conn.transaction():
                create_table(conn, self.table)
        except psycopg.Error as exc:
            raise SpoolError(f"cannot create the spool table {self.table}: {first_line(exc)}") from exc

    def _unstorable(self, delivery: Delivery) -> str | None:
        for what, text in (("delivery id", delivery.delivery_id), ("event type", delivery.event_type)):
            if text is not None and "\x00" in text:
                return f"its {what} holds U+0000, which a PostgreSQL text column cannot store"
        return None

    def _write(self, batch: Sequence[Delivery]) -> list[bool]:
        conn = self._connection()
        try:
            with conn.transaction():
                rows = conn.execute(self._insert, (
                    [d.source for d in batch], [d.delivery_id for d in batch], [d.event_type for d in batch],
                    [d.received_at for d in batch], [d.headers for d in batch], [d.body for d in batch],
                )).fetchall()
        except psycopg.Error as exc:
            if conn.broken:
                conn.close()
            raise SpoolError(f"PostgreSQL spool {self.table}: {first_line(exc)}") from exc
        new = {(source, delivery_id) for source, delivery_id in rows}
        stored = []
        for d in batch:  # a re-delivery inside one batch: only its first copy was inserted
            key = (d.source, d.delivery_id)
            stored.append(key in new)
            new.discard(key)
        return stored

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _stats(self) -> SpoolStats:
        try:
            with connect(self.dsn, {"application_name": "sluice tap-webhook serve"}, autocommit=True) as conn:
                depth, oldest = conn.execute(sql.SQL(
                    "SELECT count(*), (SELECT received_at FROM {0} ORDER BY seq LIMIT 1) FROM {0}"
                ).format(_table(self.table))).fetchone() or (0, None)
        except psycopg.Error as exc:
            raise SpoolError(f"PostgreSQL spool {self.table}: {first_line(exc)}") from exc
        return SpoolStats(int(depth), oldest)
