"""singer-sdk's canned target streams, every one of them, fed to target-sqlite, target-postgres and
target-duckdb.

Each (target, canned file) pair is a test. Valid streams: exit 0, the last STATE of the file is
the last STATE on stdout, and the rows that landed are exactly the ones in ``EXPECTED`` (upsert
by key: the last record of a key wins; no key: appended). Some files run after another one into
the same database (``after``), to show upserts and appends across runs. Invalid-by-design
streams: exit 1, one error line naming the line, the stream and the field, and no row landed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import sdk_target_streams
from tests.integration.sql.helpers import TARGETS, Dest, error_lines, make_dest, stdout_states

Rows = list[dict[str, Any]]


@dataclass(frozen=True)
class Valid:
    tables: dict[str, Rows]
    after: str | None = None                      # canned file loaded first, into the same database
    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)  # tables that must have these columns


@dataclass(frozen=True)
class Invalid:
    line: int
    stream: str
    field: str | None = None


def _users(*pairs: tuple[int, str]) -> Rows:
    return [{"id": i, "name": n} for i, n in pairs]


def _uil(*rows: tuple[int, int, int, str, str]) -> Rows:
    return [{"id": i, "user_id": u, "location_id": loc, "info": {"weather": w, "mood": m}}
            for i, u, loc, w, m in rows]


FORECAST_COLUMNS = ("Id", "IsDeleted", "CreatedDate", "DisplayPosition", "age", "NewCamelCasedAttribute",
                    "_attribute_startswith_underscore")
A4 = [None, None, {"id": 1, "value": 1}, {"id": 2, "value": 22}, {"id": 3, "value": 33}, {"id": 4, "value": 444}]
A5 = [None, None, ["banana", "apple"], ["orange", "pear"], ["apple"], ["banana", "orange"]]

EXPECTED: dict[str, Valid | Invalid] = {
    "array_data.singer": Valid({"test_array_data": [
        {"id": 1, "fruits": ["apple", "orange", "pear"]}, {"id": 2, "fruits": ["banana", "apple"]},
        {"id": 3, "fruits": ["pear"]}, {"id": 4, "fruits": ["orange", "banana", "apple", "pear"]}]}),
    "camelcase.singer": Valid({"TestCamelcase": [
        {"Id": "1", "clientName": "Gitter Windows Desktop App"}, {"Id": "2", "clientName": "Gitter iOS App"}]}),
    "camelcase_complex_schema.singer": Valid({"ForecastingTypeToCategory": []},
                                             columns={"ForecastingTypeToCategory": FORECAST_COLUMNS}),
    "duplicate_records.singer": Valid({"test_duplicate_records": [{"id": 1, "metric": 100}, {"id": 2, "metric": 20}]}),
    "encoded_string_data.singer": Valid({}),  # rows computed from the file: see _encoded_strings
    "invalid_schema.singer": Invalid(1, "test_invalid_schema"),
    "multiple_state_messages.singer": Valid({
        "test_multiple_state_messages_a": [{"id": i, "metric": 100 * i} for i in range(1, 7)],
        "test_multiple_state_messages_b": [{"id": i, "metric": 110 * i} for i in range(1, 7)]}),
    "no_primary_keys.singer": Valid({"test_no_pk": [{"id": 1, "metric": 11}, {"id": 2, "metric": 22},
                                                    {"id": 3, "metric": 33}]}),
    "no_primary_keys_append.singer": Valid({"test_no_pk": [
        {"id": 1, "metric": 11}, {"id": 2, "metric": 22}, {"id": 3, "metric": 33},
        *({"id": i, "metric": 101 * i} for i in range(1, 6))]}, after="no_primary_keys.singer"),
    "optional_attributes.singer": Valid({"test_optional_attributes": [
        {"id": 1, "optional": "This is optional"}, {"id": 2, "optional": None},
        {"id": 3, "optional": "Also optional"}, {"id": 4, "optional": None}]}),
    # key_properties sit inside "schema" there, so the stream has no key: both rows appended
    "pk_updates.singer": Valid({"example_stream": [
        {"id": 1, "name": "Alice", "email": "alice@example.com"},
        {"id": 2, "name": "Bob", "email": "bob@example.com"}]}),
    "record_before_schema.singer": Invalid(1, "test_record_before_schema"),
    "record_missing_fields.singer": Valid({"record_missing_fields": [
        {"id": 1, "optional": "now you see me"}, {"id": 2, "optional": None}]}),
    "record_missing_key_property.singer": Invalid(2, "test_record_missing_key_property", "id"),
    "record_missing_required_property.singer": Invalid(2, "test_record_missing_required_property", "id"),
    "schema_no_properties.singer": Valid({
        "test_object_schema_with_properties": [{"object_store": {"id": 1, "metric": 187}},
                                               {"object_store": {"id": 2, "metric": 203}}],
        "test_object_schema_no_properties": [{"object_store": {"id": 1, "metric": 1}},
                                             {"object_store": {"id": 2, "metric": 2}}]}),
    "schema_updates.singer": Valid({"test_schema_updates": [
        {"id": i, "a1": 100 + i, "a2": f"string{i}", "a3": [None, True, False, True, False, True][i - 1],
         "a4": A4[i - 1], "a5": A5[i - 1], "a6": [None, None, None, None, 985, 341][i - 1]} for i in range(1, 7)]}),
    "special_chars_in_attributes.singer": Valid({"test:SpecialChars!in?attributes": [
        {"_id": "a2e98886", "d": {"env": "prod", "agent:type": "desktop", "agent:os:version": "10.13.1"},
         "_sdc_table_version": 1541199424491}]}),
    "user_location_data.singer": Valid({
        "test_users": _users((1, "Yannis"), (2, "Micael"), (3, "Jacob"), (4, "Josh"), (5, "Thomas")),
        "test_locations": [{"id": 1, "name": "Philadelphia"}, {"id": 2, "name": "NY"}, {"id": 3, "name": "SF"}],
        "test_user_in_location": _uil((1, 1, 1, "rainy", "sad"), (2, 1, 2, "sunny", "satisfied"),
                                      (3, 1, 3, "sunny", "happy"))}),
    "user_location_upsert_data.singer": Valid({
        "test_users": _users((1, "Johny"), (2, "George"), (3, "Jacob"), (4, "Josh"), (5, "Jim"), (8, "Thomas"),
                             (12, "Paul"), (13, "Mary")),
        "test_locations": [{"id": 1, "name": "Philly"}, {"id": 2, "name": "NY"}, {"id": 3, "name": "San Francisco"},
                           {"id": 6, "name": "Colorado"}, {"id": 8, "name": "Boston"}],
        "test_user_in_location": _uil((1, 1, 4, "rainy", "sad"), (2, 2, 3, "sunny", "satisfied"),
                                      (3, 1, 3, "sunny", "happy"), (6, 3, 2, "sunny", "happy"),
                                      (14, 4, 1, "cloudy", "ok"))}, after="user_location_data.singer"),
}

CANNED = sorted(p.name for p in sdk_target_streams().glob("*.singer"))


def test_every_canned_stream_has_an_expectation() -> None:
    assert set(CANNED) == set(EXPECTED), "a canned stream was added or removed: extend EXPECTED"


def _without_nul(value: Any) -> Any:
    """PostgreSQL cannot store NUL characters: target-postgres drops them."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {k: _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


def _encoded_strings(kind: str) -> dict[str, Rows]:
    """encoded_string_data: every record as it is in the file (unique keys), NULs dropped by PostgreSQL
    (SQLite and DuckDB store them)."""
    tables: dict[str, Rows] = {}
    for line in (sdk_target_streams() / "encoded_string_data.singer").read_text().splitlines():
        msg = json.loads(line)
        if msg["type"] == "RECORD":
            tables.setdefault(msg["stream"], []).append(msg["record"])
    assert sum(map(len, tables.values())) == 28 and "\x00" in tables["test_strings"][10]["info"]
    return tables if kind in ("sqlite", "duckdb") else _without_nul(tables)


def _key(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, default=str)


def _normal(value: Any) -> Any:
    """Exact numbers compare equal across int and Decimal; JSON numbers likewise."""
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


def _landed(dest: Dest, table: str, expected: Rows) -> Rows:
    columns = list(expected[0]) if expected else None
    return [_normal(r) for r in dest.rows(table, columns)]


@pytest.mark.parametrize("kind", TARGETS)
@pytest.mark.parametrize("name", CANNED)
def test_canned_stream(kind: str, name: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    dsn = request.getfixturevalue("pg_dsn") if kind == "postgres" else None
    dest = make_dest(kind, tmp_path, dsn)
    expected = EXPECTED[name]
    data = (sdk_target_streams() / name).read_bytes()

    if isinstance(expected, Invalid):
        result = dest.load(data)
        assert result.returncode == 1, result.stderr.decode()
        errors = error_lines(result.stderr)
        assert len(errors) == 1, result.stderr.decode()
        assert f"line {expected.line}" in errors[0] and f"'{expected.stream}'" in errors[0]
        if expected.field:
            assert f"field '{expected.field}'" in errors[0]
        assert "Traceback" not in result.stderr.decode()
        assert result.stdout == b""
        for table in dest.tables():
            assert dest.rows(table) == [], f"{table}: rows landed from an invalid stream"
        return

    if expected.after:
        first = dest.load((sdk_target_streams() / expected.after).read_bytes())
        assert first.returncode == 0, first.stderr.decode()
    result = dest.load(data)
    assert result.returncode == 0, result.stderr.decode()
    states = [json.loads(line)["value"] for line in data.decode().splitlines() if '"STATE"' in line]
    if states:
        assert stdout_states(result.stdout)[-1] == states[-1]
    tables = _encoded_strings(kind) if name == "encoded_string_data.singer" else expected.tables
    assert set(tables) <= dest.tables()
    for table, rows in tables.items():
        landed = _landed(dest, table, rows)
        assert sorted(map(_key, landed)) == sorted(_key(_normal(r)) for r in rows), table
    for table, cols in expected.columns.items():
        assert set(cols) <= set(dest.columns(table)), table
