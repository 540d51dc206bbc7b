"""Runs loaded as the JSON text they arrived in (targets/sql/jsonruns.py) land exactly as the
reference lane loads them record by record, and as plain Python reads the input.

Varied records (text with every JSON escape and NUL, written as itself or as ``\\u`` escapes;
numbers with more digits than a float holds and exponents; integers past 64 bits; date-times
with offsets and fractions, upper- and lower-case; absent fields) go through target-duckdb in process twice: on the
fast lane, which must take the JSON lane for every row, and with ``fast_path: false``. Both
tables must equal the oracle.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from protocol._writer import MessageWriter
from tests.integration.sql.helpers import require_duckdb

SCHEMA: dict[str, Any] = {"type": "object", "required": ["id"], "properties": {
    "id": {"type": "integer"}, "name": {"type": ["string", "null"]}, "amount": {"type": ["number", "null"]},
    "big": {"type": ["integer", "null"]}, "ok": {"type": ["boolean", "null"]},
    "at": {"type": ["string", "null"], "format": "date-time"}}}
_PIECES = ['"', "\n", "é", "😀", "\\", "\\n", "\r", "\t", "\x00", "\x01", "\u2028", ",", "null", "a"]
TEXT = st.lists(st.sampled_from(_PIECES), max_size=6).map("".join)
# number text: up to 20 integer digits, up to 18 fraction digits (DECIMAL(38,18) holds them exactly)
NUMBER = st.tuples(st.booleans(), st.integers(0, 10**20 - 1), st.integers(0, 10**18 - 1),
                   st.integers(0, 18)).map(lambda t: f"{'-' if t[0] else ''}{t[1]}.{str(t[2]).zfill(18)[:t[3] or 1]}")
EXPONENT = st.sampled_from(["1e3", "2.5E-4", "-7e0", "0.0", "1E+2"])
BIG = st.integers(-(2**127) + 1, 2**127 - 1)
# RFC 3339 allows a lower-case "t" and "z", which DuckDB's cast refuses (the loader casts them upper-cased)
AT = st.tuples(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1)),
               st.sampled_from(["Z", "z", "+00:00", "+05:30", "-08:00"]), st.booleans(), st.sampled_from("Tt")).map(
    lambda t: t[0].strftime(f"%Y-%m-%d{t[3]}%H:%M:%S") + (f".{t[0].microsecond:06d}" if t[2] else "") + t[1])
FIELD = {"name": st.none() | TEXT, "amount": st.none() | NUMBER | EXPONENT, "big": st.none() | BIG,
         "ok": st.none() | st.booleans(), "at": st.none() | AT}
RECORD = st.fixed_dictionaries({}, optional=FIELD)


def _line(i: int, fields: dict[str, Any], ascii_only: bool) -> str:
    parts = [f'"id":{i}']
    for k, v in fields.items():
        parts.append(f'"{k}":{v if k == "amount" and v is not None else json.dumps(v, ensure_ascii=ascii_only)}')
    return '{"type":"RECORD","stream":"s","record":{' + ",".join(parts) + "}}"


def _expected(fields: dict[str, Any]) -> tuple[Any, ...]:
    amount = fields.get("amount")
    at = fields.get("at")
    return (fields.get("name"), None if amount is None else Decimal(amount),
            fields.get("big"), fields.get("ok"),
            None if at is None else datetime.fromisoformat(at.upper().replace("Z", "+00:00")).astimezone(UTC))


def _decoded_in_bounds(fields: dict[str, Any]) -> bool:
    big, amount = fields.get("big"), fields.get("amount")
    return (big is None or -(2**63) <= big < 2**63) and (amount is None or abs(float(amount)) < 1e20)


def _load(tmp: Path, data: bytes, fast: bool) -> tuple[list[tuple[Any, ...]], int, set[str | None]]:
    from targets.duckdb.target import DuckDBTarget

    path = tmp / f"{'fast' if fast else 'ref'}.duckdb"
    path.unlink(missing_ok=True)
    target = DuckDBTarget({"path": str(path), "fast_path": fast, "state_flush_seconds": 0})
    target.run(io.BufferedReader(io.BytesIO(data)), MessageWriter(io.BytesIO()))
    bulk = sum(getattr(sink, "bulk_rows", 0) for sink in target.sinks.values())
    lanes = {getattr(getattr(sink, "_raw", None), "fmt", None) for sink in target.sinks.values()}
    import duckdb

    with duckdb.connect(str(path), read_only=True) as conn:
        rows = conn.execute('SELECT id, name, amount, big, ok, "at" FROM main.s ORDER BY id').fetchall()
    landed = [(*r[:5], None if r[5] is None else r[5].astimezone(UTC)) for r in rows]
    return landed, bulk, lanes


@pytest.fixture(scope="module")
def _duckdb_present() -> None:
    require_duckdb()


def _lane() -> str:
    """The bulk lane of these tables: JSON text where DuckDB reads decimals exactly from it (loader.py)."""
    from targets.duckdb.connection import engine_version, load_duckdb
    from targets.duckdb.loader import EXACT_JSON_DECIMALS

    return "json" if engine_version(load_duckdb()) >= EXACT_JSON_DECIMALS else "csv"


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(RECORD, min_size=1, max_size=30), st.booleans())
@example(records=[{"name": "\r"}], ascii_only=False)  # a chunk's first text a CR: read_csv guessed CR line ends
@example(records=[{"at": "2023-07-04t18:01:41z"}, {"at": "2023-07-04T18:01:41Z"}, {}], ascii_only=True)
def test_runs_as_json_text_land_as_the_reference_lane_and_the_oracle(
        _duckdb_present: None, tmp_path: Path, records: list[dict[str, Any]], ascii_only: bool) -> None:
    lines = [json.dumps({"type": "SCHEMA", "stream": "s", "schema": SCHEMA, "key_properties": ["id"]})]
    lines += [_line(i, r, ascii_only) for i, r in enumerate(records)]
    lines.append(json.dumps({"type": "STATE", "value": {"n": len(records)}}))
    data = "\n".join(lines).encode() + b"\n"
    fast, bulk, lanes = _load(tmp_path, data, True)
    ref, ref_bulk, _ = _load(tmp_path, data, False)
    expected = [(i, *_expected(r)) for i, r in enumerate(records)]
    assert ref == expected
    assert fast == expected
    assert lanes == {_lane()}
    # every fast-lane row went as JSON text, unless the run holds a number the decoder leaves to the
    # sink's exact check (protocol.Bounds): an integer past 64 bits, or a float of 10^20 or more
    assert (bulk, ref_bulk) == (len(records) if all(map(_decoded_in_bounds, records)) else 0, 0)
