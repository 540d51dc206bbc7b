"""The spool's bookkeeping on PostgreSQL: what :mod:`taps.webhook.ledger` keeps in SQLite, in three
tables beside the spool table ``T``: ``T_meta``, ``T_readers`` and ``T_pruned`` (same columns).

The id is minted in the transaction that creates ``T`` (at position 0), or when this version first
opens an older spool (at its position then). ``T_meta`` also records the spool table's oid: a spool
table dropped and created again is a new spool, whose id, readers and pruned mark start afresh.

A prune chunk locks ``T`` in SHARE ROW EXCLUSIVE mode, which waits for the receiver's inserts in
flight and holds back new ones until the chunk (tombstones and deletions) has committed; an insert
that waited then reads the tombstones in its statement's snapshot, taken after its lock. So a
retry never slips between a delivery's deletion and its tombstone.
"""

from __future__ import annotations

import secrets
from typing import Any

import psycopg
from psycopg import sql

__all__ = ["PgLedger"]


def _ident(name: str) -> sql.Composable:
    return sql.SQL(".").join(sql.Identifier(part) for part in name.split("."))


class PgLedger:
    """The statements for spool table ``table``; each method runs in the caller's transaction."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.spool = _ident(table)
        self.meta = _ident(table + "_meta")
        self.readers = _ident(table + "_readers")
        self.pruned = _ident(table + "_pruned")
        self._index = sql.Identifier(table.split(".")[-1] + "_pruned_at")
        self._quoted = ".".join(f'"{part}"' for part in table.split("."))  # settings allow letters, digits, _

    def insert(self) -> sql.Composed:
        """The receiver's batch insert: not stored when spooled already, or pruned within the window."""
        return sql.SQL(
            "INSERT INTO {spool} (source, delivery_id, event_type, received_at, headers, body) "
            "SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::float8[], %s::text[], %s::bytea[]) "
            "AS u(source, delivery_id, event_type, received_at, headers, body) WHERE NOT EXISTS "
            "(SELECT 1 FROM {pruned} p WHERE p.source = u.source AND p.delivery_id = u.delivery_id) "
            "ON CONFLICT (source, delivery_id) DO NOTHING RETURNING source, delivery_id"
        ).format(spool=self.spool, pruned=self.pruned)

    def ensure(self, conn: psycopg.Connection[Any]) -> tuple[str, int]:
        """The tables, and the spool's id (minted when it has none, or its table is new): (id, position then)."""
        conn.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
                     .format(self.meta))
        conn.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} (reader TEXT PRIMARY KEY, position BIGINT NOT NULL, "
                             "seen_at DOUBLE PRECISION NOT NULL)").format(self.readers))
        conn.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} (source TEXT NOT NULL, delivery_id TEXT NOT NULL, "
                             "pruned_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (source, delivery_id))")
                     .format(self.pruned))
        conn.execute(sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (pruned_at)").format(self._index, self.pruned))
        conn.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(self.meta))  # one minter at a time
        meta = dict(conn.execute(sql.SQL("SELECT key, value FROM {}").format(self.meta)).fetchall())
        oid, position = conn.execute(
            "SELECT %s::regclass::oid::text, coalesce(pg_sequence_last_value(pg_get_serial_sequence(%s, 'seq')), 0)",
            (self._quoted, self._quoted)).fetchone() or ("", 0)
        if meta.get("table_oid") == oid and "spool_id" in meta:
            return meta["spool_id"], int(meta["identified_at"])
        spool_id = secrets.token_hex(8)
        conn.execute(sql.SQL("DELETE FROM {}").format(self.meta))
        conn.execute(sql.SQL("DELETE FROM {}").format(self.readers))
        conn.execute(sql.SQL("INSERT INTO {} (key, value) VALUES ('spool_id', %s), ('identified_at', %s), "
                             "('table_oid', %s)").format(self.meta), (spool_id, str(position), oid))
        return spool_id, int(position)

    def pruned_through(self, conn: psycopg.Connection[Any]) -> int:
        row = conn.execute(sql.SQL("SELECT value FROM {} WHERE key = 'pruned_through'").format(self.meta)).fetchone()
        return int(row[0]) if row else 0

    def claim(self, conn: psycopg.Connection[Any], reader: str, position: int, now: float, idle: float) -> int:
        """As :func:`taps.webhook.ledger.claim`."""
        conn.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(self.readers))
        conn.execute(sql.SQL("DELETE FROM {} WHERE seen_at < %s AND reader <> %s").format(self.readers),
                     (now - idle, reader))
        conn.execute(sql.SQL("INSERT INTO {} (reader, position, seen_at) VALUES (%s, %s, %s) ON CONFLICT (reader) "
                             "DO UPDATE SET position = excluded.position, seen_at = excluded.seen_at")
                     .format(self.readers), (reader, position, now))
        row = conn.execute(sql.SQL("SELECT min(position) FROM {}").format(self.readers)).fetchone()
        upto = int(row[0]) if row else position
        if upto > self.pruned_through(conn):
            conn.execute(sql.SQL("INSERT INTO {} (key, value) VALUES ('pruned_through', %s) ON CONFLICT (key) "
                                 "DO UPDATE SET value = excluded.value").format(self.meta), (str(upto),))
        return upto

    def prune_chunk(self, conn: psycopg.Connection[Any], low: int, high: int, now: float, keep: bool) -> int:
        conn.execute(sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(self.spool))
        if keep:
            conn.execute(sql.SQL("INSERT INTO {} (source, delivery_id, pruned_at) SELECT source, delivery_id, %s "
                                 "FROM {} WHERE seq >= %s AND seq <= %s ON CONFLICT (source, delivery_id) DO UPDATE "
                                 "SET pruned_at = excluded.pruned_at").format(self.pruned, self.spool),
                         (now, low, high))
        return conn.execute(sql.SQL("DELETE FROM {} WHERE seq >= %s AND seq <= %s").format(self.spool),
                            (low, high)).rowcount

    def purge(self, conn: psycopg.Connection[Any], before: float) -> int:
        found = conn.execute("SELECT to_regclass(%s)", (self._quoted[:-1] + '_pruned"',)).fetchone()
        if not found or found[0] is None:
            return 0  # a spool no run has given its bookkeeping yet
        return conn.execute(sql.SQL("DELETE FROM {} WHERE pruned_at < %s").format(self.pruned), (before,)).rowcount
