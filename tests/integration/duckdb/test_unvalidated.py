"""validate_records false: a value DuckDB would change rather than refuse is refused with one line
naming its input line, stream and field, as target-postgres refuses it. DuckDB's cast rounded 1.5
(and the text "1.5") in a HUGEINT column to 2, exit 0; true in a number column failed the load
with DuckDB's own error, which names a line of its CSV file, not the input's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration.sql.helpers import error_lines, make_dest, singer, stdout_states

SCHEMA = {"type": "SCHEMA", "stream": "t", "key_properties": ["id"], "schema": {"type": "object", "properties": {
    "id": {"type": "integer"}, "q": {"type": ["integer", "null"]}, "n": {"type": ["number", "null"]}}}}


def _records(*records: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"type": "RECORD", "stream": "t", "record": r} for r in records]


@pytest.mark.parametrize("number_type", ["decimal", "double", "text"])
@pytest.mark.parametrize("metadata", [False, True])
@pytest.mark.parametrize(("value", "field", "what"), [
    ({"q": 1.5}, "q", "1.5 is not an integer"),
    ({"q": -2.5}, "q", "-2.5 is not an integer"),
    ({"q": "1.5"}, "q", "'1.5' is not an integer"),
    ({"q": True}, "q", "true is not an integer"),
    ({"n": True}, "n", "true is not a number"),
])
def test_without_validation_a_value_its_column_would_change_is_refused(
        tmp_path: Path, number_type: str, metadata: bool, value: dict[str, Any], field: str, what: str) -> None:
    dest = make_dest("duckdb", tmp_path, None, validate_records=False, number_type=number_type,
                     add_record_metadata=metadata)
    first = singer(SCHEMA, *_records({"id": 1, "q": 5, "n": 0.5}), {"type": "STATE", "value": {"n": 1}})
    done = dest.load(first + singer(*_records({"id": 2, **value}), {"type": "STATE", "value": {"n": 2}}))
    assert done.returncode == 1, f"stored: {dest.rows('t')}"
    (line,) = error_lines(done.stderr)
    assert f"line 4, stream 't', field '{field}': {what}" in line, line
    assert stdout_states(done.stdout) == [{"n": 1}]
    assert [(r["id"], r["q"]) for r in dest.rows("t")] == [(1, 5)]


def test_without_validation_values_the_columns_hold_load_as_before(tmp_path: Path) -> None:
    dest = make_dest("duckdb", tmp_path, None, validate_records=False)
    data = singer(SCHEMA, *_records({"id": 1, "q": 2.0, "n": "1.5"}, {"id": 2, "q": "12", "n": 1}),
                  {"type": "STATE", "value": {"n": 1}})
    data += b'{"type":"RECORD","stream":"t","record":{"id":3,"q":1e2,"n":1234567890123456.0}}\n'
    done = dest.load(data + singer({"type": "STATE", "value": {"n": 2}}))
    assert done.returncode == 0, done.stderr.decode()
    assert sorted((r["id"], r["q"], float(r["n"])) for r in dest.rows("t")) == [
        (1, 2, 1.5), (2, 12, 1.0), (3, 100, 1234567890123456.0)]
