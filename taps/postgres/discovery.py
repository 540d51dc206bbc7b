"""Discovery: tables and views of the chosen schemas, their columns as JSON Schema, the catalog.

Every column gets a *kind* that decides three things together: its JSON Schema, the SQL
expression that renders it as JSON on the server (full-table and incremental reads), and
the converter for its text form (log-based reads, see ``values.py``):

    kind     PostgreSQL types                       JSON Schema             value
    int      int2 int4 int8 oid                     integer
    numeric  numeric, money                         number                  exact (raw JSON number)
    float    float4 float8                          number
    bool     bool                                   boolean
    tstz     timestamptz                            string date-time (*)    2024-01-02T03:04:05+00:00
    ts       timestamp (read as UTC)                string date-time (*)    ... with +00:00
    date     date                                   string date (*)
    time     time                                   string time (*)
    uuid     uuid                                   string uuid
    json     json, jsonb                            any JSON value (object with json_as_object: others wrapped)
    bytea    bytea                                  string, base16          lower-case hex, no \\x
    enum     enum types                             string with enum
    array    any array                              array of the element's type, or of arrays of it (**)
    text     everything else (text, interval, ...)  string                  PostgreSQL text form

(*) or, in an anyOf beside it, PostgreSQL's text of what RFC 3339 cannot hold: ``infinity``,
``-infinity``, years past 9999 (``10000-01-01T00:00:00+00:00``) and BC (``... BC``); for a time,
``24:00:00`` (the end of a day, which PostgreSQL stores and RFC 3339 has not).

(**) A PostgreSQL array column holds arrays of any number of dimensions (``int[]`` takes ``{{1,2},{3,4}}``):
its items are the element's type or arrays (of arrays...) of it. Elements are rendered as logical
decoding converts them: NaN and ±Infinity null, money a number, a composite (or a type cast to json,
such as hstore) its text, a json element's line breaks (between tokens) blanks, as a json column's.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from protocol import CatalogEntry, TableStream, Tap, dumps
from taps.postgres.client import Source

__all__ = ["JSON_TYPES", "NONFINITE_MARK", "NONFINITE_MARKS", "REL", "Column", "Table", "entry_for", "kind_of",
           "load_tables"]

_KINDS = {
    "int2": "int", "int4": "int", "int8": "int", "oid": "int",
    "numeric": "numeric", "money": "numeric", "float4": "float", "float8": "float", "bool": "bool",
    "timestamptz": "tstz", "timestamp": "ts", "date": "date", "time": "time", "uuid": "uuid",
    "json": "json", "jsonb": "json", "bytea": "bytea",
}
_PLAIN_TEXT = {"text", "varchar", "bpchar", "name", "char", "citext"}
_SCALAR_SCHEMA: dict[str, dict[str, Any]] = {
    "int": {"type": "integer"}, "numeric": {"type": "number"}, "float": {"type": "number"},
    "bool": {"type": "boolean"}, "tstz": {"type": "string", "format": "date-time"},
    "ts": {"type": "string", "format": "date-time"}, "date": {"type": "string", "format": "date"},
    "time": {"type": "string", "format": "time"}, "uuid": {"type": "string", "format": "uuid"},
    "bytea": {"type": "string", "contentEncoding": "base16"}, "text": {"type": "string"},
}
#: the relation alias of the table in every generated query (columns are always qualified by it)
REL = "_sluice_rel"
#: what a NaN or ±Infinity is rendered as: JSON null followed by a tab, and blanks telling which
#: (JSON whitespace: nonfinite.py reads them for a bookmark, then removes them)
NONFINITE_MARK = "null\t"
NONFINITE_MARKS = {"NaN": NONFINITE_MARK, "Infinity": NONFINITE_MARK + " ", "-Infinity": NONFINITE_MARK + "  "}
#: the schema types of a json/jsonb column: any JSON value
JSON_TYPES = ("null", "object", "array", "string", "number", "boolean")
#: json_as_object: a value that is not an object (nor null) becomes {"value": <it>}
_AS_OBJECT = ("CASE WHEN {1}_typeof({0}) IN ('array', 'string', 'number', 'boolean') "
              "THEN {1}_build_object('value', {0}) ELSE {0} END")
#: a json (not jsonb) value as its own text, raw line breaks and tabs (whitespace between tokens: inside
#: a string they are escaped) made blanks (a raw tab would pass for a NaN's mark, see nonfinite.py):
#: a cast to jsonb would refuse "\u0000", which json holds
_JSON_TEXT = "translate({}::text, E'\\n\\r\\t', '   ')::json"
#: timestamps and dates RFC 3339 cannot hold, as PostgreSQL writes them: ±infinity, years past 9999, BC
_BEYOND_RFC3339 = {
    "tstz": r"^(-?infinity|\d{5,}-\d\d-\d\dT\S+|\d{4}-\d\d-\d\dT\S+ BC)$",
    "ts": r"^(-?infinity|\d{5,}-\d\d-\d\dT\S+|\d{4}-\d\d-\d\dT\S+ BC)$",
    "date": r"^(-?infinity|\d{5,}-\d\d-\d\d|\d{4}-\d\d-\d\d BC)$",
    "time": r"^24:00:00(\.0+)?$",
}
_FORMAT = {"tstz": "date-time", "ts": "date-time", "date": "date", "time": "time"}
_ITEM_SCHEMA = {"int": {"type": ["null", "integer"]}, "numeric": {"type": ["null", "number"]},
                "float": {"type": ["null", "number"]}, "bool": {"type": ["null", "boolean"]}}


def _or_arrays(items: dict[str, Any]) -> dict[str, Any]:
    """An array column's items: its element's schema, or an array (a dimension more; not constrained)."""
    kinds = items.get("type")
    if kinds is None:
        return items  # any value already
    return {**items, "type": [*(kinds if isinstance(kinds, list) else [kinds]), "array"]}


@dataclass
class Column:
    name: str
    sql_type: str  # format_type(), e.g. "numeric(12,2)" or "character varying"
    base: str  # the base type's name (domains resolved), e.g. "numeric"
    kind: str
    nullable: bool = True
    element_kind: str | None = None  # arrays
    labels: list[str] | None = None  # enums
    #: an array whose elements to_json writes as objects (a composite type, or one cast to json: hstore)
    element_as_text: bool = False
    element_delimiter: str = ","  # what separates an array's elements in its text: "," (";" for box)
    element_base: str | None = None  # arrays: the element's base type's name (domains resolved), e.g. "json"

    def schema(self, json_as_object: bool = False) -> dict[str, Any]:
        if self.kind in _BEYOND_RFC3339:
            # RFC 3339 values, or PostgreSQL's own text of what it cannot express (see README)
            branches: list[dict[str, Any]] = [{"type": "string", "format": _FORMAT[self.kind]},
                                              {"type": "string", "pattern": _BEYOND_RFC3339[self.kind]}]
            return {"anyOf": [*branches, {"type": "null"}] if self.nullable else branches}
        if self.kind == "json":
            return {"type": ["null", "object"]} if json_as_object else {"type": list(JSON_TYPES)}
        if self.kind == "array":
            items = _ITEM_SCHEMA.get(self.element_kind or "", {"type": ["null", "string"]} if self.element_kind in
                                     ("text", "enum", "uuid", "date", "tstz", "ts", "time", "bytea") else {})
            return {"type": ["null", "array"] if self.nullable else "array", "items": _or_arrays(items)}
        if self.kind == "enum":
            labels: list[Any] = list(self.labels or [])
            return {"type": ["null", "string"] if self.nullable else "string",
                    "enum": [*labels, None] if self.nullable else labels}
        out = dict(_SCALAR_SCHEMA[self.kind])
        if self.nullable:
            out["type"] = ["null", out["type"]]
        return out

    @property
    def ref(self) -> sql.Composable:
        """The column qualified by the relation alias of every generated query (:data:`REL`)."""
        return sql.Identifier(REL, self.name)

    def select_expr(self, json_as_object: bool = False) -> sql.Composable:
        """The column rendered so that ``row_to_json`` gives its JSON value, named as the column.

        Every reference is qualified (``"_sluice_rel"."col"``), so no column name can stand for
        another column, the row or a function argument of the generated SQL.
        """
        ref = self.ref
        if self.kind == "ts":
            expr: sql.Composable = sql.SQL("({} AT TIME ZONE 'UTC')").format(ref)
        elif self.kind == "bytea":
            expr = sql.SQL("encode({}, 'hex')").format(ref)
        elif self.kind == "json":
            # one line per row: jsonb text never holds a raw line break, json's are made blanks (_JSON_TEXT);
            # json_as_object wraps what is not an object
            value = sql.SQL(_JSON_TEXT).format(ref) if self.base == "json" else ref
            family = sql.SQL("json" if self.base == "json" else "jsonb")
            expr = sql.SQL(_AS_OBJECT).format(value, family) if json_as_object else value
        elif self.base == "money":
            expr = sql.SQL("{}::numeric").format(ref)
        elif self.base in ("oid", "_oid", "oidvector"):
            # to_json writes an oid as a string (it is no JSON number to PostgreSQL); its schema says integer
            expr = sql.SQL("{}::int8" if self.base == "oid" else "{}::oid[]::int8[]").format(ref)
        elif self.kind in ("numeric", "float"):
            # JSON has no NaN or Infinity (row_to_json would quote them): null, as logical decoding gives,
            # marked by a tab (JSON whitespace, never in row_to_json text otherwise) so the tap can count it
            expr = sql.SQL("CASE WHEN {0} = 'NaN' THEN {1}::json WHEN {0} = 'Infinity' THEN {2}::json "
                           "WHEN {0} = '-Infinity' THEN {3}::json ELSE to_json({0}) END").format(
                ref, *(sql.Literal(NONFINITE_MARKS[v]) for v in ("NaN", "Infinity", "-Infinity")))
        elif self.kind == "array" and self.element_kind in ("numeric", "float"):
            # to_json quotes an element's NaN or ±Infinity, and writes money as text: null and numbers, as
            # logical decoding gives them (the array's schema says numbers)
            array = sql.SQL("{}::numeric[]").format(ref) if self.base == "_money" else ref
            expr = sql.SQL("regexp_replace(to_json({})::text, '\"(NaN|-?Infinity)\"', 'null', 'g')::json").format(array)
        elif self.kind == "array" and self.element_base == "json":
            # to_json copies a json element's text, raw line breaks included: made blanks, as for a json column
            expr = sql.SQL(_JSON_TEXT + "[]").format(ref)
        elif self.kind == "array" and self.element_kind == "text" and self.element_as_text:
            # to_json writes such an element as an object: its text, as logical decoding gives it
            expr = sql.SQL("{}::text[]").format(ref)
        elif self.kind == "text" and self.base not in _PLAIN_TEXT:
            # the type's output function, as logical decoding sends it (a ::text cast may differ: inet);
            # num_nulls, not IS NULL, which is true of a composite value whose fields are all null: "(,)"
            expr = sql.SQL("CASE WHEN num_nulls({0}) = 1 THEN NULL ELSE format('%s', {0}) END").format(ref)
        else:
            expr = ref
        return sql.SQL("{} AS {}").format(expr, sql.Identifier(self.name))

    def from_json(self, value: Any, *, document: bool = False) -> sql.Composable:
        """A bookmark value (as emitted) back into a typed SQL literal for comparisons. A null of a
        json column that cannot be NULL (a primary key's), or with ``document``, is the JSON document
        null: as SQL NULL, a resumed read compared every row with NULL and read none."""
        if value is None and not (self.kind == "json" and (document or not self.nullable)):
            return sql.NULL
        if self.kind == "json":  # the value as emitted is the JSON value itself: its JSON text
            return sql.SQL("CAST({} AS {})").format(sql.Literal(dumps(value).decode()), sql.SQL(self.sql_type))
        if isinstance(value, list):
            return sql.SQL("CAST({} AS {})").format(sql.Literal(self._array_text(value)), sql.SQL(self.sql_type))
        text = value if isinstance(value, str) else ("true" if value is True else "false" if value is False
                                                     else str(value))
        if self.kind == "bytea":
            return sql.SQL("decode({}, 'hex')").format(sql.Literal(text))
        if self.kind == "ts":
            return sql.SQL("({}::timestamptz AT TIME ZONE 'UTC')").format(sql.Literal(text))
        return sql.SQL("CAST({} AS {})").format(sql.Literal(text), sql.SQL(self.sql_type))

    def _array_text(self, value: list[Any]) -> str:
        """An emitted array (elements as JSON values, arrays nested) as PostgreSQL's array input text."""
        def element(item: Any) -> str:
            if item is None:
                return "NULL"
            if isinstance(item, list):
                return self._array_text(item)
            if self.element_base in ("json", "jsonb"):
                item = dumps(item).decode()  # an element is a JSON value: its JSON text
            if isinstance(item, bool):
                return "true" if item else "false"
            text = item if isinstance(item, str) else str(item)  # bytea elements keep their \x prefix
            return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return "{" + self.element_delimiter.join(element(item) for item in value) + "}"


@dataclass
class Table:
    schema_name: str
    name: str
    is_view: bool
    columns: dict[str, Column] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)
    #: pg_class.relreplident: d(efault: the primary key), f(ull row), i(ndex), n(othing)
    replica_identity: str = "d"

    #: the columns of the replica identity index (REPLICA IDENTITY USING INDEX)
    identity_columns: list[str] = field(default_factory=list)
    #: the stream's tap_stream_id: ``<schema>-<table>``, made unique by load_tables (see unique_stream_ids)
    stream_id: str = ""

    def __post_init__(self) -> None:
        self.stream_id = self.stream_id or f"{self.schema_name}-{self.name}"

    def log_based_problem(self) -> str | None:
        """Why LOG_BASED cannot read this relation (None: it can).

        A delete (and a key change) is identified by the old tuple PostgreSQL writes, which holds the
        replica identity only: it must hold the primary key (or, without one, the whole row).
        """
        if self.is_view:
            return "LOG_BASED needs a table with a primary key or REPLICA IDENTITY FULL; views have no changes"
        if self.replica_identity == "f":
            return None
        if self.keys and self.replica_identity in ("n", "i") and not set(self.keys) <= set(self.identity_columns):
            what = "NOTHING" if self.replica_identity == "n" else "USING INDEX on " + ", ".join(self.identity_columns)
            return (f"LOG_BASED cannot use REPLICA IDENTITY {what}: the old rows PostgreSQL writes for deletes and "
                    f"key changes do not hold the primary key ({', '.join(self.keys)}); run: ALTER TABLE "
                    f"{self.schema_name}.{self.name} REPLICA IDENTITY DEFAULT (or FULL)")
        if self.keys:
            return None
        return (f"LOG_BASED needs a table with a primary key or REPLICA IDENTITY FULL (updates and deletes must "
                f"carry the old row); run: ALTER TABLE {self.schema_name}.{self.name} REPLICA IDENTITY FULL")

    @property
    def ident(self) -> sql.Composable:
        return sql.Identifier(self.schema_name, self.name)

    @property
    def aliased(self) -> sql.Composable:
        """The table as the FROM item of generated queries: ``"schema"."table" AS "_sluice_rel"``."""
        return sql.SQL("{} AS {}").format(self.ident, sql.Identifier(REL))

    def json_schema(self, json_as_object: bool = False) -> dict[str, Any]:
        return {"type": "object",
                "properties": {name: col.schema(json_as_object) for name, col in self.columns.items()}}

    def stream(self, tap: Tap, json_as_object: bool = False) -> TableStream:
        """This table as a stream of the kit; its catalog entry is what --discover writes."""
        return TableStream(
            tap, self.stream_id, self.json_schema(json_as_object), primary_keys=self.keys,
            stream_metadata={"schema-name": self.schema_name, "table-name": self.name, "is-view": self.is_view},
            field_metadata={name: {"sql-datatype": col.sql_type} for name, col in self.columns.items()},
        )


_COLUMNS = """
SELECT n.nspname, c.relname, c.relkind IN ('v', 'm'), c.relreplident, a.attname, format_type(a.atttypid, a.atttypmod),
       t.typname, t.typtype, t.typcategory, et.typname, et.typtype, NOT a.attnotnull,
       (SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid),
       COALESCE(et.typtype = 'c' OR EXISTS (SELECT 1 FROM pg_cast pc WHERE pc.castsource = et.oid
                                            AND pc.casttarget IN ('json'::regtype, 'jsonb'::regtype)), false),
       COALESCE(et.typdelim, ',')
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_type t0 ON t0.oid = a.atttypid
JOIN pg_type t ON t.oid = CASE WHEN t0.typtype = 'd' THEN t0.typbasetype ELSE t0.oid END
LEFT JOIN pg_type et0 ON et0.oid = t.typelem AND t.typcategory = 'A'
LEFT JOIN pg_type et ON et.oid = CASE WHEN et0.typtype = 'd' THEN et0.typbasetype ELSE et0.oid END
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%%'
  AND n.nspname NOT LIKE 'pg\\_temp%%' AND (%(schemas)s::text[] IS NULL OR n.nspname = ANY(%(schemas)s::text[]))
ORDER BY n.nspname, c.relname, a.attnum
"""

_KEYS = """
SELECT n.nspname, c.relname, a.attname
FROM pg_index i
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(i.indkey)
WHERE i.indisprimary AND (%(schemas)s::text[] IS NULL OR n.nspname = ANY(%(schemas)s::text[]))
ORDER BY n.nspname, c.relname, array_position(i.indkey::int2[], a.attnum)
"""

_IDENTITY = _KEYS.replace("i.indisprimary", "i.indisreplident")


def kind_of(typname: str, typtype: str, category: str) -> str:
    if category == "A":
        return "array"
    if typtype == "e":
        return "enum"
    return _KINDS.get(typname, "text")


def load_tables(source: Source, schemas: Iterable[str] | None) -> list[Table]:
    """Every table and view of ``schemas`` (all user schemas when None), in name order."""
    params = {"schemas": list(schemas) if schemas is not None else None}
    tables: dict[tuple[str, str], Table] = {}
    for (nsp, rel, is_view, identity, att, sql_type, typname, typtype, category, elem, elem_typtype,
         nullable, labels, as_text, delimiter) in source.query(_COLUMNS, params, doing="reading the catalog"):
        table = tables.get((nsp, rel))
        if table is None:
            table = tables[(nsp, rel)] = Table(nsp, rel, bool(is_view), replica_identity=str(identity))
        kind = kind_of(typname, typtype, category)
        element_kind = kind_of(elem, elem_typtype, "") if kind == "array" and elem else None
        table.columns[att] = Column(att, sql_type, typname, kind, bool(nullable), element_kind, labels,
                                    element_as_text=bool(as_text), element_delimiter=str(delimiter),
                                    element_base=str(elem) if kind == "array" and elem else None)
    for nsp, rel, att in source.query(_KEYS, params, doing="reading primary keys"):
        if (nsp, rel) in tables:
            tables[(nsp, rel)].keys.append(att)
    for nsp, rel, att in source.query(_IDENTITY, params, doing="reading replica identity indexes"):
        if (nsp, rel) in tables:
            tables[(nsp, rel)].identity_columns.append(att)
    for table in tables.values():
        for column in table.columns.values():
            # NaN and ±Infinity are emitted as null (nonfinite.py): a NOT NULL column's schema admits null too,
            # a key's does not (such a key value is refused)
            if (column.kind == "float" or column.base == "numeric") and column.name not in table.keys:
                column.nullable = True
    unique_stream_ids(list(tables.values()))
    return list(tables.values())


def unique_stream_ids(tables: list[Table]) -> None:
    """Give every table a stream id of its own: ``<schema>-<table>``, unless relations share it
    (``"a-b".c`` and ``a."b-c"`` are both ``a-b-c``): each of those gets ``-`` and the first 8 hex
    digits of the SHA-256 of its schema and table names (longer if they still collide), the same
    on every run."""
    plain = [f"{t.schema_name}-{t.name}" for t in tables]
    ids = list(plain)
    for length in (8, 16, 64):
        counts = Counter(ids)
        if len(counts) == len(ids):
            break
        for i, table in enumerate(tables):
            if counts[ids[i]] > 1:
                digest = hashlib.sha256(f"{table.schema_name}\0{table.name}".encode()).hexdigest()
                ids[i] = f"{plain[i]}-{digest[:length]}"
    for table, stream_id in zip(tables, ids, strict=True):
        table.stream_id = stream_id


def entry_for(tables: Iterable[Table], entry: CatalogEntry) -> Table | None:
    """The live table behind a catalog entry: the one its schema-name/table-name metadata names
    (never found again through a stream id, which two relations may share); without them, its id."""
    nsp, rel = entry.metadata.get((), "schema-name"), entry.metadata.get((), "table-name")
    if nsp and rel:
        return next((t for t in tables if (t.schema_name, t.name) == (nsp, rel)), None)
    return next((t for t in tables if t.stream_id == entry.tap_stream_id), None)
