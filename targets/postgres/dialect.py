"""PostgreSQL: each chunk is COPYed into a temp staging table, then merged into the table
in the open transaction::

    INSERT INTO t (cols) SELECT DISTINCT ON (keys) cols FROM stage ORDER BY keys, seq DESC
    ON CONFLICT (keys) DO UPDATE SET col = EXCLUDED.col, ...

so the last record of a key wins, duplicates within one chunk included. Until a key of the
run meets an existing one, chunks are COPYed straight into the table under a savepoint
(the unique key rejects any duplicate; that chunk and the rest of the run then go through
staging), so a first load runs at COPY speed. Streams without keys are always COPYed
straight in. A chunk is either COPY text built record by record (see copytext.py) or CSV
built in bulk from decoded records (see targets/sql/rawrows.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import errors as pg_errors

from protocol import Bounds, Committed, RecordValidationError, TargetError
from targets.postgres.connection import Session
from targets.postgres.copytext import compile_encoder, counting_converter, integer_value, timestamp_value
from targets.postgres.limits import located
from targets.sql import statetable
from targets.sql import types as T
from targets.sql.chunkkeys import KeyStats
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
from targets.sql.naming import IdentifierMapper, stable_hash
from targets.sql.table import (
    Action,
    AddColumn,
    AddUniqueKey,
    AlterColumn,
    CreateTable,
    Existing,
    TableSpec,
    sibling_name,
)

__all__ = ["PostgresLoader"]

SQL_TYPES = {
    T.INTEGER: "BIGINT", T.NUMBER: "NUMERIC", T.BOOLEAN: "BOOLEAN", T.TIMESTAMP: "TIMESTAMPTZ",
    T.DATE: "DATE", T.TIME: "TIME", T.JSON: "JSONB", T.STRING: "TEXT",
}
_FROM_PG = {
    "bigint": T.INTEGER, "integer": T.INTEGER, "smallint": T.INTEGER, "numeric": T.NUMBER,
    "double precision": T.NUMBER, "real": T.NUMBER, "boolean": T.BOOLEAN,
    "timestamp with time zone": T.TIMESTAMP, "timestamp without time zone": T.TIMESTAMP,
    "date": T.DATE, "time without time zone": T.TIME, "jsonb": T.JSON, "json": T.JSON,
}
_USING = {T.STRING: "{c}::text", T.NUMBER: "{c}::numeric", T.JSON: "to_jsonb({c})"}


def _qual(schema: str | None, table: str) -> str:
    return f"{quote_identifier(schema)}.{quote_identifier(table)}" if schema else quote_identifier(table)


def _statement(sql: bytes, params: tuple[Any, ...] | None = None) -> Callable[[psycopg.Connection[Any]], None]:
    def run(conn: psycopg.Connection[Any]) -> None:
        conn.execute(sql, params)
    return run


#: an integer column is BIGINT (NUMERIC holds any number)
_BIGINT = Bounds(-(2**63) - 1, 2**63, "BIGINT: 64 bits; declare the field a number for a NUMERIC column")


class PostgresLoader(Loader):
    name = "postgres"
    max_identifier_bytes = 63
    can_alter = True
    parses_times = True
    chunk_size = 2 * 1024 * 1024  # small chunks: less to wait for at each commit, less memory
    csv_rows = True
    csv_backslash = True

    schema: str

    def __init__(self, session: Session, schema: str, *, chunk_size: int | None = None) -> None:
        self.session = session
        self.schema = schema
        if chunk_size:
            self.chunk_size = chunk_size
        self._stages: dict[str, int] = {}
        self._conflicts: set[str] = set()
        self._naive: dict[str, set[str]] = {}  # per existing table: its timestamp without time zone columns
        self._schema_ready = False
        #: values whose NUL characters were removed, per (table, column): PostgreSQL cannot store NUL
        self.nul_removed: Counter[tuple[str, str]] = Counter()

    def number_bounds(self, logical: str) -> Bounds | None:
        return _BIGINT if logical == T.INTEGER else None

    # -- inspection -----------------------------------------------------------------

    def check(self) -> str:
        def probe(conn: psycopg.Connection[Any]) -> str:
            row = conn.execute(
                "SELECT current_user, current_database(), version(), "
                "(SELECT oid FROM pg_namespace WHERE nspname = %s) IS NOT NULL", (self.schema,)).fetchone()
            assert row is not None
            user, db, version, schema_exists = row
            if schema_exists:
                ok = conn.execute("SELECT has_schema_privilege(%s, 'CREATE') AND has_schema_privilege(%s, 'USAGE')",
                                  (self.schema, self.schema)).fetchone()
                missing = f"CREATE and USAGE on schema \"{self.schema}\""
            else:
                ok = conn.execute("SELECT has_database_privilege(current_database(), 'CREATE')").fetchone()
                missing = f"CREATE on database \"{db}\" (schema \"{self.schema}\" does not exist yet)"
            conn.rollback()
            if not (ok and ok[0]):
                raise TargetError(f"user \"{user}\" lacks {missing} at {self.session.where}")
            return f"{str(version).split(',')[0]} at {self.session.where}: user \"{user}\" may create tables in " \
                   f"schema \"{self.schema}\""
        result: str = self.session.run(probe, journal=False)
        return result

    def describe(self, schema: str | None, table: str) -> Existing | None:
        name = _qual(schema, table)

        def read(conn: psycopg.Connection[Any]) -> Existing | None:
            cols = conn.execute(
                "SELECT a.attname, format_type(a.atttypid, NULL) FROM pg_attribute a "
                "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
                (name,)).fetchall()
            if not cols:
                return None
            self._naive[name] = {c for c, t in cols if t == "timestamp without time zone"}
            keys = conn.execute(
                "SELECT array_agg(a.attname ORDER BY k.ord) FROM pg_index i "
                "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) "
                "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
                "WHERE i.indrelid = to_regclass(%s) AND i.indisunique AND i.indpred IS NULL "
                "GROUP BY i.indexrelid", (name,)).fetchall()
            return Existing({c: _FROM_PG.get(t, T.STRING) for c, t in cols}, [tuple(k[0]) for k in keys])
        result: Existing | None = self.session.run(read, journal=False)
        return result

    def owner(self, schema: str | None, table: str) -> str | None:
        owners = _qual(schema, OWNERS_TABLE)

        def read(conn: psycopg.Connection[Any]) -> str | None:
            found = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (owners,)).fetchone()
            if not (found and found[0]):
                return None
            sql = f"SELECT stream FROM {owners.replace('%', '%%')} WHERE table_name = %s"
            row = conn.execute(sql.encode(), (table,)).fetchone()
            return None if row is None else str(row[0])
        result: str | None = self.session.run(read, journal=False)
        return result

    def record_owner(self, schema: str | None, table: str, stream: str, *, replace: bool) -> str:
        self._ensure_schema()
        owners = _qual(schema, OWNERS_TABLE)
        create = f"CREATE TABLE IF NOT EXISTS {owners} (table_name TEXT PRIMARY KEY, stream TEXT NOT NULL, " \
                 "created_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        on_conflict = "DO UPDATE SET stream = EXCLUDED.stream, created_at = EXCLUDED.created_at" if replace \
            else "DO NOTHING"  # a concurrent claim waits for the other transaction, then keeps its owner
        insert = f"INSERT INTO {owners.replace('%', '%%')} (table_name, stream) VALUES (%s, %s) ON CONFLICT " \
                 f"(table_name) {on_conflict}"
        self.session.run(_statement(create.encode()))
        self.session.run(_statement(insert.encode(), (table, stream)))
        return str(self.owner(schema, table))

    # -- DDL ------------------------------------------------------------------------

    def _ensure_schema(self) -> None:
        if self._schema_ready:
            return
        schema = self.schema

        def create(conn: psycopg.Connection[Any]) -> None:
            found = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
            if not found:
                conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(schema)}".encode())
        self.session.run(create)
        self._schema_ready = True

    def apply(self, schema: str | None, table: str, actions: list[Action]) -> None:
        self._ensure_schema()
        q = _qual(schema, table)
        mapper = IdentifierMapper(self.max_identifier_bytes)
        for action in actions:
            if isinstance(action, AlterColumn):
                self.session.run(self._alter(q, action, mapper))
                continue
            if isinstance(action, CreateTable):
                cols = [f"{quote_identifier(n)} {SQL_TYPES[t]}" + (" NOT NULL" if n in action.key else "")
                        for n, t in action.columns]
                if action.key:
                    cols.append("PRIMARY KEY (" + ", ".join(map(quote_identifier, action.key)) + ")")
                sql = f"CREATE TABLE IF NOT EXISTS {q} (" + ", ".join(cols) + ")"
            elif isinstance(action, AddColumn):
                sql = f"ALTER TABLE {q} ADD COLUMN IF NOT EXISTS {quote_identifier(action.name)} " \
                      f"{SQL_TYPES[action.logical]}"
            elif isinstance(action, AddUniqueKey):
                index = mapper.one(f"{table}__key_{stable_hash(','.join(action.columns))}")
                sql = f"CREATE UNIQUE INDEX IF NOT EXISTS {quote_identifier(index)} ON {q} (" + \
                      ", ".join(map(quote_identifier, action.columns)) + ")"
            self.session.run(_statement(sql.encode()))

    def _alter(self, q: str, action: AlterColumn, mapper: IdentifierMapper) -> Callable[[Any], None]:
        col = quote_identifier(action.name)
        text_of_time = action.new == T.STRING and action.old in (T.TIMESTAMP, T.DATE, T.TIME)
        # a date-time widened to text as JSON writes it, RFC 3339 ("2024-03-04T10:00:00+00:00"), not ::text's form
        using = ("to_json({c}) #>> '{{}}'" if text_of_time else _USING.get(action.new, "{c}")).format(c=col)
        alter = f"ALTER TABLE {q} ALTER COLUMN {col} TYPE {SQL_TYPES[action.new]} USING {using}"
        sibling = quote_identifier(sibling_name(mapper, action.field, action.new))
        add = f"ALTER TABLE {q} ADD COLUMN IF NOT EXISTS {sibling} {SQL_TYPES[action.new]}"

        def run(conn: psycopg.Connection[Any]) -> None:
            conn.execute(b"SAVEPOINT sluice_alter")
            try:
                conn.execute(alter.encode())
            except (pg_errors.FeatureNotSupported, pg_errors.DependentObjectsStillExist) as exc:
                # a view or rule depends on the column: keep it as it is, add a sibling column
                conn.execute(b"ROLLBACK TO SAVEPOINT sluice_alter")
                if action.taken_by is not None:
                    raise TargetError(f"column {action.name} of table {q} cannot change its type ({exc}), and the "
                                      f"column kept for its {action.new} values would be {sibling}, the column of "
                                      f"property {action.taken_by!r}. Rename one of the two properties (a stream "
                                      f"map), or load the stream into a new table (table_names)") from exc
                conn.execute(add.encode())
            conn.execute(b"RELEASE SAVEPOINT sluice_alter")
        return run

    # -- rows -----------------------------------------------------------------------

    def encoder(self, spec: TableSpec, meta: MetaValues) -> Encoder:
        extra = [c.source.meta for c in spec.columns if c.source.meta is not None]
        join = "\t".join
        converters = [counting_converter(c.logical, self._nul_counter(spec.table, c.name), c.source.field,
                                         key=c.name in spec.key) for c in spec.columns]
        if not extra:
            return compile_encoder([(c.source.field, c.logical) for c in spec.columns], converters)

        order = [(c.source.meta, c.source.field, conv) for c, conv in zip(spec.columns, converters, strict=True)]
        values = meta_row(order, meta, extracted=timestamp_value, version=integer_value, sequence=str)

        def encode_meta(record: dict[str, Any], message: Any) -> Any:
            try:
                return join(values(record, message)) + "\n"
            except RecordValidationError as exc:  # a value refused by its converter: name the line
                raise located(exc, message) from None
        return encode_meta

    def _nul_counter(self, table: str, column: str) -> Callable[[], None]:
        tally, key = self.nul_removed, (table, column)

        def count() -> None:
            tally[key] += 1
        return count

    def _stage(self, spec: TableSpec) -> tuple[str, bytes]:
        """The temp staging table of a layout: name, and its CREATE statement."""
        layout = ",".join(f"{c.name}:{c.logical}" for c in spec.columns)
        name = f"sluice_stage_{stable_hash(_qual(spec.schema, spec.table) + '|' + layout)}"
        cols = ", ".join(f"c{i} {SQL_TYPES[c.logical]}" for i, c in enumerate(spec.columns))
        return name, f"CREATE TEMP TABLE IF NOT EXISTS {name} (seq BIGSERIAL, {cols})".encode()

    def write(self, spec: TableSpec, rows: list[Any], *, upsert: bool, truncate: bool) -> None:
        data = "".join(rows).encode("utf-8", "surrogatepass")
        self._load(spec, data, spec.names, b"", upsert=upsert, truncate=truncate)

    def write_csv(self, spec: TableSpec, data: bytes, columns: list[str], *, upsert: bool, truncate: bool,
                  keys: KeyStats | None = None) -> None:
        """Rows as CSV lines holding JSON scalar text (see :mod:`targets.sql.rawrows`): one
        value per name of ``columns`` (the columns of ``spec`` in some order), null unquoted,
        a backslash as the escape (``csv_backslash``; an E'' string whatever
        standard_conforming_strings says)."""
        self._load(spec, data, columns, b" (FORMAT csv, NULL 'null', ESCAPE E'\\\\')", upsert=upsert,
                   truncate=truncate)

    def _staged(self, spec: TableSpec, target: str, columns: list[str], options: bytes, *, upsert: bool,
                naive: bool) -> tuple[str, bytes, bytes, list[bytes]]:
        """How a chunk is loaded: the stage (or ""), its CREATE, the COPY, the statements after it. An
        upsert merges from the stage by key; a chunk for a ``timestamp without time zone`` column (an
        adopted table's: ``naive``) goes through the stage too, whose timestamptz columns the INSERT
        turns into UTC wall-clock time (the session's TimeZone): a COPY into it ignored the offset."""
        cols = ", ".join(quote_identifier(n) for n in columns)
        if not upsert and not naive:
            return "", b"", f"COPY {target} ({cols}) FROM STDIN".encode() + options, []
        stage, create = self._stage(spec)
        positions = {n: i for i, n in enumerate(spec.names)}
        picked = ", ".join(f"c{positions[n]}" for n in columns)
        copy_sql = f"COPY {stage} ({picked}) FROM STDIN".encode() + options
        if not upsert:
            return stage, create, copy_sql, [
                f"INSERT INTO {target} ({cols}) SELECT {picked} FROM {stage} ORDER BY seq".encode(),
                f"TRUNCATE {stage}".encode()]
        keys = ", ".join(f"c{positions[k]}" for k in spec.key)
        stage_cols = ", ".join(f"c{i}" for i in range(len(spec.names)))
        all_cols = ", ".join(quote_identifier(n) for n in spec.names)
        merge = (f"INSERT INTO {target} ({all_cols}) SELECT DISTINCT ON ({keys}) {stage_cols} FROM {stage} "
                 f"ORDER BY {keys}, seq DESC ON CONFLICT ({', '.join(quote_identifier(k) for k in spec.key)}) "
                 f"{upsert_action(spec)}").encode()
        return stage, create, copy_sql, [merge, f"TRUNCATE {stage}".encode()]

    def _load(self, spec: TableSpec, data: bytes, columns: list[str], options: bytes, *, upsert: bool,
              truncate: bool) -> None:
        target = _qual(spec.schema, spec.table)
        cols = ", ".join(quote_identifier(n) for n in columns)
        statements: list[bytes] = [f"TRUNCATE {target}".encode()] if truncate else []
        naive = bool(self._naive.get(target, set()) & set(columns))
        stage, create, copy_sql, after = self._staged(spec, target, columns, options, upsert=upsert, naive=naive)
        chunk = self.session.chunk(data)

        direct_sql = f"COPY {target} ({cols}) FROM STDIN".encode() + options

        def copy(conn: psycopg.Connection[Any], sql: bytes) -> None:
            with conn.cursor() as cur, cur.copy(sql) as out:
                for block in chunk.blocks():
                    out.write(block)

        def load(conn: psycopg.Connection[Any]) -> None:
            for sql in statements:
                conn.execute(sql)
            if upsert and not naive and target not in self._conflicts:
                # optimistic: while no key of this run met an existing one, COPY straight
                # into the table; the key's unique index rejects any duplicate, and then
                # this chunk and the rest of the run go through staging and merge.
                conn.execute(b"SAVEPOINT sluice_copy")
                try:
                    copy(conn, direct_sql)
                    conn.execute(b"RELEASE SAVEPOINT sluice_copy")
                    return
                except pg_errors.UniqueViolation:
                    conn.execute(b"ROLLBACK TO SAVEPOINT sluice_copy")
                    self._conflicts.add(target)
            if stage and self._stages.get(stage) != self.session.generation:
                conn.execute(create)
                conn.execute(f"TRUNCATE {stage}".encode())
                self._stages[stage] = self.session.generation
            copy(conn, copy_sql)
            for sql in after:
                conn.execute(sql)
        self.session.submit(load)

    # -- transactions ---------------------------------------------------------------

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()

    def activate_version(self, spec: TableSpec, version: int, *, hard_delete: bool) -> None:
        q = _qual(spec.schema, spec.table).replace("%", "%%")
        ver = quote_identifier(VERSION_COLUMN)
        old = f"({ver} IS NULL OR {ver} < %s)"
        params: tuple[Any, ...]
        if hard_delete:
            sql, params = f"DELETE FROM {q} WHERE {old}", (version,)
        else:
            deleted = quote_identifier(DELETED_COLUMN)
            sql, params = f"UPDATE {q} SET {deleted} = %s WHERE {old} AND {deleted} IS NULL", (utc_now(), version)
        self.session.run(_statement(sql.encode(), params))

    def save_state(self, schema: str | None, state_id: str, committed: Committed) -> None:
        self._ensure_schema()
        self.session.run(_statement(statetable.create_sql(schema).encode()))
        sent = statetable.params(state_id, committed)
        self.session.run(_statement(statetable.upsert_sql(schema, "%s").encode(), sent))

        def check(conn: psycopg.Connection[Any]) -> None:  # in the transaction (and in its replay)
            statetable.verify(conn.execute(statetable.check_sql(schema, "%s").encode(), (state_id,)).fetchone(),
                              state_id, sent)
        self.session.run(check)

    def load_state(self, schema: str | None, state_id: str) -> Committed | None:
        name = _qual(schema, statetable.TABLE)

        def read(conn: psycopg.Connection[Any]) -> Any:
            found = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()
            row = conn.execute(statetable.select_sql(schema, "%s").encode(), (state_id,)).fetchone() \
                if found and found[0] else None
            conn.rollback()
            return row
        return statetable.from_row(self.session.run(read, journal=False))

    def close(self) -> None:
        self.session.close()


