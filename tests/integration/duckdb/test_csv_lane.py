"""The bulk CSV lane of target-duckdb (targets/sql/rawrows.py: a table with a version column,
and every table before DuckDB 2.0.1) with date-times RFC 3339 writes in lower case ("t", "z"): a
record holding a digit run a float could round is written from its exact parse, its date-times
as received were refused by DuckDB's read_csv (before 2.0.1: read as NULL). Real DuckDB, the
target run as a real process, on both lanes."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import run
from tests.integration.sql.helpers import make_dest, singer, stdout_states


@pytest.mark.parametrize("fast", ["1", "0"])
def test_lower_case_date_times_beside_long_digit_runs(tmp_path: Path, fast: str) -> None:
    dest = make_dest("duckdb", tmp_path, None)
    schema = {"type": "SCHEMA", "stream": "t", "key_properties": ["id"], "schema": {"type": "object", "properties": {
        "id": {"type": "integer"}, "n": {"type": ["number", "null"]},
        "at": {"type": ["string", "null"], "format": "date-time"}}}}
    rows = [(1, "1000000000000000.5", "2000-01-01t00:00:00z"), (2, "2.5", "2000-01-02t03:04:05+05:30"),
            (3, "12345678901234567890.1", "2000-01-03T00:00:00Z")]
    data = singer(schema) + b"".join(
        b'{"type":"RECORD","stream":"t","version":1,"record":{"id":%d,"n":%s,"at":"%s"}}\n' % (
            i, n.encode(), at.encode())
        for i, n, at in rows) + singer({"type": "STATE", "value": {"n": 1}})
    env = {**os.environ, "SLUICE_FAST_PATH": fast}
    result = run([dest.exe, "--config", str(dest.config_path)], input=data, env=env)
    assert result.returncode == 0, result.stderr.decode()
    assert stdout_states(result.stdout) == [{"n": 1}]
    landed = {r["id"]: r["at"].astimezone(UTC) for r in dest.rows("t")}
    assert landed == {i: datetime.fromisoformat(at.upper().replace("Z", "+00:00")).astimezone(UTC) for i, _, at in rows}


@pytest.mark.parametrize("size", [2_000_010, 2_097_140])
def test_a_line_between_duckdbs_limit_and_2_mib_loads(tmp_path: Path, size: int) -> None:
    """read_csv's default longest line is 2,000,000 bytes; the lane raised it only for chunks of 2 MiB
    or more, so a text value of 2,000,000 to 2,097,151 bytes failed the load, on every rerun."""
    dest = make_dest("duckdb", tmp_path, None)
    schema = {"type": "SCHEMA", "stream": "t", "key_properties": ["id"], "schema": {"type": "object", "properties": {
        "id": {"type": "integer"}, "s": {"type": ["string", "null"]}, "o": {"type": ["object", "null"]}}}}
    data = (singer(schema) + singer({"type": "RECORD", "stream": "t", "record": {"id": 1, "s": "x" * size}})
            + singer({"type": "STATE", "value": {"n": 1}}))
    result = run([dest.exe, "--config", str(dest.config_path)], input=data)
    assert result.returncode == 0, result.stderr.decode()
    assert [len(r["s"]) for r in dest.rows("t")] == [size]
