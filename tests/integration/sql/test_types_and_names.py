"""Types round-trip exactly, and untrusted stream/field names land safely, in both SQL targets."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from tests.conftest import run
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


WIDE_SCHEMA = {"type": "object", "properties": {"id": {"type": "integer"}, "amount": {"type": ["number", "null"]},
                                                "big": {"type": ["integer", "null"]}}}


def _wide(*records: str) -> bytes:
    head = singer({"type": "SCHEMA", "stream": "wide", "schema": WIDE_SCHEMA, "key_properties": ["id"]})
    lines = [f'{{"type":"RECORD","stream":"wide","record":{r}}}' for r in records]  # by hand: numbers as written
    return head + "\n".join(lines).encode() + b"\n" + singer({"type": "STATE", "value": {"n": len(records)}})


def test_a_number_past_a_floats_range_is_kept_or_refused_never_changed(dest: Dest) -> None:
    """1E400 is JSON (no range limit); read exactly, it lands where the column can hold it."""
    result = dest.load(_wide('{"id":1,"amount":0.5}', '{"id":2,"amount":1E400}', '{"id":3,"amount":-2.5e+309}'))
    if dest.kind == "duckdb":  # DECIMAL(38,18) cannot: one line naming its line, stream and field
        assert result.returncode != 0
        (line,) = error_lines(result.stderr)
        assert line.endswith("| line 3, stream 'wide', field 'amount': 1E+400 is past what column amount holds "
                             "(DECIMAL(38,18): less than 10^20 in magnitude; number_type: double or text loads it)"
                             ), line
        assert dest.tables() == set() or dest.rows("wide") == []
        return
    assert result.returncode == 0, result.stderr.decode()
    rows = {r["id"]: r["amount"] for r in dest.rows("wide")}
    assert rows == {1: Decimal("0.5"), 2: Decimal("1E+400"), 3: Decimal("-2.5E+309")}


@pytest.mark.parametrize("fast", [True, False])
def test_an_integer_written_with_an_exponent_is_the_number_written(dest: Dest, fast: bool) -> None:
    """``1e30`` in an integer field is 10**30 (JSON Schema: a number with a zero fraction), though
    the float it is read as is 1000000000000000019884624838656; below 2**53 the two agree."""
    written = {1: "1e18", 2: "1.5e17", 3: "4e15", 4: "2E+3"}
    if dest.kind == "duckdb":  # HUGEINT holds them; PostgreSQL's BIGINT and SQLite refuse them, by line
        written |= {5: "1e30", 6: "1.2345e25"}
    data = _wide(*(f'{{"id":{i},"big":{text}}}' for i, text in written.items()))
    env = {**os.environ, "SLUICE_FAST_PATH": "1" if fast else "0"}
    result = run([dest.exe, "--config", str(dest.config_path)], input=data, env=env)
    assert result.returncode == 0, result.stderr.decode()
    assert {r["id"]: r["big"] for r in dest.rows("wide")} == {i: int(Decimal(t)) for i, t in written.items()}


def test_an_integer_past_64_bits_is_kept_or_refused_never_rounded(dest: Dest) -> None:
    """2**64 in an integer column: DuckDB's HUGEINT holds it; PostgreSQL's bigint refuses it; SQLite
    would round it to a float (an INTEGER column's affinity converts even its text), so it refuses."""
    data = _wide('{"id":1,"big":5}') + _wide('{"id":2,"big":18446744073709551616}')
    result = dest.load(data)
    if dest.kind == "duckdb":
        assert result.returncode == 0, result.stderr.decode()
        assert {r["id"]: r["big"] for r in dest.rows("wide")} == {1: 5, 2: 2**64}
        return
    assert result.returncode != 0
    (line,) = error_lines(result.stderr)
    assert "18446744073709551616" in line, line
    assert "line 5, stream 'wide', field 'big'" in line, line  # SCHEMA, RECORD, STATE, SCHEMA, this
    assert {r["id"]: r["big"] for r in dest.rows("wide")} == {1: 5}  # the record before the STATE is safe


# every RFC 3339 form the validators accept (protocol/_fastcheck.py is_date_time), and its instant
RFC3339_FORMS = {
    "2024-01-01T10:00:00Z": datetime(2024, 1, 1, 10, tzinfo=UTC),
    "2024-01-01t10:00:01z": datetime(2024, 1, 1, 10, 0, 1, tzinfo=UTC),
    "2024-01-01t10:00:02Z": datetime(2024, 1, 1, 10, 0, 2, tzinfo=UTC),
    "2024-01-01T10:00:03z": datetime(2024, 1, 1, 10, 0, 3, tzinfo=UTC),
    "2024-01-01 10:00:04Z": datetime(2024, 1, 1, 10, 0, 4, tzinfo=UTC),
    "2024-01-01T10:00:05.25+05:30": datetime(2024, 1, 1, 10, 0, 5, 250000, tzinfo=timezone(timedelta(hours=5.5))),
    "2024-01-01T10:00:06-0800": datetime(2024, 1, 1, 10, 0, 6, tzinfo=timezone(timedelta(hours=-8))),
    "2024-01-01T10:00:07.5-00:00": datetime(2024, 1, 1, 10, 0, 7, 500000, tzinfo=UTC),
    "2024-01-01t10:00:08.123456z": datetime(2024, 1, 1, 10, 0, 8, 123456, tzinfo=UTC),
}


@pytest.mark.parametrize("fast", [True, False])
def test_every_rfc3339_form_the_validators_accept_lands(dest: Dest, fast: bool) -> None:
    """A lower-case "t" or "z" is RFC 3339 (PostgreSQL reads it, DuckDB does not: it is upper-cased there)."""
    schema = {"type": "object", "properties": {"id": {"type": "integer"},
                                               "at": {"type": ["string", "null"], "format": "date-time"}}}
    data = singer({"type": "SCHEMA", "stream": "stamps", "schema": schema, "key_properties": ["id"]},
                  *({"type": "RECORD", "stream": "stamps", "record": {"id": i, "at": text}}
                    for i, text in enumerate(RFC3339_FORMS)), {"type": "STATE", "value": {"n": 1}})
    env = {**os.environ, "SLUICE_FAST_PATH": "1" if fast else "0"}
    result = run([dest.exe, "--config", str(dest.config_path)], input=data, env=env)
    assert result.returncode == 0, result.stderr.decode()
    rows = {r["id"]: r["at"] for r in dest.rows("stamps")}
    for i, (text, instant) in enumerate(RFC3339_FORMS.items()):
        landed = rows[i] if dest.kind != "sqlite" else datetime.fromisoformat(rows[i].upper())
        assert landed == instant, (text, landed)
        if dest.kind == "sqlite":
            assert rows[i] == text  # SQLite keeps the text as written


def _elsewhere(dest: Dest, schema: str) -> dict[str, str]:
    """The settings of a second destination beside ``dest`` (another file, or another schema)."""
    if dest.kind == "sqlite":
        return {"database": str(dest.sqlite_path) + "2"}
    if dest.kind == "duckdb":
        return {"path": str(dest.sqlite_path) + "2"}
    return {"default_target_schema": schema}


@pytest.mark.parametrize("fast", [True, False])
def test_a_null_key_is_one_error_naming_its_line(dest_factory: Callable[..., Dest], fast: bool) -> None:
    """A key whose schema admits null, null in a record: refused with its line (PostgreSQL and DuckDB
    refused the whole chunk without one; SQLite numbered the row itself, a key the source never had)."""
    dest = dest_factory()
    schema = {"type": "object", "properties": {"id": {"type": ["integer", "null"]}, "v": {"type": ["string", "null"]}}}
    data = singer({"type": "SCHEMA", "stream": "nk", "schema": schema, "key_properties": ["id"]},
                  *({"type": "RECORD", "stream": "nk", "record": {"id": i, "v": "a"}} for i in range(1, 301)),
                  {"type": "STATE", "value": {"n": 1}},
                  *({"type": "RECORD", "stream": "nk", "record": {"id": i, "v": "b"}} for i in range(301, 400)),
                  {"type": "RECORD", "stream": "nk", "record": {"id": None, "v": "null key"}},
                  {"type": "STATE", "value": {"n": 2}})
    env = {**os.environ, "SLUICE_FAST_PATH": "1" if fast else "0"}
    result = run([dest.exe, "--config", str(dest.config_path)], input=data, env=env)
    assert result.returncode != 0
    (line,) = error_lines(result.stderr)
    assert "line 402, stream 'nk', field 'id': key property is null" in line, line  # SCHEMA, 300, STATE, 99, this
    assert json.loads(result.stdout.decode().splitlines()[-1]) == {"n": 1}
    ids = sorted(r["id"] for r in dest.rows("nk"))
    assert ids[:300] == list(range(1, 301)) and None not in ids and 400 not in ids
    # append-only keeps no key: the same input loads, the null included
    appended = dest_factory(load_method="append-only", **_elsewhere(dest, "appended"))
    result = run([appended.exe, "--config", str(appended.config_path)], input=data, env=env)
    assert result.returncode == 0, result.stderr.decode()
    assert sum(r["id"] is None for r in appended.rows("nk")) == 1


@pytest.mark.parametrize("fast", [True, False])
def test_a_key_both_string_and_number_is_one_key_unless_mapped_to_keep_its_type(
        dest_factory: Callable[..., Dest], fast: bool) -> None:
    """As targets/sql/README.md says: a text key column makes 1 and "1" one key (the second upserts
    over the first); the README's map (``json.dumps(id)``) keeps them apart."""
    schema = {"type": "object", "properties": {"id": {"type": ["string", "integer"]}, "v": {"type": "string"}}}
    data = singer({"type": "SCHEMA", "stream": "uk", "schema": schema, "key_properties": ["id"]},
                  *({"type": "RECORD", "stream": "uk", "record": {"id": i, "v": f"n{i}"}} for i in range(1, 4)),
                  *({"type": "RECORD", "stream": "uk", "record": {"id": str(i), "v": f"s{i}"}} for i in range(1, 4)),
                  {"type": "STATE", "value": {"n": 1}})
    env = {**os.environ, "SLUICE_FAST_PATH": "1" if fast else "0"}
    merged = dest_factory()
    assert run([merged.exe, "--config", str(merged.config_path)], input=data, env=env).returncode == 0
    assert sorted((str(r["id"]), r["v"]) for r in merged.rows("uk")) == [("1", "s1"), ("2", "s2"), ("3", "s3")]
    kept = dest_factory(stream_maps={"uk": {"id": "json.dumps(id)"}}, **_elsewhere(merged, "kept"))
    result = run([kept.exe, "--config", str(kept.config_path)], input=data, env=env)
    assert result.returncode == 0, result.stderr.decode()
    assert sorted((r["id"], r["v"]) for r in kept.rows("uk")) == sorted(
        [(str(i), f"n{i}") for i in range(1, 4)] + [(f'"{i}"', f"s{i}") for i in range(1, 4)])


# what each SQL target's columns cannot hold (protocol.Bounds): a refused value, and the words naming its column
PAST_BOUNDS = {"postgres": ("q", 2**63, "9223372036854775808 is past what column q holds (BIGINT: 64 bits"),
               "duckdb": ("n", 1e25, "1e+25 is past what column n holds (DECIMAL(38,18): less than 10^20"),
               "sqlite": ("q", 2**64, "integer 18446744073709551616 does not fit SQLite's 64-bit INTEGER")}


@pytest.mark.parametrize("fast", [True, False])
def test_a_number_its_column_cannot_hold_is_one_error_naming_its_line(dest: Dest, fast: bool) -> None:
    """Inside a run of the fast lane or one by one: the line, stream and field, not the database's
    words for a failed load (which named neither); what the last STATE covers stays."""
    field, value, words = PAST_BOUNDS[dest.kind]
    schema = {"type": "object", "properties": {"id": {"type": "integer"}, "q": {"type": ["integer", "null"]},
                                               "n": {"type": ["number", "null"]}}}
    data = singer({"type": "SCHEMA", "stream": "nb", "schema": schema, "key_properties": ["id"]},
                  *({"type": "RECORD", "stream": "nb", "record": {"id": i, "q": i, "n": i / 4}} for i in range(1, 301)),
                  {"type": "STATE", "value": {"n": 1}},
                  *({"type": "RECORD", "stream": "nb", "record": {"id": i, "q": -i, "n": 1e19}}
                    for i in range(301, 350)),
                  {"type": "RECORD", "stream": "nb", "record": {"id": 350, "q": 1, "n": 1.5, field: value}},
                  *({"type": "RECORD", "stream": "nb", "record": {"id": i, "q": 2**62, "n": -1e19}}
                    for i in range(351, 400)),
                  {"type": "STATE", "value": {"n": 2}})
    env = {**os.environ, "SLUICE_FAST_PATH": "1" if fast else "0"}
    result = run([dest.exe, "--config", str(dest.config_path)], input=data, env=env)
    assert result.returncode == 1, result.stderr.decode()
    (line,) = error_lines(result.stderr)
    assert f"| line 352, stream 'nb', field '{field}': {words}" in line, line  # SCHEMA, 300, STATE, 50, this
    assert json.loads(result.stdout.decode().splitlines()[-1]) == {"n": 1}
    assert sorted(r["id"] for r in dest.rows("nb")) == list(range(1, 301))


def test_key_properties_that_widen_the_tables_key_are_one_clear_error(dest: Dest) -> None:
    schema = {"type": "object", "properties": {"id": {"type": "integer"}, "r": {"type": "string"},
                                               "v": {"type": "string"}}}
    first = singer({"type": "SCHEMA", "stream": "kc", "schema": schema, "key_properties": ["id"]},
                   {"type": "RECORD", "stream": "kc", "record": {"id": 1, "r": "eu", "v": "a"}},
                   {"type": "STATE", "value": {"n": 1}})
    assert dest.load(first).returncode == 0
    second = singer({"type": "SCHEMA", "stream": "kc", "schema": schema, "key_properties": ["id", "r"]},
                    {"type": "RECORD", "stream": "kc", "record": {"id": 1, "r": "us", "v": "b"}},
                    {"type": "STATE", "value": {"n": 2}})
    result = dest.load(second)
    assert result.returncode != 0
    (line,) = error_lines(result.stderr)
    assert "stream 'kc': table kc has the key (id) and the key properties make it (id, r)" in line, line
    assert [(r["id"], r["r"], r["v"]) for r in dest.rows("kc")] == [(1, "eu", "a")]


def test_time_extracted_must_be_a_date_time_where_it_is_stored(dest_factory: Callable[..., Dest]) -> None:
    """With add_record_metadata, time_extracted lands in _sdc_extracted_at: PostgreSQL read "yesterday"
    as a date, so anything but an RFC 3339 date-time is refused, naming its line."""
    dest = dest_factory(add_record_metadata=True)
    head = singer({"type": "SCHEMA", "stream": "te", "schema": {"type": "object", "properties": {
        "id": {"type": "integer"}}}, "key_properties": ["id"]},
        {"type": "RECORD", "stream": "te", "record": {"id": 1}, "time_extracted": "2024-01-01T00:00:00Z"},
        {"type": "STATE", "value": {"n": 1}})
    for bad in ("yesterday", "now", 12):
        result = dest.load(head + singer({"type": "RECORD", "stream": "te", "record": {"id": 2},
                                          "time_extracted": bad}, {"type": "STATE", "value": {"n": 2}}))
        assert result.returncode != 0, bad
        (line,) = error_lines(result.stderr)
        assert "line 4, stream 'te', field 'time_extracted'" in line and "not an RFC 3339 date-time" in line, line
    rows = dest.rows("te")
    assert [r["id"] for r in rows] == [1]


@pytest.mark.parametrize("fast", [True, False])
def test_an_integral_number_with_a_fraction_of_zeros_lands_in_an_integer_column(dest: Dest, fast: bool) -> None:
    """2.0 and 1234567890123456.0 are integers (JSON Schema): the second, read exactly (16 digits), was
    refused by the validator, and a database reading its text into an integer column refuses it too."""
    data = _wide('{"id":1,"big":2.0}', '{"id":2,"big":1234567890123456.0}', '{"id":3.0,"big":-9000000000000000.00}')
    env = {**os.environ, "SLUICE_FAST_PATH": "1" if fast else "0"}
    result = run([dest.exe, "--config", str(dest.config_path)], input=data, env=env)
    assert result.returncode == 0, result.stderr.decode()
    assert {r["id"]: r["big"] for r in dest.rows("wide")} == {1: 2, 2: 1234567890123456, 3: -9000000000000000}


@pytest.mark.parametrize("target_kind", ["sqlite"])
def test_a_decimal_key_read_exactly_is_one_key_whatever_its_trailing_zeros(dest: Dest) -> None:
    """SQLite keeps a number's text (DECIMAL_TEXT): a decimal of 16 digits or more kept its trailing
    zeros, so 1234567890123456.5 and 1234567890123456.50 were two rows for one key."""
    schema = {"type": "SCHEMA", "stream": "nk", "key_properties": ["id"], "schema": {
        "type": "object", "properties": {"id": {"type": "number"}, "v": {"type": "string"}}}}
    lines = b"\n".join([json.dumps(schema).encode(),
                        b'{"type":"RECORD","stream":"nk","record":{"id":1234567890123456.5,"v":"first"}}',
                        b'{"type":"RECORD","stream":"nk","record":{"id":1234567890123456.50,"v":"second"}}',
                        b'{"type":"RECORD","stream":"nk","record":{"id":12345678901234567890,"v":"a"}}',
                        b'{"type":"RECORD","stream":"nk","record":{"id":12345678901234567890.000,"v":"b"}}',
                        b'{"type":"STATE","value":{}}']) + b"\n"
    done = dest.load(lines)
    assert done.returncode == 0, done.stderr.decode()
    assert sorted(dest.sql("SELECT id, v FROM nk")) == [("1234567890123456.5", "second"),
                                                       ("12345678901234567890", "b")]
