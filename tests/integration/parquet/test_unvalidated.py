"""validate_records false: a value its column would change is refused with one line naming its input
line, stream and field, as target-postgres refuses it. pyarrow truncated 1.5 in an integer column
to 1, wrote true in a number column as 1.0 (or a decimal 1), and a number in a date-time column
ended the run with "internal error: AttributeError"."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import target_states
from tests.integration.parquet.support import parquet_files, pyarrow_rows, record, run_target, schema, state

PROPS: dict[str, Any] = {
    "id": {"type": "integer"},
    "q": {"type": ["integer", "null"]},
    "big": {"type": ["integer", "null"], "maximum": 10 ** 30},  # decimal128(38, 0)
    "f": {"type": ["number", "null"]},
    "m": {"type": ["number", "null"], "multipleOf": 0.01},  # decimal128(38, 2)
    "at": {"type": ["string", "null"], "format": "date-time"},
    "day": {"type": ["string", "null"], "format": "date"},
    "o": {"type": ["object", "null"], "properties": {"z": {"type": ["integer", "null"]}}},
    "l": {"type": ["array", "null"], "items": {"type": "number"}},
}


@pytest.mark.parametrize(("values", "field", "what"), [
    ({"q": 1.5}, "q", "1.5 is not an integer"),
    ({"q": -0.25}, "q", "-0.25 is not an integer"),
    ({"q": True}, "q", "true is not an integer"),
    ({"big": 2.5}, "big", "2.5 is not an integer"),
    ({"f": True}, "f", "true is not a number"),
    ({"m": False}, "m", "false is not a number"),
    ({"at": 12345}, "at", "12345 is not a date or date-time"),
    ({"day": 20240101}, "day", "20240101 is not a date or date-time"),
    ({"o": {"z": 7.5}}, "o.z", "7.5 is not an integer"),
    ({"l": [1, 2, True]}, "l[2]", "true is not a number"),
])
def test_without_validation_a_value_its_column_would_change_is_refused(
        tmp_path: Path, values: dict[str, Any], field: str, what: str) -> None:
    data = (schema("x", PROPS) + record("x", {"id": 1, "q": 2}) + state(1)
            + record("x", {"id": 2, **values}) + state(2))
    done = run_target(tmp_path, data, validate_records=False, state_flush_seconds=0)
    assert done.returncode == 1, f"stored: {pyarrow_rows(tmp_path / 'out' / 'x' / 'v1')}"
    errors = [ln for ln in done.stderr.decode().splitlines() if "ERROR" in ln]
    assert len(errors) == 1, errors
    assert f"line 4, stream 'x', field '{field}': {what}" in errors[0], errors[0]
    assert "internal error" not in errors[0]
    assert target_states(done.stdout) == [{"n": 1}]
    assert [r["id"] for r in pyarrow_rows(tmp_path / "out" / "x" / "v1")] == [1]


def test_without_validation_values_the_columns_hold_load_as_before(tmp_path: Path) -> None:
    data = (schema("x", PROPS)
            + b'{"type":"RECORD","stream":"x","record":{"id":1,"q":2.0,"big":1e20,"f":1,"m":"1.25",'
              b'"at":"2024-01-02T03:04:05Z","o":{"z":3},"l":[1,2.5]}}\n'
            + state(1))
    done = run_target(tmp_path, data, validate_records=False)
    assert done.returncode == 0, done.stderr.decode()
    (row,) = pyarrow_rows(tmp_path / "out" / "x" / "v1")
    assert (row["q"], row["big"], row["f"], row["m"], row["o"], row["l"]) == (
        2, Decimal(10 ** 20), 1.0, Decimal("1.25"), {"z": 3}, [1.0, 2.5])
    assert row["at"].astimezone(UTC) == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert len(parquet_files(tmp_path / "out")) == 1
