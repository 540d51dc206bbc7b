"""The spool's bookkeeping beside its deliveries (SQLite; PostgreSQL: :mod:`taps.webhook.ledger_pg`).

    spool_meta ......... key/value: ``spool_id``, a random id minted when the spool is created (or
                         first opened by this version), carried in tap-webhook's STATE so a state is
                         never applied to another spool (one recreated under it would otherwise lose
                         the deliveries at or below the state's position to the prune);
                         ``identified_at``, the spool's position when the id was minted (0 for a new
                         spool: a state naming no spool can only come from before the id);
                         ``pruned_through``, the highest position any run has pruned up to
    spool_readers ...... each pipeline reading the spool (the reader id in its STATE): the position its
                         last run started from, which its target had committed, and when. A run prunes
                         only below every reader's position, so a second pipeline misses nothing
    pruned_deliveries .. tombstones: (source, delivery_id) of each pruned delivery, kept for
                         ``spool.dedupe_days``: the receiver answers a provider's late retry of one
                         "duplicate" instead of storing it again

Every function here runs inside the caller's transaction (``BEGIN IMMEDIATE``): SQLite has one
writer at a time, so a receiver's insert sees a prune chunk's tombstones and deletions together.
"""

from __future__ import annotations

import secrets
import sqlite3

__all__ = ["DDL", "claim", "ensure", "horizon", "identity", "prune_chunk", "pruned_through", "purge"]

DDL = (
    "CREATE TABLE IF NOT EXISTS spool_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS spool_readers (reader TEXT PRIMARY KEY, position INTEGER NOT NULL, "
    "seen_at REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS pruned_deliveries (source TEXT NOT NULL, delivery_id TEXT NOT NULL, "
    "pruned_at REAL NOT NULL, PRIMARY KEY (source, delivery_id)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS pruned_deliveries_at ON pruned_deliveries (pruned_at)",
)

#: The receiver's insert: a delivery already spooled, or pruned within the dedupe window, is not stored.
INSERT = ("INSERT INTO deliveries (source, delivery_id, event_type, received_at, headers, body) "
          "SELECT :source, :delivery_id, :event_type, :received_at, :headers, :body WHERE NOT EXISTS "
          "(SELECT 1 FROM pruned_deliveries WHERE source = :source AND delivery_id = :delivery_id) "
          "ON CONFLICT (source, delivery_id) DO NOTHING")


def horizon(conn: sqlite3.Connection) -> int:
    """The largest position the spool ever used (AUTOINCREMENT keeps it after a prune); 0 for none."""
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").fetchone():
        return 0
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'deliveries'").fetchone()
    return int(row[0]) if row else 0


def ensure(conn: sqlite3.Connection) -> None:
    """The bookkeeping tables, and the spool's id when it has none (minted at its current position)."""
    for statement in DDL:
        conn.execute(statement)
    conn.execute("INSERT OR IGNORE INTO spool_meta (key, value) VALUES ('spool_id', ?), ('identified_at', ?)",
                 (secrets.token_hex(8), str(horizon(conn))))


def identity(conn: sqlite3.Connection) -> tuple[str, int]:
    """The spool's id and the position it had when the id was minted."""
    meta = dict(conn.execute("SELECT key, value FROM spool_meta WHERE key IN ('spool_id', 'identified_at')"))
    return meta["spool_id"], int(meta["identified_at"])


def pruned_through(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM spool_meta WHERE key = 'pruned_through'").fetchone()
    return int(row[0]) if row else 0


def claim(conn: sqlite3.Connection, reader: str, position: int, now: float, idle_seconds: float) -> int:
    """Record ``reader`` at ``position``, forget readers idle too long; the position every reader has
    passed (what may be pruned), recorded as ``pruned_through``."""
    conn.execute("DELETE FROM spool_readers WHERE seen_at < ? AND reader <> ?", (now - idle_seconds, reader))
    conn.execute("INSERT INTO spool_readers (reader, position, seen_at) VALUES (?, ?, ?) "
                 "ON CONFLICT (reader) DO UPDATE SET position = excluded.position, seen_at = excluded.seen_at",
                 (reader, position, now))
    upto = int(conn.execute("SELECT min(position) FROM spool_readers").fetchone()[0])
    if upto > pruned_through(conn):
        conn.execute("INSERT OR REPLACE INTO spool_meta (key, value) VALUES ('pruned_through', ?)", (str(upto),))
    return upto


def prune_chunk(conn: sqlite3.Connection, low: int, high: int, now: float, keep: bool) -> int:
    """Delete the deliveries in ``[low, high]``, leaving a tombstone of each when ``keep``."""
    if keep:
        conn.execute("INSERT OR REPLACE INTO pruned_deliveries (source, delivery_id, pruned_at) "
                     "SELECT source, delivery_id, ? FROM deliveries WHERE seq >= ? AND seq <= ?", (now, low, high))
    return conn.execute("DELETE FROM deliveries WHERE seq >= ? AND seq <= ?", (low, high)).rowcount


def purge(conn: sqlite3.Connection, before: float) -> int:
    """Drop the tombstones older than the dedupe window."""
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'pruned_deliveries'").fetchone():
        return 0  # a spool no run has given its bookkeeping yet
    return conn.execute("DELETE FROM pruned_deliveries WHERE pruned_at < ?", (before,)).rowcount
