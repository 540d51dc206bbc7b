"""DuckDB: every chunk is a CSV file that DuckDB's own reader parses (in C, in parallel),
loaded on a worker thread while the next chunk is built (chunks.py, connection.py).

The CSV text is built in bulk from the fast lane's decoded records (targets/sql/rawrows.py)
or record by record (csvtext.py). Everything runs in one transaction the target commits
before it emits a STATE; DuckDB has no savepoints, so a failed statement fails the run and
the transaction is rolled back. A table the run creates gets its key's PRIMARY KEY just before
the first COMMIT (or before a load that needs its index): its rows are loaded without one.

Types: integer HUGEINT (128 bits), number DECIMAL(38,18) (or DOUBLE or exact text, see the
setting number_type), date-time TIMESTAMPTZ, date DATE, time TIME, objects and arrays JSON,
anything else VARCHAR. DuckDB compares identifiers without regard to case, as SQLite does.
"""

from __future__ import annotations

import functools
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from protocol import Bounds, Committed, TargetError
from targets.duckdb.chunks import LoadPlan, qualified
from targets.duckdb.connection import MAX_PENDING, Connection
from targets.duckdb.csvtext import row_encoder
from targets.duckdb.timetext import cast_text
from targets.sql import statetable
from targets.sql import types as T
from targets.sql.chunkkeys import KeyStats
from targets.sql.chunklines import ChunkOrigin
from targets.sql.dialect import (
    DELETED_COLUMN,
    OWNERS_TABLE,
    VERSION_COLUMN,
    Encoder,
    Loader,
    MetaValues,
    quote_identifier,
    utc_now,
)
from targets.sql.table import Action, AddColumn, AddUniqueKey, AlterColumn, CreateTable, Existing, TableSpec

__all__ = ["DuckDBLoader", "sql_types"]

_INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                  "UBIGINT", "UHUGEINT"}
_FROM_DUCKDB = {"BOOLEAN": T.BOOLEAN, "TIMESTAMP WITH TIME ZONE": T.TIMESTAMP, "TIMESTAMP": T.TIMESTAMP,
                "DATE": T.DATE, "TIME": T.TIME, "JSON": T.JSON, "DOUBLE": T.NUMBER, "FLOAT": T.NUMBER}
_CSV_LIMIT = 2_000_000  # read_csv's default longest line (max_line_size): 2,000,000 bytes, not 2 MiB
#: DuckDB 1.2 and 1.3 leave the rows a transaction inserted before its ``ADD PRIMARY KEY`` out of
#: the key's index until the COMMIT: a later ``ON CONFLICT`` in that transaction inserts a second
#: row for their keys and the COMMIT fails. 1.4 and later index them at once.
LATE_KEYS = (1, 4)
#: the first DuckDB whose read_json reads a JSON number into a DECIMAL from its text (``json_runs``)
EXACT_JSON_DECIMALS = (2, 0, 1)


def sql_types(number_type: str) -> dict[str, str]:
    return {T.INTEGER: "HUGEINT", T.NUMBER: number_type, T.BOOLEAN: "BOOLEAN", T.TIMESTAMP: "TIMESTAMPTZ",
            T.DATE: "DATE", T.TIME: "TIME", T.JSON: "JSON", T.STRING: "VARCHAR"}


def _logical(declared: str) -> str:
    if declared in _INTEGER_TYPES:
        return T.INTEGER
    if declared.startswith("DECIMAL"):
        return T.NUMBER
    return _FROM_DUCKDB.get(declared, T.STRING)


def _using(col: str, old: str, new: str, types: dict[str, str]) -> str:
    """The value of a column whose type widens from ``old`` to ``new``: a decimal becomes the
    text of its value without the scale's trailing zeros (2.5, not 2.500000000000000000)."""
    if new == T.JSON:
        return f"to_json({col})"
    if new == T.STRING and old == T.NUMBER and types[T.NUMBER].startswith("DECIMAL"):
        return rf"regexp_replace(regexp_replace(CAST({col} AS VARCHAR), '(\.[0-9]*?)0+$', '\1'), '\.$', '')"
    return f"CAST({col} AS {types[new]})"


_HUGEINT = Bounds(-(2**127) - 1, 2**127, "HUGEINT: 128 bits")


def _number_bounds(declared: str) -> Bounds | None:
    """What a number column holds: DECIMAL(p,s) less than 10^(p-s) in magnitude, DOUBLE a finite float."""
    found = re.fullmatch(r"DECIMAL\((\d+),(\d+)\)", declared)
    if found:
        whole = int(found[1]) - int(found[2])
        return Bounds(-(10**whole), 10**whole, f"{declared}: less than 10^{whole} in magnitude; number_type: double "
                                               "or text loads it")
    if declared == "DOUBLE":
        top = int(sys.float_info.max) + 1
        return Bounds(-top, top, "DOUBLE: a finite float; number_type: text loads it")
    return None


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


_qual = qualified


class DuckDBLoader(Loader):
    name = "duckdb"
    max_identifier_bytes = None
    case_insensitive = True  # DuckDB finds "Id" and "id" to be one column, quoted or not
    can_alter = True
    can_alter_key = False  # "Cannot change the type of a column that has a UNIQUE or PRIMARY KEY constraint"
    parses_times = True
    chunk_size = 8 * 1024 * 1024  # loaded while the next is read: small enough that the last one is short
    chunk_rows = 500_000
    csv_rows = True
    key_stats = True  # the chunk's keys gathered by the sink: the file is not read for them
    stores_nul = True  # VARCHAR holds NUL characters: text is loaded as it is

    schema: str

    def __init__(self, path: str, schema: str, *, number_type: str = "DECIMAL(38,18)", temp_dir: str | None = None,
                 chunk_size: int | None = None) -> None:
        self.path = path
        self.schema = schema
        if chunk_size:
            self.chunk_size = chunk_size
        self.types = sql_types(number_type)
        self.db = Connection(path)
        # JSON lines are read by DuckDB itself, numbers from their text; a number kept as text
        # ('text') is written the way the CSV builder writes it, so that path stays. Before DuckDB
        # 2.0.1, read_json reads every JSON number as a double first (9007199254740993.0 became
        # ...992, 2363.0 a DECIMAL 2363.000000000000262144): there the CSV builder writes decimals
        exact = self.db.version >= EXACT_JSON_DECIMALS
        self.json_runs = number_type == "DOUBLE" or (number_type != "VARCHAR" and exact)
        try:
            self._tmp = Path(tempfile.mkdtemp(prefix="sluice-duckdb-", dir=temp_dir))
        except OSError as exc:
            self.db.close()
            raise TargetError(f"cannot create a temporary directory in {temp_dir or tempfile.gettempdir()}: "
                              f"{exc}") from exc
        self._chunks = 0
        self._columns: dict[tuple[str | None, str], set[str]] = {}  # every column of a table, as described
        self._schema_ready = False
        #: tables created in the open transaction, loaded without their key's index: (schema, table)
        #: compared as DuckDB does -> (qualified table, key columns), declared before the COMMIT or
        #: before a load that needs the index (_declare)
        self._undeclared: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {}
        self._bounds = {T.INTEGER: _HUGEINT, T.NUMBER: _number_bounds(self.types[T.NUMBER])}

    def number_bounds(self, logical: str) -> Bounds | None:
        return self._bounds.get(logical)

    # -- inspection -----------------------------------------------------------------

    def check(self) -> str:
        (version,) = self.db.run("check", "SELECT version()")[0]
        self.db.write("check", "CREATE TEMP TABLE IF NOT EXISTS sluice_check (x INTEGER)")
        self.db.rollback()
        return f"DuckDB {version} at {self.path} is writable"

    def _find(self, schema: str | None, table: str) -> str | None:
        """The table's name as the database holds it (names compare without regard to ASCII case)."""
        rows = self.db.run("describe", "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = "
                           "current_database() AND NOT temporary")
        want = self._same(schema, table)
        return next((str(t) for s, t in rows if self._same(str(s), str(t)) == want), None)

    def _same(self, schema: str | None, table: str) -> tuple[str, str]:
        key = self.mapper().same_key
        return key(schema or "main"), key(table)

    def describe(self, schema: str | None, table: str) -> Existing | None:
        name = self._find(schema, table)
        if name is None:
            return None
        where = "database_name = current_database() AND lower(schema_name) = lower(?) AND table_name = ?"
        cols = self.db.run("describe", f"SELECT column_name, data_type FROM duckdb_columns() WHERE {where} "
                           "ORDER BY column_index", (schema or "main", name))
        undeclared = self._undeclared.get(self._same(schema, table))
        if undeclared is not None:  # created by this transaction: its key is the one to declare
            keys: list[tuple[str, ...]] = [undeclared[1]]
        else:
            found = self.db.run("describe", f"SELECT constraint_column_names FROM duckdb_constraints() WHERE "
                                f"{where} AND constraint_type IN ('PRIMARY KEY', 'UNIQUE')", (schema or "main", name))
            keys = [tuple(k[0]) for k in found]
        self._columns[(schema, table)] = {str(c) for c, _ in cols}
        return Existing({str(c): _logical(str(t)) for c, t in cols}, keys)

    def owner(self, schema: str | None, table: str) -> str | None:
        if self._find(schema, OWNERS_TABLE) is None:
            return None
        key = self.mapper().same_key
        rows = self.db.run("read of table owners", f"SELECT table_name, stream FROM {_qual(schema, OWNERS_TABLE)}")
        return next((str(s) for t, s in rows if key(str(t)) == key(table)), None)

    def record_owner(self, schema: str | None, table: str, stream: str, *, replace: bool) -> str:
        self._ensure_schema()
        owners = _qual(schema, OWNERS_TABLE)
        self.db.write("create of the table owners", f"CREATE TABLE IF NOT EXISTS {owners} (table_name VARCHAR "
                      "PRIMARY KEY, stream VARCHAR NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now())")
        key = self.mapper().same_key
        rows = self.db.run("read of table owners", f"SELECT table_name FROM {owners}")
        same = [str(t) for (t,) in rows if key(str(t)) == key(table)]
        if same and replace:
            for name in same:
                self.db.write("record of a table owner", f"DELETE FROM {owners} WHERE table_name = ?", (name,))
            same = []
        if not same:
            self.db.write("record of a table owner", f"INSERT INTO {owners} (table_name, stream) VALUES (?, ?)",
                          (table, stream))
        return str(self.owner(schema, table))

    # -- DDL ------------------------------------------------------------------------

    def _ensure_schema(self) -> None:
        if not self._schema_ready:
            self.db.write("create of the schema", f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(self.schema)}")
            self._schema_ready = True

    def apply(self, schema: str | None, table: str, actions: list[Action]) -> None:
        self._ensure_schema()
        q = _qual(schema, table)
        types = self.types
        for action in actions:
            if isinstance(action, CreateTable):
                sql = self._create(schema, table, action)
            elif isinstance(action, AddColumn):
                col = quote_identifier(action.name)
                sql = f"ALTER TABLE {q} ADD COLUMN IF NOT EXISTS {col} {types[action.logical]}"
            elif isinstance(action, AddUniqueKey):
                self._declare(schema, table)  # a key declared already refuses a second, as DuckDB says
                sql = f"ALTER TABLE {q} ADD PRIMARY KEY (" + ", ".join(map(quote_identifier, action.columns)) + ")"
            elif isinstance(action, AlterColumn):
                col = quote_identifier(action.name)
                using = _using(col, action.old, action.new, types)
                sql = f"ALTER TABLE {q} ALTER COLUMN {col} SET DATA TYPE {types[action.new]} USING {using}"
            self.db.write(f"DDL on table {table}", sql)

    def _create(self, schema: str | None, table: str, action: CreateTable) -> str:
        """The table, its key columns NOT NULL and the key itself declared by :meth:`_declare`:
        rows loaded into a table without an index take ~8% less of DuckDB's time (200,000
        records, bench/), and the key's index built once, at the COMMIT, costs next to nothing.
        A table that exists already is an error here (the sink creates only what it did not find).
        DuckDB before LATE_KEYS gets the key at once (see there)."""
        key = set(action.key)
        cols = [f"{quote_identifier(n)} {self.types[t]}{' NOT NULL' if n in key else ''}" for n, t in action.columns]
        if action.key and self.db.version >= LATE_KEYS:
            self._undeclared[self._same(schema, table)] = (_qual(schema, table), action.key)
            return f"CREATE TABLE {_qual(schema, table)} (" + ", ".join(cols) + ")"
        if action.key:
            cols.append("PRIMARY KEY (" + ", ".join(map(quote_identifier, action.key)) + ")")
        return f"CREATE TABLE IF NOT EXISTS {_qual(schema, table)} (" + ", ".join(cols) + ")"

    def _declare(self, schema: str | None, table: str) -> None:
        """Declare the key of a table created by this transaction (a no-op for any other)."""
        found = self._undeclared.pop(self._same(schema, table), None)
        if found is not None:
            self._add_key(*found)

    def _add_key(self, q: str, key: tuple[str, ...]) -> None:
        self.db.write("declaration of the primary key",
                      f"ALTER TABLE {q} ADD PRIMARY KEY (" + ", ".join(map(quote_identifier, key)) + ")")

    # -- rows -----------------------------------------------------------------------

    def encoder(self, spec: TableSpec, meta: MetaValues) -> Encoder:
        return row_encoder(spec, meta, double=self.types[T.NUMBER] == "DOUBLE")

    def write(self, spec: TableSpec, rows: list[Any], *, upsert: bool, truncate: bool) -> None:
        data = "".join(rows).encode("utf-8", "surrogatepass")
        self._load(spec, data, spec.names, upsert=upsert, truncate=truncate)

    def write_csv(self, spec: TableSpec, data: bytes, columns: list[str], *, upsert: bool, truncate: bool,
                  keys: KeyStats | None = None) -> None:
        self._load(spec, data, columns, upsert=upsert, truncate=truncate, keys=keys)

    def write_json(self, spec: TableSpec, data: list[bytes], fields: list[tuple[str, str]], nulls: list[str], *,
                   upsert: bool, truncate: bool, keys: KeyStats | None = None,
                   origin: ChunkOrigin | None = None) -> None:
        logical = {c.name: c.logical for c in spec.columns}
        # a date-time is read as text and cast; RFC 3339 allows "t" and "z", DuckDB does not: text
        # the cast refuses is cast again upper-cased (upper-casing every value took 5-8% of the load)
        texts = {c for c, _ in fields if logical[c] in (T.TIMESTAMP, T.DATE)}  # read as text, cast below
        kinds = ", ".join(f"{_literal(f)}: '{'VARCHAR' if c in texts else self.types[logical[c]]}'" for c, f in fields)
        names = [c for c, _ in fields] + nulls
        picks = ", ".join([f"{cast_text(quote_identifier(f), logical[c], self.types)} AS c{i}" if c in texts
                           else f"{quote_identifier(f)} AS c{i}" for i, (c, f) in enumerate(fields)]
                          + [f"NULL AS c{i}" for i in range(len(fields), len(names))])

        def reader(path: Path, size: int) -> str:
            return (f"(SELECT {picks} FROM read_json({_literal(str(path))}, columns={{{kinds}}}, "
                    f"format='newline_delimited', maximum_object_size={max(size + 1, 16 * 1024 * 1024)}))")
        self._load(spec, data, names, upsert=upsert, truncate=truncate, reader=reader, suffix=".json", keys=keys,
                   origin=origin)

    def _reader(self, spec: TableSpec, columns: list[str], path: Path, size: int) -> str:
        """read_csv of a chunk file, its columns named c0.. in the file's order. The line ending is
        given: guessed, a chunk whose first text holds a carriage return was read as CR-separated."""
        logical = {c.name: c.logical for c in spec.columns}
        texts = (T.JSON, T.DATE, T.TIMESTAMP)  # dates and date-times cast below (timetext.py)
        kinds = ", ".join(f"'c{i}': '{'VARCHAR' if logical[n] in texts else self.types[logical[n]]}'"
                          for i, n in enumerate(columns))
        longest = f", max_line_size={size + 1}, buffer_size={size + 1}" if size >= _CSV_LIMIT else ""
        read = (f"read_csv({_literal(str(path))}, columns={{{kinds}}}, header=false, delim=',', "
                f"quote='\"', escape='\"', nullstr='null', allow_quoted_nulls=false, auto_detect=false, "
                f"new_line='\\n'{longest})")
        if all(logical[n] not in (T.DATE, T.TIMESTAMP) for n in columns):
            return read
        picks = ", ".join(cast_text(f"c{i}", logical[n], self.types) + f" AS c{i}"
                          if logical[n] in (T.DATE, T.TIMESTAMP) else f"c{i}" for i, n in enumerate(columns))
        return f"(SELECT {picks} FROM {read})"

    def _load(self, spec: TableSpec, data: bytes | list[bytes], columns: list[str], *, upsert: bool, truncate: bool,
              reader: Callable[[Path, int], str] | None = None, suffix: str = ".csv",
              keys: KeyStats | None = None, origin: ChunkOrigin | None = None) -> None:
        """Queue the chunk's load (see the module docstring); the file is one of two kept in turn,
        free once the load before the last is done. ``reader``: the chunk file's relation (its
        columns named c0.., in ``columns``' order); read_csv by default. ``keys``: the chunk's key
        stats gathered by the sink (None: the load reads the file for them). ``data``: the file's
        text, or its parts in order (written as they are, not joined first). ``origin``: the input
        line of each record of a chunk of JSON lines, for an error DuckDB reports about one."""
        self.db.settle(MAX_PENDING - 1)
        self._chunks += 1
        path = self._tmp / f"chunk{self._chunks % MAX_PENDING}{suffix}"
        parts = [data] if isinstance(data, bytes) else data
        try:
            with path.open("wb") as fh:
                fh.writelines(parts)
        except OSError as exc:
            raise TargetError(f"cannot write the temporary file {path}: {exc}") from exc
        size = sum(map(len, parts))
        source = reader(path, size) if reader else self._reader(spec, columns, path, size)
        plan = LoadPlan(spec, columns, source, whole=set(columns) == self._columns.get((spec.schema, spec.table)),
                        origin=None if origin is None else (path, origin))
        if truncate:
            self.db.write(plan.what, f"DELETE FROM {plan.target}")
        if upsert and not (plan.whole and keys is not None and keys.unique):
            self._declare(spec.schema, spec.table)  # the load may take the ON CONFLICT path: it needs the index
        self.db.submit(functools.partial(plan.load, upsert=upsert, keys=keys))

    # -- transactions ---------------------------------------------------------------

    def commit(self) -> None:
        while self._undeclared:
            self._add_key(*self._undeclared.popitem()[1])
        self.db.commit()

    def rollback(self) -> None:
        self._undeclared.clear()  # their tables are rolled back with the transaction
        self.db.rollback()

    def activate_version(self, spec: TableSpec, version: int, *, hard_delete: bool) -> None:
        q = _qual(spec.schema, spec.table)
        ver = quote_identifier(VERSION_COLUMN)
        old = f"({ver} IS NULL OR {ver} < ?)"
        if hard_delete:
            self.db.write("delete of old versions", f"DELETE FROM {q} WHERE {old}", (version,))
        else:
            deleted = quote_identifier(DELETED_COLUMN)
            self.db.write("update of old versions", f"UPDATE {q} SET {deleted} = ? WHERE {old} AND {deleted} IS NULL",
                          (utc_now(), version))

    def save_state(self, schema: str | None, state_id: str, committed: Committed) -> None:
        self._ensure_schema()
        self.db.write("create of the state table", statetable.create_sql(schema))
        sent = statetable.params(state_id, committed)
        self.db.write("write of the committed state", statetable.upsert_sql(schema, "?"), sent)
        rows = self.db.run("read of the committed state", statetable.check_sql(schema, "?"), (state_id,))
        statetable.verify(rows[0] if rows else None, state_id, sent)

    def load_state(self, schema: str | None, state_id: str) -> Committed | None:
        if self._find(schema, statetable.TABLE) is None:
            return None
        rows = self.db.run("read of the committed state", statetable.select_sql(schema, "?"), (state_id,))
        return statetable.from_row(rows[0] if rows else None)

    def close(self) -> None:
        self.db.close()
        shutil.rmtree(self._tmp, ignore_errors=True)
