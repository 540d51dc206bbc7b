"""The PostgreSQL spool, read by tap-webhook (the table ``spool.table``; see :mod:`taps.webhook.reader`).

``seq`` is a BIGSERIAL, and PostgreSQL hands out sequence numbers before the inserting transaction
commits: a delivery at position 10 may become visible after one at 11. Reading up to 11 and
storing ``{"seq": 11}`` would skip 10 for ever (and prune it). So the horizon is taken under a
SHARE lock on the table, which waits for every transaction holding the ROW EXCLUSIVE lock an
INSERT takes before it draws its number: once granted, every position drawn so far (the
sequence's last value) is committed or rolled back. The lock is held only for that read.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from operator import itemgetter
from typing import Any

import psycopg
from psycopg import sql

from protocol import FatalSourceError, SourceError, plural
from protocol.pg import connect, first_line, refused_for_good, unreachable
from taps.webhook.ledger_pg import PgLedger
from taps.webhook.reader import PRUNE_CHUNK, Head, Row, pieces

__all__ = ["PgSpoolReader"]

log = logging.getLogger("tap_webhook")

LOCK_TIMEOUT = "30s"


def _table(name: str) -> sql.Composable:
    return sql.SQL(".").join(sql.Identifier(part) for part in name.split("."))


class PgSpoolReader:
    headers_rendered = True  # read as jsonb writes them, which is what a record holds

    def __init__(self, dsn: str, table: str) -> None:
        self.where = f"table {table}"
        self._table = _table(table)
        self._ledger = PgLedger(table)
        try:
            self._conn: psycopg.Connection[Any] = connect(dsn, {"application_name": "sluice tap-webhook"},
                                                          autocommit=True)
            quoted = ".".join(f'"{part}"' for part in table.split("."))  # settings allow letters, digits, _
            found = self._conn.execute("SELECT to_regclass(%s) IS NOT NULL, pg_get_serial_sequence(%s, 'seq')",
                                       (quoted, quoted)).fetchone()
        except psycopg.Error as exc:
            cause = unreachable(exc)
            message = f"PostgreSQL spool: {cause or first_line(exc)}"
            raise (FatalSourceError if cause is None and refused_for_good(exc) else SourceError)(message) from exc
        self._has_table = bool(found and found[0])
        self._sequence = found[1] if found else None
        us = "round(received_at * 1000000)::bigint"
        head = ("convert_to('{{\"delivery_id\":' || to_json(delivery_id)::text"
                " || ',\"event_type\":' || coalesce(to_json(event_type)::text, 'null')"
                " || ',\"headers\":' || headers::jsonb::text || ',\"received_at\":\"', 'UTF8')")
        self._select = sql.SQL(
            "SELECT seq, source, event_type, convert_to(delivery_id, 'UTF8'),"
            f" {us}, convert_to(headers::jsonb::text, 'UTF8'), body"
            " FROM {} WHERE seq > %s AND seq <= %s ORDER BY seq LIMIT %s").format(self._table)
        # (seq, body size) of the next deliveries: octet_length reads a stored body's size, not the body
        self._sizes = sql.SQL("SELECT seq, octet_length(body) FROM {} WHERE seq > %s AND seq <= %s "
                              "ORDER BY seq LIMIT %s").format(self._table)
        self._heads = sql.SQL(
            f"SELECT seq, {head}, {us} / 1000000,"
            f" convert_to('.' || lpad(({us} %% 1000000)::text, 6, '0') || 'Z\",\"body\":', 'UTF8')"
            " FROM {} WHERE seq >= %s AND seq <= %s").format(self._table)

    def _fail(self, what: str, exc: psycopg.Error) -> SourceError:
        return SourceError(f"PostgreSQL spool {self.where}: {what}: {first_line(exc)}")

    def horizon(self) -> int:
        if not self._has_table or not self._sequence:
            return 0
        try:
            with self._conn.transaction():
                self._conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(LOCK_TIMEOUT)))
                self._conn.execute(sql.SQL("LOCK TABLE {} IN SHARE MODE").format(self._table))
                row = self._conn.execute("SELECT coalesce(pg_sequence_last_value(%s::regclass), 0)",
                                         (self._sequence,)).fetchone()
        except psycopg.Error as exc:
            raise self._fail("cannot read its position", exc) from exc
        return int(row[0]) if row else 0

    def identity(self) -> tuple[str, int]:
        if not self._has_table:  # nothing was received: no spool to name yet
            return "", 0
        try:
            with self._conn.transaction():
                return self._ledger.ensure(self._conn)
        except psycopg.Error as exc:
            raise self._fail("cannot read its identity", exc) from exc

    def pruned_through(self) -> int:
        if not self._has_table:
            return 0
        try:
            return self._ledger.pruned_through(self._conn)
        except psycopg.Error as exc:
            raise self._fail("cannot read its readers", exc) from exc

    def claim(self, reader: str, position: int, now: float, idle_seconds: float) -> int:
        if not self._has_table:
            return 0
        try:
            with self._conn.transaction():
                return self._ledger.claim(self._conn, reader, position, now, idle_seconds)
        except psycopg.Error as exc:
            raise self._fail("cannot record its reader", exc) from exc

    def prune(self, upto: int, now: float | None = None, keep_seconds: float = 0.0) -> int:
        if not self._has_table:
            return 0
        now = time.time() if now is None else now
        deleted = 0
        try:
            low = self._conn.execute(sql.SQL("SELECT min(seq) FROM {}").format(self._table)).fetchone()
            start = low[0] if low and upto > 0 else None
            while start is not None and start <= upto:
                high = min(upto, start + PRUNE_CHUNK - 1)
                with self._conn.transaction():
                    deleted += self._ledger.prune_chunk(self._conn, start, high, now, keep_seconds > 0)
                start = high + 1
            purged = self._ledger.purge(self._conn, now - keep_seconds)
        except psycopg.Error as exc:
            raise self._fail("cannot prune it", exc) from exc
        if deleted:
            log.info("spool %s: pruned %s at or below position %d (loaded by every pipeline reading it)",
                     self.where, plural(deleted, "delivery", "deliveries"), upto)
        if purged:
            log.info("spool %s: forgot the ids of %s pruned over spool.dedupe_days ago", self.where,
                     plural(purged, "delivery", "deliveries"))
        return deleted

    def batches(self, after: int, upto: int, size: int, max_bytes: int | None = None) -> Iterator[list[Row]]:
        """As :meth:`SpoolReader.batches`. A client-side cursor holds a query's whole result, so with
        ``max_bytes`` the body sizes of the next ``size`` deliveries are read first (without their
        bodies) and each piece is a query of its own, up to the position where :func:`pieces` ends it."""
        if not self._has_table:
            return
        while after < upto:
            try:
                if max_bytes is None:
                    ends = [upto]
                else:
                    sizes = self._conn.execute(self._sizes, (after, upto, size)).fetchall()
                    ends = [piece[-1][0] for piece in pieces(sizes, max_bytes, itemgetter(1))]
                for end in ends:
                    rows: list[Row] = self._conn.execute(self._select, (after, end, size)).fetchall()
                    if not rows:
                        return
                    yield rows
                    after = rows[-1][0]
            except psycopg.Error as exc:
                raise self._fail("cannot read deliveries", exc) from exc
            if not ends:
                return

    def heads(self, first: int, last: int) -> dict[int, Head]:
        try:
            return {seq: (head, second, tail) for seq, head, second, tail in
                    self._conn.execute(self._heads, (first, last))}
        except psycopg.Error as exc:
            raise self._fail("cannot read deliveries", exc) from exc

    def quote(self, text: str | None) -> bytes:
        return self._one("SELECT convert_to(coalesce(to_json(%s::text)::text, 'null'), 'UTF8')", text)

    def render(self, headers: bytes) -> bytes:
        return self._one("SELECT convert_to(convert_from(%s, 'UTF8')::jsonb::text, 'UTF8')", headers)

    def _one(self, query: str, value: object) -> bytes:
        try:
            row = self._conn.execute(query, (value,)).fetchone()
        except psycopg.Error as exc:
            raise self._fail("cannot read deliveries", exc) from exc
        return bytes(row[0]) if row else b""

    def kinds(self) -> list[tuple[str, str | None]]:
        if not self._has_table:
            return []
        try:
            return [(s, e) for s, e in self._conn.execute(sql.SQL(
                "SELECT DISTINCT source, event_type FROM {} ORDER BY source, event_type").format(self._table))]
        except psycopg.Error as exc:
            raise self._fail("cannot read it", exc) from exc

    def depth(self) -> tuple[int, int | None, int | None]:
        if not self._has_table:
            return 0, None, None
        try:
            row = self._conn.execute(sql.SQL("SELECT count(*), min(seq), max(seq) FROM {}")
                                     .format(self._table)).fetchone()
        except psycopg.Error as exc:
            raise self._fail("cannot read it", exc) from exc
        return (int(row[0]), row[1], row[2]) if row else (0, None, None)

    def close(self) -> None:
        self._conn.close()

