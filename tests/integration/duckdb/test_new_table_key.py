"""A table target-duckdb creates is loaded without its key's index and gets its PRIMARY KEY
before the transaction commits (targets/duckdb/loader.py, ``_create``); a load that needs the
index (a chunk holding a key twice goes through ``ON CONFLICT``) declares it first. And a record
whose JSON object holds one key twice, which DuckDB's JSON reader refuses, is named by its input
line (targets/sql/chunklines.py). Real DuckDB files, the target run as a real process."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run
from tests.integration.sql.helpers import Dest, error_lines, make_dest, require_duckdb, singer, stdout_states


@pytest.fixture(autouse=True)
def _duckdb_present() -> None:
    require_duckdb()


def _json_lane() -> bool:
    """Whether the fast lane hands DuckDB the records' JSON text (targets/duckdb/loader.py)."""
    from targets.duckdb.connection import engine_version, load_duckdb
    from targets.duckdb.loader import EXACT_JSON_DECIMALS

    return engine_version(load_duckdb()) >= EXACT_JSON_DECIMALS


def _load(dest: Dest, data: bytes, *, fast: bool) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "SLUICE_FAST_PATH": "1" if fast else "0"}
    return run([dest.exe, "--config", str(dest.config_path)], input=data, env=env)


def _schema(stream: str, keys: list[str]) -> dict[str, Any]:
    return {"type": "SCHEMA", "stream": stream, "key_properties": keys, "schema": {"type": "object", "properties": {
        "id": {"type": "integer"}, "v": {"type": ["string", "null"]}}}}


def _records(stream: str, rows: list[tuple[int, str]]) -> bytes:
    return singer(*({"type": "RECORD", "stream": stream, "record": {"id": i, "v": v}} for i, v in rows))


def _constraints(dest: Dest, table: str) -> set[tuple[str, tuple[str, ...]]]:
    import duckdb

    with duckdb.connect(str(dest.sqlite_path), read_only=True) as conn:
        rows = conn.execute("SELECT constraint_type, constraint_column_names FROM duckdb_constraints() "
                            "WHERE table_name = ?", [table]).fetchall()
    return {(str(kind), tuple(cols)) for kind, cols in rows}


@pytest.mark.parametrize("fast", [True, False])
def test_the_key_is_declared_before_the_first_commit(tmp_path: Path, fast: bool) -> None:
    dest = make_dest("duckdb", tmp_path, None)
    data = singer(_schema("t", ["id"])) + _records("t", [(i, f"v{i}") for i in range(1, 21)])
    result = _load(dest, data + singer({"type": "STATE", "value": {"n": 1}}), fast=fast)
    assert result.returncode == 0, result.stderr.decode()
    assert stdout_states(result.stdout) == [{"n": 1}]
    assert ("PRIMARY KEY", ("id",)) in _constraints(dest, "t")
    import duckdb

    with duckdb.connect(str(dest.sqlite_path)) as conn, pytest.raises(duckdb.ConstraintException):
        conn.execute("INSERT INTO main.t (id, v) VALUES (3, 'again')")  # the index is there and enforced


@pytest.mark.parametrize("fast", [True, False])
def test_a_chunk_holding_a_key_twice_declares_the_key_before_its_upsert(tmp_path: Path, fast: bool) -> None:
    """The first chunk (keys unique, the table new) loads without the index; the second, in the
    same transaction, holds id 1 twice and goes through ON CONFLICT, which needs it."""
    dest = make_dest("duckdb", tmp_path, None, batch_size_bytes=1024)
    first = [(i, "x" * 40) for i in range(1, 51)]
    data = (singer(_schema("t", ["id"]), _schema("other", ["id"])) + _records("t", first)
            + _records("other", [(1, "split")])  # ends the run: the next records are a chunk of their own
            + _records("t", [(1, "a"), (2, "b"), (1, "last")]) + singer({"type": "STATE", "value": {"n": 2}}))
    result = _load(dest, data, fast=fast)
    assert result.returncode == 0, result.stderr.decode()
    assert stdout_states(result.stdout) == [{"n": 2}]
    rows = {r["id"]: r["v"] for r in dest.rows("t")}
    assert rows == {**dict(first), 1: "last", 2: "b"}
    assert ("PRIMARY KEY", ("id",)) in _constraints(dest, "t")
    assert ("PRIMARY KEY", ("id",)) in _constraints(dest, "other")


def test_a_second_key_for_a_new_table_is_refused_as_for_an_old_one(tmp_path: Path) -> None:
    """A stream whose key changes mid-run: the table keeps the key it was created with (declared
    by the time the second is asked for) and DuckDB refuses the second, as it does for a table
    made by an earlier run."""
    messages = singer(_schema("t", ["id"])) + _records("t", [(1, "a")])
    changed = singer(_schema("t", ["v"])) + _records("t", [(2, "b")]) + singer({"type": "STATE", "value": {"n": 1}})
    for name in ("new", "old"):
        (tmp_path / name).mkdir()
    new = make_dest("duckdb", tmp_path / "new", None)
    in_one_run = _load(new, messages + changed, fast=True)
    old = make_dest("duckdb", tmp_path / "old", None)
    assert _load(old, messages + singer({"type": "STATE", "value": {"n": 0}}), fast=True).returncode == 0
    in_two_runs = _load(old, changed, fast=True)
    for result in (in_one_run, in_two_runs):
        assert result.returncode == 1
        (line,) = error_lines(result.stderr)
        assert 'table "t" can have only one primary key' in line, line
    assert stdout_states(in_one_run.stdout) == []
    assert ("PRIMARY KEY", ("id",)) in _constraints(new, "t")


def test_a_record_holding_a_key_twice_is_named_by_its_input_line(tmp_path: Path) -> None:
    """DuckDB's JSON reader refuses an object holding a key twice (JSON parsers keep the last);
    the error names the input line, stream and field, not a line of the chunk file, and what the
    last STATE covers is kept."""
    dest = make_dest("duckdb", tmp_path, None, batch_size_bytes=1024)
    good = _records("t", [(i, "x" * 40) for i in range(1, 31)])
    lines = (singer(_schema("t", ["id"]), _schema("other", ["id"])) + good
             + singer({"type": "STATE", "value": {"n": 1}}) + _records("t", [(31, "a")])
             + _records("other", [(1, "split")]) + _records("t", [(32, "b")]))
    bad_line = lines.count(b"\n") + 1
    data = lines + b'{"type":"RECORD","stream":"t","record":{"id":33,"v":"first","v":"second"}}\n' + _records(
        "t", [(34, "c")]) + singer({"type": "STATE", "value": {"n": 2}})
    result = _load(dest, data, fast=True)
    if not _json_lane():  # DuckDB before 2.0.1: the fast lane writes CSV, which holds the last value
        assert result.returncode == 0, result.stderr.decode()
        assert {r["id"]: r["v"] for r in dest.rows("t")}[33] == "second"
        return
    assert result.returncode == 1
    (line,) = error_lines(result.stderr)
    assert f"line {bad_line}, stream 't', field 'v': the record holds this key twice" in line, line
    assert stdout_states(result.stdout) == [{"n": 1}]
    assert sorted(r["id"] for r in dest.rows("t")) == list(range(1, 31))
    (tmp_path / "ref").mkdir()
    reference = make_dest("duckdb", tmp_path / "ref", None)  # record by record: the last value, as JSON parsers
    assert _load(reference, data, fast=False).returncode == 0
    assert {r["id"]: r["v"] for r in reference.rows("t")}[33] == "second"
