"""SQLite: the embedded default destination (stdlib sqlite3, WAL mode).

Types: SQLite stores any value in any column; the declared type only sets an affinity
that may *convert* values. Exact decimals would be rounded by NUMERIC affinity, so
numbers are stored as exact decimal text in ``DECIMAL_TEXT`` columns (TEXT affinity);
read them with ``CAST(x AS NUMERIC)`` or Python's ``Decimal``. SQLite cannot change a
column's type, so a widened field gets a sibling column (see targets/sql/table.py).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from protocol import (
    SQLITE_BUSY_SECONDS,
    Committed,
    ProtocolError,
    TargetError,
    dumps,
    enter_wal,
    whole_float,
    whole_number,
)
from targets.sql import statetable
from targets.sql import types as T
from targets.sql.dialect import (
    DELETED_COLUMN,
    OWNERS_TABLE,
    VERSION_COLUMN,
    Encoder,
    Loader,
    MetaValues,
    meta_row,
    quote_identifier,
    upsert_action,
    utc_now,
)
from targets.sql.table import Action, AddColumn, AddUniqueKey, AlterColumn, CreateTable, Existing, TableSpec

__all__ = ["SQLiteLoader"]

log = logging.getLogger("sluice.target.sqlite")

SQL_TYPES = {
    T.INTEGER: "INTEGER", T.NUMBER: "DECIMAL_TEXT", T.BOOLEAN: "BOOLEAN", T.TIMESTAMP: "TIMESTAMP",
    T.DATE: "DATE", T.TIME: "TIME", T.JSON: "JSON_TEXT", T.STRING: "TEXT",
}
LOGICAL = {v: k for k, v in SQL_TYPES.items()}
INT64 = 2**63


def _number(v: Any) -> Any:
    if v is None or v.__class__ is str:
        return v
    if v.__class__ is float:
        return repr(v) if not v.is_integer() or abs(v) >= 1e16 else str(int(v))
    if v.__class__ is bool:
        return "1" if v else "0"
    text = str(v)
    if v.__class__ is Decimal and "." in text and "E" not in text:
        # read exactly (16 digits or more): its trailing zeros dropped, as a float's text has none, so
        # that 1234567890123456.50 and 1234567890123456.5 are one key (they were two rows)
        text = text.rstrip("0").rstrip(".")
    return text


class _BeyondInt64(ValueError):
    """An integer SQLite cannot store exactly: past 64 bits, an INTEGER column's affinity turns
    it into a float (its text too), so it would be silently rounded."""


def _integer(v: Any) -> Any:
    if v.__class__ is int:
        if -INT64 <= v < INT64:
            return v
        raise _BeyondInt64(v)
    if v is None or v.__class__ is bool:
        return v
    if v.__class__ is float and v.is_integer():
        return _integer(whole_float(v))  # 1e30 is 10**30, past 64 bits
    if v.__class__ is Decimal and (whole := whole_number(v)) is not None:  # 1234567890123456.0, read exactly
        return _integer(whole)
    return _text(v)


def _beyond_int64(exc: _BeyondInt64, fields: list[tuple[str, Any]], record: dict[str, Any],
                  message: Any) -> ProtocolError:
    """The error for an integer past 64 bits: its stream, line and field."""
    (value,) = exc.args
    field = next((f for f, conv in fields if conv is _integer and _stands_for(record.get(f)) == value), None)
    return ProtocolError(f"integer {value} does not fit SQLite's 64-bit INTEGER (it would be stored rounded); "
                         f"declare the field as \"number\" to keep its digits as text",
                         line=getattr(message, "line", None), stream=getattr(message, "stream", None), field=field)


def _stands_for(v: Any) -> Any:
    """The integer a record's value stands for in an INTEGER column (a float such as 1e30: its text's)."""
    return whole_float(v) if v.__class__ is float and v.is_integer() else v


def _text(v: Any) -> Any:
    cls = v.__class__
    if v is None or cls is str:
        return v
    if cls is bool:
        return "true" if v else "false"
    if cls is dict or cls is list:
        return dumps(v).decode()
    if cls is float:
        return repr(v)
    return str(v)


def _json(v: Any) -> Any:
    return None if v is None else dumps(v).decode()


def _boolean(v: Any) -> Any:
    return v if v is None or v.__class__ is bool else _text(v)


CONVERT: dict[str, Callable[[Any], Any]] = {
    T.INTEGER: _integer, T.NUMBER: _number, T.BOOLEAN: _boolean, T.JSON: _json,
    T.TIMESTAMP: _text, T.DATE: _text, T.TIME: _text, T.STRING: _text,
}


def _same(value: Any) -> Any:
    return value


def _row_bytes(row: tuple[Any, ...]) -> int:
    """About the bytes a row holds in memory: text by its length, 8 for any value."""
    size = 8 * len(row)
    for value in row:
        if value.__class__ is str:
            size += len(value)
    return size


class SQLiteLoader(Loader):
    name = "sqlite"
    max_identifier_bytes = None
    case_insensitive = True
    can_alter = False
    can_alter_key = False
    chunk_size = 5_000 * 64  # without batch_size_bytes, rows are measured in columns: chunks are bounded by rows
    chunk_rows = 5_000

    def __init__(self, path: str, *, chunk_size: int | None = None) -> None:
        """``chunk_size``: batch_size_bytes; rows are then measured in bytes and sent to the
        database when the buffered bytes reach it."""
        self.path = path
        if chunk_size:
            self.chunk_size = chunk_size
            self.row_size = _row_bytes
        try:
            if path != ":memory:":
                Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(str(Path(path).expanduser()) if path != ":memory:" else path,
                                        isolation_level=None, timeout=SQLITE_BUSY_SECONDS)
            enter_wal(self.conn)
            self.conn.execute("PRAGMA synchronous=FULL")
        except (sqlite3.Error, OSError) as exc:
            raise TargetError(f"cannot open SQLite database {path}: {exc}") from exc
        self._in_tx = False
        self._statements: dict[tuple[str, bool, tuple[str, ...], tuple[str, ...]], str] = {}

    # -- plumbing -------------------------------------------------------------------

    def _begin(self) -> None:
        if not self._in_tx:
            self.conn.execute("BEGIN")
            self._in_tx = True

    def _run(self, what: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except sqlite3.Error as exc:
            raise TargetError(f"SQLite {what} failed: {exc}") from exc

    def _execute(self, what: str, sql: str, params: tuple[Any, ...] = ()) -> None:
        try:
            self.conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise TargetError(f"SQLite {what} failed: {exc}") from exc

    @staticmethod
    def _table(schema: str | None, table: str) -> str:
        return quote_identifier(table)

    # -- Loader ---------------------------------------------------------------------

    def check(self) -> str:
        def probe() -> str:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute("CREATE TABLE IF NOT EXISTS _sluice_check (x INTEGER)")
            self.conn.execute("ROLLBACK")
            return f"SQLite {sqlite3.sqlite_version} at {self.path} is writable"
        return str(self._run("check", probe))

    def describe(self, schema: str | None, table: str) -> Existing | None:
        def read() -> Existing | None:
            q = self._table(schema, table)
            cols = self.conn.execute(f"PRAGMA table_info({q})").fetchall()
            if not cols:
                return None
            columns = {c[1]: LOGICAL.get(str(c[2]).upper(), T.STRING) for c in cols}
            keys: list[tuple[str, ...]] = []
            pk = tuple(c[1] for c in sorted(cols, key=lambda c: c[5]) if c[5])
            if pk:
                keys.append(pk)
            for idx in self.conn.execute(f"PRAGMA index_list({q})").fetchall():
                if idx[2]:
                    info = self.conn.execute(f"PRAGMA index_info({quote_identifier(idx[1])})").fetchall()
                    keys.append(tuple(i[2] for i in sorted(info)))
            return Existing(columns, keys)
        result: Existing | None = self._run("describe", read)
        return result

    def owner(self, schema: str | None, table: str) -> str | None:
        def read() -> str | None:
            if not self.conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (OWNERS_TABLE,)).fetchone():
                return None
            row = self.conn.execute(f"SELECT stream FROM {quote_identifier(OWNERS_TABLE)} WHERE table_name = ?",
                                    (table,)).fetchone()
            return None if row is None else str(row[0])
        result: str | None = self._run("read of table owners", read)
        return result

    def record_owner(self, schema: str | None, table: str, stream: str, *, replace: bool) -> str:
        owners = quote_identifier(OWNERS_TABLE)
        self._begin()
        # NOCASE: table names are compared as SQLite compares identifiers (ASCII case folded)
        self._execute("create table owners", f"CREATE TABLE IF NOT EXISTS {owners} (table_name TEXT PRIMARY KEY "
                      "COLLATE NOCASE, stream TEXT NOT NULL, created_at TEXT NOT NULL)")
        on_conflict = "DO UPDATE SET table_name = excluded.table_name, stream = excluded.stream, created_at = " \
            "excluded.created_at" if replace else "DO NOTHING"
        self._execute("record of a table owner", f"INSERT INTO {owners} (table_name, stream, created_at) VALUES "
                      f"(?, ?, ?) ON CONFLICT (table_name) {on_conflict}", (table, stream, utc_now()))
        return str(self.owner(schema, table))

    def apply(self, schema: str | None, table: str, actions: list[Action]) -> None:
        q = self._table(schema, table)
        self._begin()
        for action in actions:
            if isinstance(action, CreateTable):
                cols = [f"{quote_identifier(n)} {SQL_TYPES[t]}" for n, t in action.columns]
                if action.key:
                    cols.append("PRIMARY KEY (" + ", ".join(quote_identifier(k) for k in action.key) + ")")
                sql = f"CREATE TABLE {q} (" + ", ".join(cols) + ")"
            elif isinstance(action, AddColumn):
                sql = f"ALTER TABLE {q} ADD COLUMN {quote_identifier(action.name)} {SQL_TYPES[action.logical]}"
            elif isinstance(action, AddUniqueKey):
                name = quote_identifier(f"{table}__key_" + "_".join(action.columns))
                sql = f"CREATE UNIQUE INDEX {name} ON {q} (" + ", ".join(map(quote_identifier, action.columns)) + ")"
            elif isinstance(action, AlterColumn):  # never planned: can_alter is False
                raise TargetError(f"SQLite cannot change the type of column {action.name}")
            self._execute(f"DDL on table {table}", sql)

    def encoder(self, spec: TableSpec, meta: MetaValues) -> Encoder:
        plain = [(c.source.field, CONVERT[c.logical]) for c in spec.columns if c.source.meta is None]
        extra = [c.source.meta for c in spec.columns if c.source.meta is not None]
        if not extra:
            def encode(record: dict[str, Any], message: Any) -> tuple[Any, ...]:
                get = record.get
                try:
                    return tuple([conv(get(f)) for f, conv in plain])
                except _BeyondInt64 as exc:
                    raise _beyond_int64(exc, plain, record, message) from None
            return encode

        order = [(c.source.meta, c.source.field, CONVERT[c.logical]) for c in spec.columns]
        values = meta_row(order, meta, extracted=_same, version=_same, sequence=_same)

        def encode_meta(record: dict[str, Any], message: Any) -> Any:
            try:
                return tuple(values(record, message))
            except _BeyondInt64 as exc:
                raise _beyond_int64(exc, plain, record, message) from None
        return encode_meta

    def _insert_sql(self, spec: TableSpec, upsert: bool) -> str:
        cache_key = (spec.table, upsert, tuple(spec.names), spec.superseded)
        sql = self._statements.get(cache_key)
        if sql is None:
            cols = ", ".join(quote_identifier(n) for n in spec.names)
            marks = ", ".join("?" for _ in spec.names)
            sql = f"INSERT INTO {self._table(spec.schema, spec.table)} ({cols}) VALUES ({marks})"
            if upsert:
                conflict = ", ".join(quote_identifier(k) for k in spec.key)
                sql += f" ON CONFLICT ({conflict}) {upsert_action(spec)}"
            self._statements[cache_key] = sql
        return sql

    def write(self, spec: TableSpec, rows: list[Any], *, upsert: bool, truncate: bool) -> None:
        self._begin()
        if truncate:
            self._run("delete", lambda: self.conn.execute(f"DELETE FROM {self._table(spec.schema, spec.table)}"))
        sql = self._insert_sql(spec, upsert)
        self._run(f"insert into table {spec.table}", lambda: self.conn.executemany(sql, rows))

    def commit(self) -> None:
        if self._in_tx:
            self._run("commit", lambda: self.conn.execute("COMMIT"))
            self._in_tx = False

    def rollback(self) -> None:
        if self._in_tx:
            self._in_tx = False
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.Error as exc:
                log.warning("rollback failed: %s", exc)

    def activate_version(self, spec: TableSpec, version: int, *, hard_delete: bool) -> None:
        q = self._table(spec.schema, spec.table)
        ver = quote_identifier(VERSION_COLUMN)
        old = f"({ver} IS NULL OR {ver} < ?)"
        self._begin()
        if hard_delete:
            self._run("delete", lambda: self.conn.execute(f"DELETE FROM {q} WHERE {old}", (version,)))
        else:
            deleted = quote_identifier(DELETED_COLUMN)
            self._run("update", lambda: self.conn.execute(
                f"UPDATE {q} SET {deleted} = ? WHERE {old} AND {deleted} IS NULL", (utc_now(), version)))

    def save_state(self, schema: str | None, state_id: str, committed: Committed) -> None:
        self._begin()
        self._execute("create of the state table", statetable.create_sql(None))
        sent = statetable.params(state_id, committed)
        self._execute("write of the committed state", statetable.upsert_sql(None, "?"), sent)
        row = self._run("read of the committed state",
                        lambda: self.conn.execute(statetable.check_sql(None, "?"), (state_id,)).fetchone())
        statetable.verify(row, state_id, sent)

    def load_state(self, schema: str | None, state_id: str) -> Committed | None:
        def read() -> Any:
            found = self.conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                                      (statetable.TABLE,)).fetchone()
            if not found:
                return None
            return self.conn.execute(statetable.select_sql(None, "?"), (state_id,)).fetchone()
        return statetable.from_row(self._run("read of the committed state", read))

    def close(self) -> None:
        self.rollback()
        self.conn.close()


