"""The tap's side of the spool: read deliveries in ``seq`` order, find the horizon, prune.

One small interface (:class:`SpoolReader`) with two backends: SQLite here, PostgreSQL in
:mod:`taps.webhook.reader_pg`. Each row comes out as the columns the record is made of, raw:
``(seq, source, event_type, delivery_id, micros, headers, body)``, the id, headers and body as bytes and
``micros`` the received time in whole microseconds, rounded by the database. The tap builds each line
from them with joins (:mod:`taps.webhook.lines`). What it cannot copy byte for byte, the database
writes, exactly as the line has it: :meth:`SpoolReader.heads` gives the record's JSON before the
body (``{"delivery_id":...,"event_type":...,"headers":{...},"received_at":"``, the whole second, and
``.123456Z","body":``) for a range of positions. The tap asks for it once per kind of headers, and
for the rare batch holding an id that needs escaping or a time before 1970.

The horizon is the highest position allocated, of which every delivery is committed (or was rolled
back): a run reads ``(state, horizon]`` and leaves what arrives meanwhile for the next run. It never
moves backwards (SQLite's AUTOINCREMENT keeps the largest position ever used, pruned or not), so a
state past it means the spool is not the one the state was taken from.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Protocol, TypeVar

from protocol import FatalSourceError, SourceError, plural
from taps.webhook import ledger
from taps.webhook.settings import SpoolSettings

__all__ = ["Head", "Row", "SpoolReader", "open_reader"]

log = logging.getLogger("tap_webhook")

Row = tuple[int, str, "str | None", bytes, int, bytes, bytes]  # seq, source, event_type, delivery_id, micros,
# headers, body
T = TypeVar("T")
Head = tuple[bytes, int, bytes]  # the record before the body: up to received_at's quote, the second, the rest
PRUNE_CHUNK = 20_000  # rows deleted per transaction: the receiver's commits wait at most one chunk
BUSY_TIMEOUT_MS = 30_000


class SpoolReader(Protocol):
    """What tap-webhook needs of a spool."""

    where: str  # for messages: the file, or the table
    headers_rendered: bool  # rows carry the headers as the record has them (else: JSON text as stored)

    def horizon(self) -> int:
        """The highest position allocated so far; every delivery at or below it is committed."""

    def identity(self) -> tuple[str, int]:
        """The spool's id and the position it had when the id was minted (minting it if it has none)."""

    def pruned_through(self) -> int:
        """The highest position a run has pruned up to (0: none)."""

    def claim(self, reader: str, position: int, now: float, idle_seconds: float) -> int:
        """Record this run's reader at its starting position; the position every known reader has passed."""

    def prune(self, upto: int, now: float | None = None, keep_seconds: float = 0.0) -> int:
        """Delete the deliveries at or below ``upto``, keeping their ids ``keep_seconds`` (tombstones, so a
        late retry is a duplicate) and dropping older tombstones; how many deliveries were deleted."""

    def batches(self, after: int, upto: int, size: int, max_bytes: int | None = None) -> Iterator[list[Row]]:
        """The deliveries in ``(after, upto]`` in ``seq`` order, ``size`` at a time; with ``max_bytes``,
        each such batch comes in pieces holding about that many body bytes at most (at least one
        delivery each: see :func:`pieces`), so memory is bounded whatever the bodies' size."""

    def heads(self, first: int, last: int) -> dict[int, Head]:
        """The record before the body of each delivery in ``[first, last]``, written by the database."""

    def quote(self, text: str | None) -> bytes:
        """An event type as the record has it (a JSON string, or null), written by the database."""

    def render(self, headers: bytes) -> bytes:
        """A row's headers as the record has them, written by the database."""

    def kinds(self) -> list[tuple[str, str | None]]:
        """Each (source, event type) the spool holds."""

    def depth(self) -> tuple[int, int | None, int | None]:
        """How many deliveries are spooled, and the lowest and highest position."""

    def close(self) -> None: ...


def open_reader(spool: SpoolSettings) -> SpoolReader | None:
    """The spool's reader; None when an SQLite spool file does not exist yet (nothing received)."""
    if spool.backend == "postgres":
        from taps.webhook.reader_pg import PgSpoolReader

        return PgSpoolReader(str(spool.dsn), spool.table)
    if not Path(spool.path).exists():
        return None
    return SqliteSpoolReader(spool.path)


# The columns as stored (the id and headers as their bytes), and the received time in microseconds.
# ``_HEADS`` is the record before the body as SQLite writes it: the head up to received_at's opening
# quote, the whole second (formatted by the tap, once per second), and the microseconds with the "body"
# key. Both parts of the time come from the same rounded value, the one ``_SELECT`` reads.
_US = "CAST(round(received_at * 1000000) AS INTEGER)"
_SELECT = f"""
SELECT seq, source, event_type, CAST(delivery_id AS BLOB), {_US}, CAST(headers AS BLOB), CAST(body AS BLOB)
FROM deliveries WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?
"""
_HEADS = f"""
SELECT seq,
       CAST('{{"delivery_id":' || json_quote(delivery_id) || ',"event_type":' || json_quote(event_type)
            || ',"headers":' || json(headers) || ',"received_at":"' AS BLOB),
       {_US} / 1000000,
       CAST('.' || substr(1000000 + {_US} % 1000000, 2) || 'Z","body":' AS BLOB)
FROM deliveries WHERE seq >= ? AND seq <= ?
"""


def body_size(row: Row) -> int:
    """A row's body bytes: what bounds a piece of a batch (:func:`pieces`)."""
    return len(row[6])


def pieces(rows: Iterable[T], max_bytes: int | None, size: Callable[[T], int]) -> Iterator[list[T]]:
    """``rows`` in lists that end once their bodies (``size`` of each row) reach ``max_bytes`` (a piece
    is never empty, so a body larger than the bound still goes, alone); one list when ``max_bytes``
    is None. The rows are taken from ``rows`` as the pieces are: a database cursor is never read
    ahead of the drain."""
    piece: list[T] = []
    held = 0
    for row in rows:
        piece.append(row)
        held += size(row)
        if max_bytes is not None and held >= max_bytes:
            yield piece
            piece, held = [], 0
    if piece:
        yield piece


def _kind_order(kind: tuple[str, str | None]) -> tuple[str, bool, str]:
    """``ORDER BY source, event_type`` as SQLite sorts (BINARY: UTF-8 byte order is code point order;
    NULL first). SQLite's own ORDER BY here walks the unique index and looks up every row (~4.5 k
    instructions a delivery); a plain scan keeping a small distinct set costs ~1.2 k."""
    source, event_type = kind
    return source, event_type is not None, event_type or ""


def _lowest(db: sqlite3.Connection) -> int | None:
    low = db.execute("SELECT min(seq) FROM deliveries").fetchone()[0]
    return None if low is None else int(low)


class SqliteSpoolReader:
    """The SQLite spool (WAL mode): reads never wait for the receiver; a prune chunk may, briefly."""

    headers_rendered = False

    def __init__(self, path: str) -> None:
        self.where = path
        try:
            # mode=rw: never create the file (an absent spool is the receiver's to make)
            self._db = sqlite3.connect(f"file:{Path(path).resolve()}?mode=rw", uri=True, isolation_level=None,
                                       timeout=BUSY_TIMEOUT_MS / 1000)
            self._db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            self._has_table = bool(self._db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'deliveries'").fetchone())
        except sqlite3.Error as exc:
            raise FatalSourceError(f"spool {path}: cannot open it: {exc}") from exc

    def _fail(self, what: str, exc: sqlite3.Error) -> SourceError:
        return SourceError(f"spool {self.where}: {what}: {exc}")

    def horizon(self) -> int:
        if not self._has_table:
            return 0
        try:
            return ledger.horizon(self._db)
        except sqlite3.Error as exc:
            raise self._fail("cannot read its position", exc) from exc

    def _write(self, what: str, work: Callable[[sqlite3.Connection], T]) -> T:
        """``work`` in one write transaction (the receiver's commits wait for it, briefly)."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                done = work(self._db)
                self._db.execute("COMMIT")
            finally:
                if self._db.in_transaction:
                    self._db.rollback()
        except sqlite3.Error as exc:
            raise self._fail(what, exc) from exc
        return done

    def identity(self) -> tuple[str, int]:
        def read(db: sqlite3.Connection) -> tuple[str, int]:
            ledger.ensure(db)  # a spool written by an earlier receiver: given its id now
            return ledger.identity(db)
        return self._write("cannot read its identity", read)

    def pruned_through(self) -> int:
        try:
            known = self._db.execute("SELECT 1 FROM sqlite_master WHERE name = 'spool_meta'").fetchone()
            return ledger.pruned_through(self._db) if known else 0
        except sqlite3.Error as exc:
            raise self._fail("cannot read its readers", exc) from exc

    def claim(self, reader: str, position: int, now: float, idle_seconds: float) -> int:
        return self._write("cannot record its reader",
                           lambda db: ledger.claim(db, reader, position, now, idle_seconds))

    def prune(self, upto: int, now: float | None = None, keep_seconds: float = 0.0) -> int:
        now = time.time() if now is None else now
        deleted = 0
        if self._has_table and upto > 0:
            low = self._write("cannot prune it", _lowest)
            while low is not None and low <= upto:
                high = min(upto, low + PRUNE_CHUNK - 1)
                deleted += self._write("cannot prune it", partial(ledger.prune_chunk, low=low, high=high, now=now,
                                                                   keep=keep_seconds > 0))
                low = high + 1
        purged = self._write("cannot prune it", lambda db: ledger.purge(db, now - keep_seconds))
        if deleted:
            log.info("spool %s: pruned %s at or below position %d (loaded by every pipeline reading it)",
                     self.where, plural(deleted, "delivery", "deliveries"), upto)
        if purged:
            log.info("spool %s: forgot the ids of %s pruned over spool.dedupe_days ago", self.where,
                     plural(purged, "delivery", "deliveries"))
        return deleted

    def batches(self, after: int, upto: int, size: int, max_bytes: int | None = None) -> Iterator[list[Row]]:
        if not self._has_table:
            return
        while after < upto:
            try:
                cursor = self._db.execute(_SELECT, (after, upto, size))
            except sqlite3.Error as exc:
                raise self._fail("cannot read deliveries", exc) from exc
            found = False
            try:
                for rows in pieces(cursor if max_bytes is not None else cursor.fetchall(), max_bytes, body_size):
                    found = True
                    yield rows
                    after = rows[-1][0]
            except sqlite3.Error as exc:
                raise self._fail("cannot read deliveries", exc) from exc
            finally:
                cursor.close()
            if not found:
                return

    def heads(self, first: int, last: int) -> dict[int, Head]:
        try:
            return {seq: (head, second, tail) for seq, head, second, tail in
                    self._db.execute(_HEADS, (first, last))}
        except sqlite3.Error as exc:
            raise self._fail("cannot read deliveries", exc) from exc

    def quote(self, text: str | None) -> bytes:
        return self._one("SELECT CAST(json_quote(?) AS BLOB)", text)

    def render(self, headers: bytes) -> bytes:
        return self._one("SELECT CAST(json(CAST(? AS TEXT)) AS BLOB)", headers)

    def _one(self, query: str, value: object) -> bytes:
        try:
            return bytes(self._db.execute(query, (value,)).fetchone()[0])
        except sqlite3.Error as exc:
            raise self._fail("cannot read deliveries", exc) from exc

    def kinds(self) -> list[tuple[str, str | None]]:
        if not self._has_table:
            return []
        try:
            kinds = self._db.execute("SELECT DISTINCT source, event_type FROM deliveries NOT INDEXED").fetchall()
        except sqlite3.Error as exc:
            raise self._fail("cannot read it", exc) from exc
        return sorted(kinds, key=_kind_order)

    def depth(self) -> tuple[int, int | None, int | None]:
        if not self._has_table:
            return 0, None, None
        try:
            count, low, high = self._db.execute("SELECT count(*), min(seq), max(seq) FROM deliveries").fetchone()
        except sqlite3.Error as exc:
            raise self._fail("cannot read it", exc) from exc
        return int(count), low, high

    def close(self) -> None:
        self._db.close()
