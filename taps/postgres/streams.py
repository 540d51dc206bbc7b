"""FULL_TABLE and INCREMENTAL reads: one ``COPY (SELECT ...) TO STDOUT`` per stream.

The server renders each row as one line of JSON (``row_to_json`` over the column
expressions of discovery.py), so the tap does no per-value work: a line becomes a RECORD
by concatenation. Numerics stay exact (raw JSON numbers), jsonb is embedded as is. The CSV
format with control characters as quote and delimiter never quotes JSON text (which holds
no raw control characters), so each COPY row is ``<record JSON> \\x02 <bookmark JSON>``.
COPY streams rows as the server produces them: memory stays flat however large the table.

Bookmarks (per stream, see protocol.state):
    FULL_TABLE   version, last_pk_fetched {key: value}  (both cleared when the table is done)
    INCREMENTAL  replication_key, replication_key_value  (reads are ``>=`` it, in key order)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from protocol.jsoncodec import loads
from protocol.metrics import emit
from protocol.state import Bookmarks
from protocol.tap import STATE_EVERY_RECORDS
from protocol.writer import MessageWriter
from taps.postgres.client import Source
from taps.postgres.discovery import Column, Table

__all__ = ["StreamPlan", "copy_rows", "sync_full_table", "sync_incremental"]

log = logging.getLogger("sluice.tap.postgres")

_COPY_OPTIONS = sql.SQL("WITH (FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01')")


@dataclass
class StreamPlan:
    """One selected stream: its table, the columns to read, and how."""

    name: str
    table: Table
    columns: list[Column]
    keys: list[str]
    method: str
    replication_key: str | None = None
    extra_properties: dict[str, Any] = field(default_factory=dict)
    json_as_object: bool = False

    def schema(self) -> dict[str, Any]:
        props = {c.name: c.schema(self.json_as_object) for c in self.columns}
        props.update(self.extra_properties)
        return {"type": "object", "properties": props}

    def write_schema(self, writer: MessageWriter) -> None:
        writer.write_schema(self.name, self.schema(), self.keys,
                            [self.replication_key] if self.replication_key else None)


def build_copy(plan: StreamPlan, *, where: sql.Composable | None, order: list[Column],
               side: list[Column], nulls_first: bool = False) -> sql.Composed:
    """COPY of ``row_to_json`` of the selected columns, plus a JSON array of ``side`` columns."""
    exprs = sql.SQL(", ").join(c.select_expr() for c in plan.columns)
    inner = sql.SQL("SELECT {} FROM {}").format(exprs, plan.table.ident)
    if where is not None:
        inner = sql.SQL("{} WHERE {}").format(inner, where)
    if order:
        suffix = sql.SQL(" ASC NULLS FIRST" if nulls_first else " ASC")
        inner = sql.SQL("{} ORDER BY {}").format(
            inner, sql.SQL(", ").join(sql.Composed([sql.Identifier(c.name), suffix]) for c in order))
    outputs: list[sql.Composable] = [sql.SQL("row_to_json(s)::text")]
    if side:
        outputs.append(sql.SQL("json_build_array({})::text").format(
            sql.SQL(", ").join(sql.Identifier("s", c.name) for c in side)))
    outer = sql.SQL("SELECT {} FROM ({}) s").format(sql.SQL(", ").join(outputs), inner)
    return sql.SQL("COPY ({}) TO STDOUT {}").format(outer, _COPY_OPTIONS)


def copy_rows(source: Source, query: sql.Composed, doing: str) -> Iterator[bytes]:
    """The raw COPY rows (each ending in a newline), streamed."""
    try:
        with source.conn.cursor() as cur, cur.copy(query) as copy:
            for data in copy:
                yield bytes(data)
    except psycopg.Error as exc:
        raise source.error(exc, doing) from exc


def _side(raw: bytes) -> list[Any]:
    cut = raw.find(b"\x02")
    value = loads(raw[cut + 1:].rstrip(b"\n"))
    assert isinstance(value, list)
    return value


def _stream_rows(source: Source, plan: StreamPlan, writer: MessageWriter, query: sql.Composed,
                 version: int | None, checkpoint: Any) -> int:
    """Write every row as a RECORD; call ``checkpoint(last_raw_row)`` every STATE_EVERY_RECORDS rows.

    Returns the row count; the last raw row is handed to ``checkpoint`` once more at the end.
    """
    name = plan.name
    write = writer.write_record_json
    count = 0
    last = b""
    started = time.monotonic()
    every = STATE_EVERY_RECORDS
    for raw in copy_rows(source, query, f"reading {plan.table.schema_name}.{plan.table.name}"):
        cut = raw.find(b"\x02")
        write(name, raw[:cut] if cut >= 0 else raw[:-1], version=version)
        count += 1
        if count % every == 0:
            checkpoint(raw)
        last = raw
    if last:
        checkpoint(last)
    emit("counter", "record_count", count, {"stream": name})
    emit("timer", "sync_duration", round(time.monotonic() - started, 6), {"stream": name, "status": "succeeded"})
    return count


def sync_full_table(source: Source, plan: StreamPlan, writer: MessageWriter, bookmarks: Bookmarks) -> None:
    """The whole table, in key order, resumable after the last key of the last STATE; then ACTIVATE_VERSION."""
    name = plan.name
    version = bookmarks.get(name, "version")
    if not isinstance(version, int):
        version = int(time.time() * 1000)
        bookmarks.set(name, "version", version)
        bookmarks.clear(name, "last_pk_fetched")
    keys = [plan.table.columns[k] for k in plan.keys if k in plan.table.columns]
    if len(keys) != len(plan.keys):
        keys = []  # a view whose declared keys are not columns: not resumable
    last_pk = bookmarks.get(name, "last_pk_fetched")
    where = None
    if keys and isinstance(last_pk, dict) and all(k.name in last_pk for k in keys):
        where = sql.SQL("({}) > ({})").format(
            sql.SQL(", ").join(sql.Identifier(k.name) for k in keys),
            sql.SQL(", ").join(k.from_json(last_pk[k.name]) for k in keys))
        log.info("stream '%s': resuming the full-table read after key %s", name, last_pk)
    else:
        bookmarks.clear(name, "last_pk_fetched")
    plan.write_schema(writer)
    writer.write_state(bookmarks.to_value())

    def checkpoint(raw: bytes) -> None:
        if keys:
            bookmarks.set(name, "last_pk_fetched", dict(zip([k.name for k in keys], _side(raw), strict=True)))
        writer.write_state(bookmarks.to_value())

    query = build_copy(plan, where=where, order=keys, side=keys)
    _stream_rows(source, plan, writer, query, version, checkpoint)
    writer.write_activate_version(name, version)
    bookmarks.clear(name, "last_pk_fetched")
    bookmarks.clear(name, "version")
    writer.write_state(bookmarks.to_value())


def sync_incremental(source: Source, plan: StreamPlan, writer: MessageWriter, bookmarks: Bookmarks) -> None:
    """Rows whose replication key is at or after the bookmark, in key order; the bookmark follows."""
    name = plan.name
    key = plan.replication_key
    assert key is not None
    column = plan.table.columns[key]
    value = bookmarks.get(name, "replication_key_value") if bookmarks.get(name, "replication_key") == key else None
    where = None
    if value is not None:
        where = sql.SQL("{} >= {}").format(sql.Identifier(key), column.from_json(value))
    plan.write_schema(writer)

    def checkpoint(raw: bytes) -> None:
        latest = _side(raw)[0]
        if latest is not None:
            bookmarks.set(name, "replication_key", key)
            bookmarks.set(name, "replication_key_value", latest)
        writer.write_state(bookmarks.to_value())

    query = build_copy(plan, where=where, order=[column], side=[column], nulls_first=True)
    _stream_rows(source, plan, writer, query, None, checkpoint)
    writer.write_state(bookmarks.to_value())
