"""FULL_TABLE and INCREMENTAL reads: one ``COPY (SELECT ...) TO STDOUT`` per stream.

The server renders each row as one line of JSON (``row_to_json`` over the column
expressions of discovery.py), so the tap does no per-value work: a line becomes a RECORD
by concatenation. Numerics stay exact (raw JSON numbers), jsonb is embedded as is. The CSV
format with control characters as quote and delimiter never quotes JSON text (which holds
no raw control characters), so each COPY row is the record's JSON and a newline. Only the
row under a STATE is parsed, for its bookmark (key or replication-key values).
COPY streams rows as the server produces them: memory stays flat however large the table.

Bookmarks (per stream, typed in protocol._bookmarks):
    FULL_TABLE   FullTableBookmark: version, last key or key ranges (parallel.py)  (cleared when done)
    INCREMENTAL  IncrementalBookmark: replication key and value  (reads are ``>=`` it, in key order)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field, replace
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql

from protocol import (
    Bookmarks,
    FatalSourceError,
    FullTableBookmark,
    IncrementalBookmark,
    JSONDecodeError,
    KeyRange,
    MessageWriter,
    RecordCounter,
    emit_metric,
    loads,
)
from taps.postgres.client import Source
from taps.postgres.discovery import Column, Table
from taps.postgres.nonfinite import NonFinite, marked_values
from taps.postgres.parallel import RangeReads, checkpoint_due, plan_ranges, range_where
from taps.postgres.surrogates import LoneSurrogates, repaired

__all__ = ["ROW", "ROW_JSON", "StreamPlan", "at_or_after", "ordering_problems", "sync_full_table",
           "sync_incremental"]

log = logging.getLogger("sluice.tap.postgres")

#: the alias of the subquery whose whole row (``alias.*``: never a column) row_to_json renders
ROW = "_sluice_row"
ROW_JSON = sql.SQL("row_to_json({}.*)").format(sql.Identifier(ROW))
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
    #: the keys are a primary key (unique, never null); false for a view's declared view-key-properties
    unique_keys: bool = True
    nonfinite: NonFinite = field(init=False)
    surrogates: LoneSurrogates = field(init=False, default_factory=LoneSurrogates)

    def __post_init__(self) -> None:
        self.nonfinite = NonFinite(self.name, tuple(self.keys))

    def scan(self, rows: bytes) -> bytes:
        """Server-rendered rows as they are emitted: lone surrogates replaced, NaN marks removed (each
        counted; a key column's NaN or ±Infinity raises FatalSourceError)."""
        return self.nonfinite.scan(self.surrogates.rows(rows))

    def report(self) -> None:
        """One WARNING per column whose values were emitted otherwise (null, U+FFFD), with the count."""
        self.nonfinite.report(self.name)
        self.surrogates.report(self.name)

    def schema(self) -> dict[str, Any]:
        props = {c.name: c.schema(self.json_as_object) for c in self.columns}
        props.update(self.extra_properties)
        return {"type": "object", "properties": props}

    def write_schema(self, writer: MessageWriter) -> None:
        writer.write_schema(self.name, self.schema(), self.keys,
                            [self.replication_key] if self.replication_key else None)


def ordering_problems(source: Source, plan: StreamPlan) -> list[str]:
    """Why the columns a read orders and compares by cannot be (an empty list: they can): a replication
    key, or a view's declared key, whose type PostgreSQL cannot order (json, xml, point, ...).

    The server decides, as it would mid-run after the SCHEMA: a probe of ``>=`` and ORDER BY, on no row.
    """
    if plan.method == "INCREMENTAL" and plan.replication_key:
        named = [("replication key", plan.table.columns[plan.replication_key])]
    elif plan.method == "FULL_TABLE" and not plan.unique_keys:
        named = [("view key property", plan.table.columns[k]) for k in plan.keys if k in plan.table.columns]
    else:
        return []
    problems = []
    for what, column in named:
        probe = sql.SQL("SELECT FROM {} WHERE false AND {c} >= {c} ORDER BY {c}").format(plan.table.aliased,
                                                                                       c=column.ref)
        try:
            with source.conn.cursor() as cur:
                cur.execute(probe)
        except pg_errors.UndefinedFunction:
            problems.append(f"{what} {column.name!r} has type {column.sql_type}, which PostgreSQL cannot order "
                            f"(no ordering operator): choose another column")
        except psycopg.Error as exc:
            raise source.error(exc, f"checking the {what} {column.name!r}") from exc
    return problems


def build_copy(plan: StreamPlan, *, where: sql.Composable | None, order: list[Column],
               nulls_first: bool = False) -> sql.Composed:
    """COPY of ``row_to_json`` of the selected columns, filtered and ordered."""
    exprs = sql.SQL(", ").join(c.select_expr(plan.json_as_object) for c in plan.columns)
    inner = sql.SQL("SELECT {} FROM {}").format(exprs, plan.table.aliased)
    if where is not None:
        inner = sql.SQL("{} WHERE {}").format(inner, where)
    if order:
        suffix = sql.SQL(" ASC NULLS FIRST" if nulls_first else " ASC")
        inner = sql.SQL("{} ORDER BY {}").format(
            inner, sql.SQL(", ").join(sql.Composed([c.ref, suffix]) for c in order))
    outer = sql.SQL("SELECT {}::text FROM ({}) {}").format(ROW_JSON, inner, sql.Identifier(ROW))
    return sql.SQL("COPY ({}) TO STDOUT {}").format(outer, _COPY_OPTIONS)


def _values(plan: StreamPlan, raw: bytes, names: list[str]) -> list[Any]:
    """The values of ``names`` in one raw row (as emitted: the bookmark form; a NaN or ±Infinity,
    emitted as null, as PostgreSQL's text of it, which a query reads back: ``"NaN"``)."""
    try:
        record = loads(repaired(raw[:-1])[0])
    except JSONDecodeError as exc:
        raise FatalSourceError(f"stream '{plan.name}': the last row read cannot be parsed for its bookmark: "
                               f"{exc}") from exc
    assert isinstance(record, dict)
    nonfinite = marked_values(raw)
    values = [nonfinite.get(name) if record[name] is None else record[name] for name in names]
    if plan.json_as_object:
        columns = plan.table.columns
        values = [_unwrapped(v) if columns[name].kind == "json" else v for name, v in zip(names, values, strict=True)]
    return values


def _unwrapped(value: Any) -> Any:
    """A json key's bookmark under json_as_object: the document a non-object was wrapped into
    (``{"value": 3}``) is the value it wraps (3), which the next read compares with the column. A
    source object that looks the same (``{"value": 3}`` itself) then gives a lower bookmark (jsonb
    sorts every object after every number, string, array and boolean): its rows are read again,
    never skipped. (The wrapped value as the bookmark skipped every row: no number is after it.)"""
    if value.__class__ is dict and len(value) == 1:
        inner = value.get("value", _NO_VALUE)
        if inner is not _NO_VALUE and inner is not None and inner.__class__ is not dict:
            return inner
    return value


_NO_VALUE = object()


def _stream_rows(source: Source, plan: StreamPlan, writer: MessageWriter, query: sql.Composed,
                 version: int | None, checkpoint: Any) -> int:
    """Write every row as a RECORD; call ``checkpoint(last_raw_row)`` at the end of the block
    of rows that reaches each STATE_EVERY_RECORDS rows, and once more at the end.

    Returns the row count.
    """
    name = plan.name
    write = writer.write_records_json
    count = 0
    last = b""
    started = time.monotonic()
    scan = plan.scan
    counter = RecordCounter(name, writer.flush)
    for rows, last, size in source.copy_blocks(query, f"reading {plan.table.schema_name}.{plan.table.name}"):
        write(name, scan(rows), version=version)
        before, count = count, count + size
        if checkpoint_due(count, before):
            checkpoint(last)
        if count >= counter.check_at:
            counter.tick(count)
    if last:
        checkpoint(last)
    counter.finish(count)
    emit_metric("timer", "sync_duration", round(time.monotonic() - started, 6), {"stream": name, "status": "succeeded"})
    return count


def _read_ranges(plan: StreamPlan, writer: MessageWriter, bookmarks: Bookmarks, key: Column,
                 ranges: tuple[KeyRange, ...], open_source: Callable[[], Source], bookmark: FullTableBookmark) -> None:
    name = plan.name
    queries = [build_copy(plan, where=range_where(key, part), order=[key]) for part in ranges]
    log.info("stream '%s': reading %d key ranges at once", name, len(ranges))
    write = writer.write_records_json
    version = bookmark.version
    last: dict[int, bytes] = {}
    count = 0
    started = time.monotonic()

    def checkpoint() -> None:
        parts = tuple(replace(part, last=_values(plan, last[i], [key.name])[0]) if i in last else part
                      for i, part in enumerate(ranges))
        bookmarks.write(name, replace(bookmark, key_ranges=parts))
        writer.write_state(bookmarks.to_value())

    reads = RangeReads(open_source, queries, f"reading {plan.table.schema_name}.{plan.table.name}")
    counter = RecordCounter(name, writer.flush)
    with closing(reads.batches()) as batches:
        for index, rows, final, size in batches:
            write(name, plan.scan(rows), version=version)
            last[index] = final
            before, count = count, count + size
            if checkpoint_due(count, before):
                checkpoint()
            if count >= counter.check_at:
                counter.tick(count)
    checkpoint()
    counter.finish(count)
    emit_metric("timer", "sync_duration", round(time.monotonic() - started, 6), {"stream": name, "status": "succeeded"})


def sync_full_table(source: Source, plan: StreamPlan, writer: MessageWriter, bookmarks: Bookmarks, *,
                    open_source: Callable[[], Source] | None = None, parallel: int = 1,
                    final_state: bool = True) -> None:
    """The whole table, in key order, resumable after the last key of the last STATE; then ACTIVATE_VERSION
    and (unless ``final_state`` is false: the caller writes it) the STATE without the read's bookmarks.

    With ``open_source`` and ``parallel`` > 1, a large table with an integer key is read in key
    ranges at once (parallel.py).
    """
    name = plan.name
    bookmark = bookmarks.read(name, FullTableBookmark)
    version = bookmark.version
    if version is None:
        version = int(time.time() * 1000)
        bookmark = FullTableBookmark(version=version)
        bookmarks.write(name, bookmark)
    keys = [plan.table.columns[k] for k in plan.keys if k in plan.table.columns]
    if len(keys) != len(plan.keys):
        keys = []  # a view whose declared keys are not columns: not resumable
    ranges = bookmark.key_ranges if len(keys) == 1 and plan.unique_keys else None
    if ranges is None:
        bookmark = replace(bookmark, key_ranges=None)
        bookmarks.write(name, bookmark)
        if open_source is not None and bookmark.last_pk is None and len(keys) == 1:
            ranges = plan_ranges(source, plan.table, keys[0], parallel)
    plan.write_schema(writer)
    if ranges is not None and open_source is not None:
        bookmark = replace(bookmark, last_pk=None, key_ranges=ranges)
        bookmarks.write(name, bookmark)
        writer.write_state(bookmarks.to_value())
        _read_ranges(plan, writer, bookmarks, keys[0], ranges, open_source, bookmark)
    else:
        _read_sequential(source, plan, writer, bookmarks, keys, bookmark)
    writer.write_activate_version(name, version)
    bookmarks.write(name, FullTableBookmark())
    if final_state:
        writer.write_state(bookmarks.to_value())


def _read_sequential(source: Source, plan: StreamPlan, writer: MessageWriter, bookmarks: Bookmarks,
                     keys: list[Column], bookmark: FullTableBookmark) -> None:
    name = plan.name
    last_pk = bookmark.last_pk
    if last_pk is not None and plan.json_as_object:  # as an earlier version wrote a json key's: wrapped
        last_pk = {k: _unwrapped(v) if k in plan.table.columns and plan.table.columns[k].kind == "json" else v
                   for k, v in last_pk.items()}
    where: sql.Composable | None = None
    if keys and last_pk is not None and all(k.name in last_pk for k in keys):
        if plan.unique_keys:
            where = sql.SQL("({}) > ({})").format(
                sql.SQL(", ").join(k.ref for k in keys),
                sql.SQL(", ").join(k.from_json(last_pk[k.name]) for k in keys))
            log.info("stream '%s': resuming the full-table read after key %s", name, last_pk)
        else:
            where = at_or_after(keys, last_pk)
            log.info("stream '%s': resuming the full-table read at view key %s (rows with that key are read "
                     "again)", name, last_pk)
    else:
        bookmark = replace(bookmark, last_pk=None)
        bookmarks.write(name, bookmark)
    writer.write_state(bookmarks.to_value())
    names = [k.name for k in keys]

    def checkpoint(raw: bytes) -> None:
        if keys:
            bookmarks.write(name, replace(bookmark, last_pk=dict(zip(names, _values(plan, raw, names), strict=True))))
        writer.write_state(bookmarks.to_value())

    query = build_copy(plan, where=where, order=keys)
    _stream_rows(source, plan, writer, query, bookmark.version, checkpoint)


def at_or_after(keys: list[Column], last: dict[str, Any]) -> sql.Composable:
    """Rows at or after the key ``last`` in the order ``ORDER BY k1, k2, ...`` gives (ascending, nulls last).

    A view's key is a declaration: it may repeat and hold nulls, which a row comparison
    ``(k1, k2) > (...)`` never matches. So the rows sharing ``last`` are read again (at least once,
    never lost) and null keys count as after every value, as the ORDER BY puts them.
    """
    clause: sql.Composable = sql.SQL("true")
    for key in reversed(keys):
        value = last[key.name]
        if value is None and key.kind == "json":  # the JSON document null (first in jsonb order), or no value
            clause = sql.SQL("({0} > {1} OR {0} IS NULL OR ({0} = {1} AND {2}))").format(
                key.ref, key.from_json(None, document=True), clause)
        elif value is None:
            clause = sql.SQL("({} IS NULL AND {})").format(key.ref, clause)
        else:
            clause = sql.SQL("({0} > {1} OR {0} IS NULL OR ({0} = {1} AND {2}))").format(
                key.ref, key.from_json(value), clause)
    return clause


def sync_incremental(source: Source, plan: StreamPlan, writer: MessageWriter, bookmarks: Bookmarks) -> None:
    """Rows whose replication key is at or after the bookmark, in key order; the bookmark follows."""
    name = plan.name
    key = plan.replication_key
    assert key is not None
    column = plan.table.columns[key]
    value = bookmarks.read(name, IncrementalBookmark).value_for(key)
    if plan.json_as_object and column.kind == "json":  # as an earlier version wrote it: wrapped
        value = _unwrapped(value)
    where = None
    if value is not None:
        where = sql.SQL("{} >= {}").format(column.ref, column.from_json(value))
    plan.write_schema(writer)

    def checkpoint(raw: bytes) -> None:
        latest = _values(plan, raw, [key])[0]
        if latest is not None:
            bookmarks.write(name, IncrementalBookmark(key, latest))
        writer.write_state(bookmarks.to_value())

    query = build_copy(plan, where=where, order=[column], nulls_first=True)
    if not _stream_rows(source, plan, writer, query, None, checkpoint):
        writer.write_state(bookmarks.to_value())  # no rows: no checkpoint wrote the stream's STATE
