"""Decimal columns hold a number below 10^(38 - scale) in magnitude, whatever its JSON form: a larger
one stops the run naming its line and field. pyarrow's JSON reader rescaled an integer to the
column's scale without a check, so 18446744073709551616 at scale 30 was stored as
93653091.630807285520487588580038803456 (exit 0); the oracle here is the JSON text itself."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest

from tests.conftest import target_states
from tests.integration.parquet.support import pyarrow_rows, run_target, schema, state

PROPS: dict[str, Any] = {
    "id": {"type": "integer"},
    "n": {"type": ["number", "null"]},
    "s": {"type": ["object", "null"], "properties": {"n": {"type": ["number", "null"]}}},
    "l": {"type": ["array", "null"], "items": {"type": "number"}},
    "d": {"type": ["string", "null"], "format": "singer.decimal"},
    "at": {"type": ["string", "null"], "format": "date-time"},
}


def _record(i: int, field: str, text: str) -> bytes:
    value = {"n": text, "s": f'{{"n":{text}}}', "l": f"[1,{text}]", "d": f'"{text}"'}[field]
    return f'{{"type":"RECORD","stream":"t","record":{{"id":{i},"{field}":{value}}}}}\n'.encode()


@pytest.mark.parametrize("fast_path", [True, False])
@pytest.mark.parametrize(("field", "text"), [
    ("n", "18446744073709551616"), ("n", "9223372036854775807"), ("n", "1000000000000000000"),
    ("n", "-18446744073709551616"), ("n", "1e10"), ("n", "1.8446744073709551616e19"), ("n", "100000000"),
    ("s", "18446744073709551616"), ("l", "1E+10"), ("d", "18446744073709551616"), ("d", "-1e10"),
])
def test_a_number_past_the_columns_range_stops_with_its_line_and_field(tmp_path: Path, fast_path: bool,
                                                                        field: str, text: str) -> None:
    data = (schema("t", PROPS) + _record(1, field, "12345678.5") + state(1)
            + _record(2, field, text) + state(2))
    done = run_target(tmp_path, data, fast_path=fast_path, decimals="always", decimal_scale=30,
                      state_flush_seconds=0)
    assert done.returncode == 1, f"{text} was stored: {pyarrow_rows(tmp_path / 'out' / 't' / 'v1')}"
    errors = [ln for ln in done.stderr.decode().splitlines() if "ERROR" in ln]
    assert len(errors) == 1, errors
    assert f"line 4, stream 't', field '{field}'" in errors[0], errors[0]
    assert target_states(done.stdout) == [{"n": 1}]
    assert [r["id"] for r in pyarrow_rows(tmp_path / "out" / "t" / "v1")] == [1]


@pytest.mark.parametrize("fast_path", [True, False])
def test_numbers_up_to_the_columns_range_load_exactly(tmp_path: Path, fast_path: bool) -> None:
    texts = ["99999999.999999999999999999999999999999", "-99999999", "12345678.5", "1e7", "-9.99e7",
             "0.000000000000000000000000000001", "0"]
    lines = [_record(i, field, text) for i, text in enumerate(texts) for field in ("n", "d")]
    data = schema("t", PROPS) + b"".join(lines) + state(1)
    done = run_target(tmp_path, data, fast_path=fast_path, decimals="always", decimal_scale=30)
    assert done.returncode == 0, done.stderr.decode()
    got = ds.dataset(tmp_path / "out" / "t" / "v1", format="parquet").to_table().to_pylist()
    numbers = sorted((r["id"], r["n"]) for r in got if r["n"] is not None)
    texts_read = sorted((r["id"], r["d"]) for r in got if r["d"] is not None)
    assert numbers == texts_read == [(i, Decimal(t)) for i, t in enumerate(texts)]


def test_an_integer_of_29_digits_fits_a_column_of_scale_9(tmp_path: Path) -> None:
    big = 10 ** 29 - 1
    data = (schema("t", PROPS) + _record(1, "n", str(big)) + _record(2, "s", str(-big))
            + _record(3, "l", str(big)) + state(1))
    done = run_target(tmp_path, data, decimals="always")
    assert done.returncode == 0, done.stderr.decode()
    rows = pyarrow_rows(tmp_path / "out" / "t" / "v1")
    assert [(r["n"], r["s"], r["l"]) for r in rows] == [
        (Decimal(big), None, None), (None, {"n": Decimal(-big)}, None), (None, None, [Decimal(1), Decimal(big)])]


@pytest.mark.parametrize("fast_path", [True, False])
def test_a_batch_converted_the_reference_way_holds_and_refuses_the_same(tmp_path: Path, fast_path: bool) -> None:
    # a lower-case date-time sends the batch the reference way (pyarrow's reader refuses it), where
    # 21.5 at scale 30 (32 digits) was refused in Python's 28-digit decimal context, naming its line
    # rather than that of the number past the column's range
    at = '"at":"2024-01-01t00:00:00z"'
    texts = ["21.5", "99999999.999999999999999999999999999999", "-0.000000000000000000000000000001"]
    good = b"".join(f'{{"type":"RECORD","stream":"t","record":{{"id":{i},"n":{t},{at}}}}}\n'.encode()
                    for i, t in enumerate(texts))
    done = run_target(tmp_path, schema("t", PROPS) + good + state(1), fast_path=fast_path, decimals="always",
                      decimal_scale=30)
    assert done.returncode == 0, done.stderr.decode()
    assert [r["n"] for r in pyarrow_rows(tmp_path / "out" / "t" / "v1")] == [Decimal(t) for t in texts]

    wrong = b'{"type":"RECORD","stream":"t","record":{"id":9,"n":18446744073709551616,' + at.encode() + b"}}\n"
    done = run_target(tmp_path, schema("t", PROPS) + good + wrong + state(2), fast_path=fast_path,
                      decimals="always", decimal_scale=30)
    assert done.returncode == 1
    errors = [ln for ln in done.stderr.decode().splitlines() if "ERROR" in ln]
    assert len(errors) == 1 and "line 5, stream 't', field 'n': " in errors[0], errors
    assert "18446744073709551616" in errors[0], errors[0]
