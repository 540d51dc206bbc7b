"""Draft 4's boolean exclusive bounds (pipelinewise taps write them on every numeric column) reach the
column types as the numbers they bound: an integer column whose exclusive bound is past int64 is a
decimal column, as with a Draft 6 bound; a decimal multipleOf read exactly still sets the scale."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.integration.parquet.support import parquet_files, pyarrow_rows, run_target, schema, state

PROPS = {
    "id": {"type": ["integer"], "minimum": -2147483648, "maximum": 2147483647},
    # unsigned 64-bit: read as True beside a maximum, or as the bound 1, it would be an int64 column
    "u": {"type": ["null", "integer"], "exclusiveMaximum": True, "maximum": 2**64, "exclusiveMinimum": False,
          "minimum": 0},
    "amount": {"type": ["null", "number"], "exclusiveMaximum": True, "maximum": 10**14, "multipleOf": 1e-06,
               "exclusiveMinimum": True, "minimum": -(10**14)},
}
RECORDS = [
    '{"id":1,"u":18446744073709551615,"amount":99999999999999.999999}',
    '{"id":2,"u":0,"amount":-0.000001}',
    '{"id":3,"u":null,"amount":1234.560000}',
]


@pytest.mark.parametrize("fast_path", [True, False])
def test_draft4_bounds_set_the_column_types(tmp_path: Path, fast_path: bool) -> None:
    data = schema("s", PROPS) + b"".join(
        b'{"type":"RECORD","stream":"s","record":' + text.encode() + b"}\n" for text in RECORDS) + state(1)
    done = run_target(tmp_path, data, fast_path=fast_path)
    assert done.returncode == 0, done.stderr.decode()
    [path] = parquet_files(tmp_path / "out")
    kinds = pq.read_schema(path)
    assert kinds.field("u").type == pa.decimal128(38, 0)
    assert kinds.field("amount").type == pa.decimal128(38, 6)
    rows = pyarrow_rows(tmp_path / "out" / "s")
    assert [(r["u"], r["amount"]) for r in rows] == [
        (Decimal(18446744073709551615), Decimal("99999999999999.999999")), (Decimal(0), Decimal("-0.000001")),
        (None, Decimal("1234.560000"))]
