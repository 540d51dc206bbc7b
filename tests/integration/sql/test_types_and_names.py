"""Types round-trip exactly, and untrusted stream/field names land safely, in both SQL targets."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from tests.integration.sql.helpers import Dest, error_lines, singer

TYPED_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "amount": {"type": ["number", "null"]},
        "ts": {"type": ["string", "null"], "format": "date-time"},
        "day": {"type": ["string", "null"], "format": "date"},
        "flag": {"type": ["boolean", "null"]},
        "doc": {"type": ["object", "null"]},
        "tags": {"type": ["array", "null"], "items": {"type": "string"}},
        "note": {"type": ["string", "null"]},
        "big": {"type": ["integer", "null"]},
    },
}
LONG = "12345678901234567890.123456789012345678"


def _typed_lines() -> bytes:
    head = singer({"type": "SCHEMA", "stream": "typed", "schema": TYPED_SCHEMA, "key_properties": ["id"]})
    # written by hand: the long decimals must reach the target as JSON numbers, not floats
    rows = [
        '{"type":"RECORD","stream":"typed","record":{"id":1,"amount":' + LONG + ','
        '"ts":"2024-03-01T12:30:45.123456+02:00",'
        '"day":"2024-03-01","flag":true,"doc":{"x":0.1,"deep":{"n":' + LONG + ',"s":"tab\\there"}},'
        '"tags":["a","b\\\\c"],"note":"line1\\nline2\\t\\\\ \'q\' \\"dq\\"","big":9223372036854775807}}',
        '{"type":"RECORD","stream":"typed","record":{"id":2,"amount":0.1,"ts":"1999-12-31T23:59:59Z","day":null,'
        '"flag":false,"doc":{},"tags":[],"note":"","big":-9223372036854775808}}',
        '{"type":"RECORD","stream":"typed","record":{"id":3,"amount":-1E-7,"ts":null,"flag":null,"doc":null,'
        '"tags":null,"note":null,"big":null}}',
    ]
    return head + "\n".join(rows).encode() + b"\n" + singer({"type": "STATE", "value": {"done": True}})


def test_types_round_trip_exactly(dest: Dest) -> None:
    result = dest.load(_typed_lines())
    assert result.returncode == 0, result.stderr.decode()
    rows = {r["id"]: r for r in dest.rows("typed")}
    assert len(rows) == 3
    one, two, three = rows[1], rows[2], rows[3]
    assert one["amount"] == Decimal(LONG) and str(one["amount"]) == LONG
    assert two["amount"] == Decimal("0.1")
    assert three["amount"] == Decimal("-1E-7")
    assert one["flag"] is True and two["flag"] is False and three["flag"] is None
    assert one["doc"] == {"x": Decimal("0.1"), "deep": {"n": Decimal(LONG), "s": "tab\there"}}
    assert one["tags"] == ["a", "b\\c"] and two["tags"] == [] and two["doc"] == {}
    assert one["note"] == "line1\nline2\t\\ 'q' \"dq\"" and two["note"] == ""
    assert one["big"] == 2**63 - 1 and two["big"] == -(2**63)
    assert three["ts"] is None and three["doc"] is None and three["note"] is None
    types = dest.columns("typed")
    if dest.kind == "duckdb":
        assert one["ts"] == datetime(2024, 3, 1, 10, 30, 45, 123456, tzinfo=UTC)
        assert two["ts"] == datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC)
        assert str(one["day"]) == "2024-03-01"
        assert types == {"id": "hugeint", "amount": "decimal(38,18)", "ts": "timestamp with time zone",
                         "day": "date", "flag": "boolean", "doc": "json", "tags": "json", "note": "varchar",
                         "big": "hugeint"}
    elif dest.kind == "postgres":
        assert one["ts"] == datetime(2024, 3, 1, 10, 30, 45, 123456, tzinfo=UTC)
        assert two["ts"] == datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC)
        assert str(one["day"]) == "2024-03-01"
        assert types == {"id": "bigint", "amount": "numeric", "ts": "timestamp with time zone", "day": "date",
                         "flag": "boolean", "doc": "jsonb", "tags": "jsonb", "note": "text", "big": "bigint"}
    else:
        assert datetime.fromisoformat(one["ts"]) == datetime(2024, 3, 1, 10, 30, 45, 123456, tzinfo=UTC)
        assert one["day"] == "2024-03-01"
        assert types["amount"] == "decimal_text" and types["doc"] == "json_text" and types["flag"] == "boolean"
        assert dest.sql("SELECT typeof(amount), typeof(big) FROM typed WHERE id = 1") == [("text", "integer")]


LONG_A = "L" * 200 + "-first-" + "a" * 30
LONG_B = "L" * 200 + "-second-" + "b" * 30
UNSAFE_FIELDS = [
    'quote"inside', "semi;colon --", "drop table x; --", "ünïcødé ✓ 名前", "'single'", " spaced ", "back\\slash",
    "Id", "id", "a.b", LONG_A, LONG_B, "x" * 250,
]
UNSAFE_STREAM = 'weird"; DROP TABLE users; -- ünï ' + "s" * 220


def _unsafe_lines(value_suffix: str) -> bytes:
    schema = {"type": "object", "properties": {f: {"type": ["string", "null"]} for f in UNSAFE_FIELDS}}
    records = [{"type": "RECORD", "stream": UNSAFE_STREAM,
                "record": {f: str(i) if f == "id" else f"{i}:{n}{value_suffix}" for n, f in enumerate(UNSAFE_FIELDS)}}
               for i in (1, 2)]
    return singer({"type": "SCHEMA", "stream": UNSAFE_STREAM, "schema": schema, "key_properties": ["id"]},
                  *records, {"type": "STATE", "value": {"n": 2}})


def test_unsafe_names_land_in_distinct_safe_columns(dest: Dest) -> None:
    result = dest.load(_unsafe_lines(""))
    assert result.returncode == 0, result.stderr.decode()
    tables = dest.tables()
    assert len(tables) == 1
    table = tables.pop()
    columns = dest.columns(table)
    assert len(columns) == len(UNSAFE_FIELDS), columns
    if dest.kind == "postgres":
        assert all(len(c.encode()) <= 63 for c in [table, *columns])
        assert table.startswith('weird"; DROP TABLE users; -- ünï ')
    rows = dest.rows(table)
    # every field's value is in exactly one column, for every row: nothing collided or got lost
    for row in rows:
        values = sorted(v.split(":", 1)[1] for v in row.values() if ":" in v)
        assert values == sorted(str(n) for n, f in enumerate(UNSAFE_FIELDS) if f != "id")
        assert sorted(row.values()).count(row[next(c for c in row if row[c] in ("1", "2"))]) == 1
    assert len(rows) == 2
    assert set(dest.tables()) == {table}


def test_unsafe_names_rerun_maps_to_the_same_columns(dest: Dest) -> None:
    assert dest.load(_unsafe_lines("")).returncode == 0
    second = dest.load(_unsafe_lines("-again"))
    assert second.returncode == 0, second.stderr.decode()
    (table,) = dest.tables()
    assert len(dest.columns(table)) == len(UNSAFE_FIELDS)
    rows = dest.rows(table)
    assert len(rows) == 2
    assert all(v.endswith("-again") for row in rows for v in row.values() if ":" in v)


def test_unicode_and_quotes_in_values_and_config_table_name(dest_factory: Callable[..., Dest]) -> None:
    dest = dest_factory(table_names={"public-users": 'my "users"'}, table_prefix="ignored_")
    data = singer(
        {"type": "SCHEMA", "stream": "public-users", "schema": {"type": "object", "properties": {
            "id": {"type": "integer"}, "name": {"type": "string"}}}, "key_properties": ["id"]},
        {"type": "RECORD", "stream": "public-users", "record": {"id": 1, "name": "Zoë; DROP TABLE x; '--"}},
        {"type": "SCHEMA", "stream": "public-orders", "schema": {"type": "object", "properties": {
            "id": {"type": "integer"}}}, "key_properties": ["id"]},
        {"type": "RECORD", "stream": "public-orders", "record": {"id": 7}},
    )
    result = dest.load(data)
    assert result.returncode == 0, result.stderr.decode()
    assert dest.tables() == {'my "users"', "ignored_orders"}
    assert dest.rows('my "users"') == [{"id": 1, "name": "Zoë; DROP TABLE x; '--"}]


def test_invalid_record_names_line_stream_and_field(dest: Dest) -> None:
    data = singer(
        {"type": "SCHEMA", "stream": "s", "schema": TYPED_SCHEMA, "key_properties": ["id"]},
        {"type": "RECORD", "stream": "s", "record": {"id": 1, "amount": 1}},
        {"type": "RECORD", "stream": "s", "record": {"id": 2, "amount": "not a number"}},
    )
    result = dest.load(data)
    assert result.returncode == 1
    (line,) = error_lines(result.stderr)
    assert "line 3" in line and "stream 's'" in line and "field 'amount'" in line
    assert json.dumps(result.stdout.decode()) == '""'
