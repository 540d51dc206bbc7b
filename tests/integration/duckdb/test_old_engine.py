"""target-duckdb on the oldest DuckDB it accepts: a real duckdb 1.3.0 in a venv of its own (with
this checkout installed into it, tests/venvs.py). It lacks a setting the target uses on newer
engines (``write_buffer_row_group_count``: connection.py goes without it); it leaves the rows a
transaction inserted before its ``ADD PRIMARY KEY`` out of the key's index until the COMMIT, so
a new table's key is not declared late there (loader.py, ``LATE_KEYS``): a chunk that upserts
keys an earlier chunk of the same run loaded must still replace them; and its read_json reads
JSON numbers by way of a double, so decimals go as CSV there (loader.py, ``EXACT_JSON_DECIMALS``).
"""

from __future__ import annotations

import hashlib
import os
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import run
from tests.integration.sql.helpers import make_dest, singer, stdout_states
from tests.venvs import cached_venv

OLD = "duckdb==1.3.0"  # the oldest the target accepts (connection.py, OLDEST)
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def old_python() -> str:
    """A Python whose duckdb is the oldest accepted and which imports this checkout (built once per checkout)."""
    deps = hashlib.sha256((REPO / "pyproject.toml").read_bytes()).hexdigest()[:8]  # a new dependency: a new venv
    return str(cached_venv(f"duckdb-old-{deps}", [f"-e {REPO}", OLD, "pytz"], "python"))


def _schema(stream: str) -> dict[str, object]:
    return {"type": "SCHEMA", "stream": stream, "key_properties": ["id"], "schema": {"type": "object", "properties": {
        "id": {"type": "integer"}, "v": {"type": ["string", "null"]}, "n": {"type": ["number", "null"]}}}}


def _records(stream: str, rows: list[tuple[int, str]]) -> bytes:
    return singer(*({"type": "RECORD", "stream": stream, "record": {"id": i, "v": v}} for i, v in rows))


@pytest.mark.parametrize("fast", ["1", "0"])
def test_a_new_tables_upsert_of_keys_loaded_earlier_in_the_run(tmp_path: Path, old_python: str, fast: str) -> None:
    engine = run([old_python, "-c", "import duckdb; print(duckdb.__version__)"])
    assert engine.stdout.decode().strip() == OLD.split("==")[1]
    dest = make_dest("duckdb", tmp_path, None, batch_size_bytes=1024)
    first = [(i, "x" * 40) for i in range(1, 51)]
    data = (singer(_schema("t"), _schema("other")) + _records("t", first) + _records("other", [(1, "split")])
            + _records("t", [(1, "a"), (2, "b"), (1, "last")]) + singer({"type": "STATE", "value": {"n": 2}}))
    result = run([old_python, "-m", "targets.duckdb", "--config", str(dest.config_path)], input=data,
                 env={**os.environ, "SLUICE_FAST_PATH": fast})
    assert result.returncode == 0, result.stderr.decode()
    assert stdout_states(result.stdout) == [{"n": 2}]
    rows = {r["id"]: r["v"] for r in dest.rows("t")}
    assert rows == {**dict(first), 1: "last", 2: "b"}


@pytest.mark.parametrize("fast", ["1", "0"])
def test_decimals_land_exactly(tmp_path: Path, old_python: str, fast: str) -> None:
    """Before DuckDB 2.0.1 read_json reads a JSON number into a DECIMAL by way of a double (2363.0
    became 2363.000000000000262144): the fast lane writes such tables as CSV there."""
    dest = make_dest("duckdb", tmp_path, None)
    numbers = ["2363.0", "9007199254740993.0", "12345678901234567890.123456789012345678", "-0.1", "1e3"]
    data = singer(_schema("t")) + b"".join(
        b'{"type":"RECORD","stream":"t","record":{"id":%d,"n":%s}}\n' % (i, n.encode()) for i, n in enumerate(numbers)
    ) + singer({"type": "STATE", "value": {"n": 1}})
    result = run([old_python, "-m", "targets.duckdb", "--config", str(dest.config_path)], input=data,
                 env={**os.environ, "SLUICE_FAST_PATH": fast})
    assert result.returncode == 0, result.stderr.decode()
    assert {r["id"]: r["n"] for r in dest.rows("t")} == {i: Decimal(n) for i, n in enumerate(numbers)}
