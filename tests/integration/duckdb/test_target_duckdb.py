"""target-duckdb's own behaviour beyond the SQL suite (tests/integration/sql, parametrized with
duckdb): exact big integers and numbers in each number_type, NUL kept, the settings of the other
target-duckdb variant, the missing extra, and the file lock. Real DuckDB files, the target run
as a real process."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import exe, run
from tests.integration.sql.helpers import Dest, error_lines, make_dest, require_duckdb, singer, stdout_states

HUGE = 2**127 - 1
DIGITS = "1234567890123456789012345678901234567890.0123456789012345678901"  # 40 + 22 digits


def _schema(stream: str = "t", keys: list[str] | None = None, **props: Any) -> dict[str, Any]:
    return {"type": "SCHEMA", "stream": stream, "key_properties": ["id"] if keys is None else keys,
            "schema": {"type": "object", "properties": {"id": {"type": "integer"}, **props}}}


def _load(dest: Dest, data: bytes, *, fast: bool = True) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "SLUICE_FAST_PATH": "1" if fast else "0"}
    return run([dest.exe, "--config", str(dest.config_path)], input=data, env=env)


@pytest.fixture
def duck(tmp_path: Path) -> Dest:
    return make_dest("duckdb", tmp_path, None)


@pytest.mark.parametrize("fast", [True, False])
def test_integers_past_64_bits_and_nul_characters_land_exactly(tmp_path: Path, fast: bool) -> None:
    dest = make_dest("duckdb", tmp_path, None)
    head = singer(_schema(n={"type": ["integer", "null"]}, s={"type": ["string", "null"]}))
    lines = [f'{{"type":"RECORD","stream":"t","record":{{"id":{i},"n":{n},"s":{json.dumps(s)}}}}}'
             for i, n, s in [(1, HUGE, "nul\x00inside"), (2, -HUGE, "plain"), (3, 2**64 + 1, "x\x00"), (1, 7, "last")]]
    data = head + "\n".join(lines).encode() + b"\n" + singer({"type": "STATE", "value": {"n": 4}})
    result = _load(dest, data, fast=fast)
    assert result.returncode == 0, result.stderr.decode()
    assert stdout_states(result.stdout) == [{"n": 4}]
    rows = {r["id"]: (r["n"], r["s"]) for r in dest.rows("t")}
    assert rows == {1: (7, "last"), 2: (-HUGE, "plain"), 3: (2**64 + 1, "x\x00")}
    assert dest.columns("t")["n"] == "hugeint"


@pytest.mark.parametrize(("number_type", "declared"), [("text", "varchar"), ("double", "double"),
                                                        ("decimal", "decimal(38,18)")])
def test_number_type_chooses_the_column(tmp_path: Path, number_type: str, declared: str) -> None:
    dest = make_dest("duckdb", tmp_path, None, number_type=number_type)
    head = singer(_schema(x={"type": ["number", "null"]}))
    value = DIGITS if number_type == "text" else "2.5"
    data = head + (b'{"type":"RECORD","stream":"t","record":{"id":1,"x":%s}}\n' % value.encode())
    result = _load(dest, data + singer({"type": "RECORD", "stream": "t", "record": {"id": 2, "x": -0.125}}))
    assert result.returncode == 0, result.stderr.decode()
    assert dest.columns("t")["x"] == declared
    rows = {r["id"]: r["x"] for r in dest.rows("t")}
    if number_type == "text":  # exact, whatever the digits
        assert Decimal(rows[1]) == Decimal(DIGITS) and Decimal(rows[2]) == Decimal("-0.125")
    else:
        assert rows == {1: 2.5, 2: -0.125} and Decimal(str(rows[1])) == Decimal("2.5")


def test_a_decimal_out_of_range_fails_and_keeps_what_the_last_state_covers(duck: Dest) -> None:
    head = singer(_schema(x={"type": ["number", "null"]}),
                  {"type": "RECORD", "stream": "t", "record": {"id": 1, "x": 1}}, {"type": "STATE", "value": {"n": 1}})
    bad = b'{"type":"RECORD","stream":"t","record":{"id":2,"x":1e30}}\n'
    result = _load(duck, head + bad + singer({"type": "STATE", "value": {"n": 2}}))
    assert result.returncode == 1
    (line,) = error_lines(result.stderr)
    assert line.endswith("| line 4, stream 't', field 'x': 1e+30 is past what column x holds (DECIMAL(38,18): "
                         "less than 10^20 in magnitude; number_type: double or text loads it)"), line
    assert "Traceback" not in result.stderr.decode()
    assert stdout_states(result.stdout) == [{"n": 1}]
    assert [r["id"] for r in duck.rows("t")] == [1]


@pytest.mark.parametrize("number_type", ["double", "decimal", "text"])
def test_a_number_past_a_doubles_range_is_never_stored_as_infinity(tmp_path: Path, number_type: str) -> None:
    """1E400 is JSON, read exactly: text keeps it; DOUBLE (which would read it as inf) and DECIMAL
    refuse it in one line naming its line, stream, field and value; the STATE before it holds."""
    dest = make_dest("duckdb", tmp_path, None, number_type=number_type)
    first = {"type": "RECORD", "stream": "t", "record": {"id": 1, "x": 2.5}}
    head = singer(_schema(x={"type": ["number", "null"]}), first, {"type": "STATE", "value": {"n": 1}})
    big = b'{"type":"RECORD","stream":"t","record":{"id":2,"x":1E400}}\n'
    result = _load(dest, head + big + singer({"type": "STATE", "value": {"n": 2}}))
    if number_type == "text":
        assert result.returncode == 0, result.stderr.decode()
        assert {r["id"]: Decimal(r["x"]) for r in dest.rows("t")} == {1: Decimal("2.5"), 2: Decimal("1E+400")}
        return
    assert result.returncode == 1
    (line,) = error_lines(result.stderr)
    assert "| line 4, stream 't', field 'x': 1E+400 is past what column x holds (" in line, line
    assert ("DOUBLE: a finite float" if number_type == "double" else "DECIMAL(38,18)") in line, line
    assert stdout_states(result.stdout) == [{"n": 1}]
    assert [r["id"] for r in dest.rows("t")] == [1]


def test_settings_of_the_other_variant(tmp_path: Path) -> None:
    temp = tmp_path / "chunks"
    temp.mkdir()
    dest = make_dest("duckdb", tmp_path, None)
    config = {k: v for k, v in json.loads(dest.config_path.read_text()).items() if k != "path"}
    dest.config_path.write_text(json.dumps({
        **config, "filepath": str(dest.sqlite_path), "add_metadata_columns": True, "data_flattening_max_level": 1,
        "temp_dir": str(temp), "flush_all_streams": True, "delimiter": "|", "quotechar": "'", "dbname": "x",
        "schema_mapping": {}}))
    data = singer(_schema(doc={"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}}}),
                  {"type": "RECORD", "stream": "t", "record": {"id": 1, "doc": {"a": 5, "b": "x"}}},
                  {"type": "STATE", "value": {"n": 1}})
    result = _load(dest, data)
    assert result.returncode == 0, result.stderr.decode()
    assert b"unknown setting" not in result.stderr.lower()
    columns = dest.columns("t")
    assert {"doc__a", "doc__b", "_sdc_extracted_at", "_sdc_batched_at", "_sdc_table_version"} <= set(columns)
    (row,) = dest.rows("t")
    assert (row["id"], row["doc__a"], row["doc__b"]) == (1, 5, "x") and row["_sdc_batched_at"] is not None
    assert list(temp.iterdir()) == []  # the chunk files are removed when the run ends


def test_primary_key_required_names_the_stream_and_line(tmp_path: Path) -> None:
    dest = make_dest("duckdb", tmp_path, None, primary_key_required=True)
    data = singer(_schema("keyed"), {"type": "RECORD", "stream": "keyed", "record": {"id": 1}},
                  {"type": "STATE", "value": {"n": 1}}, _schema("loose", keys=[]),
                  {"type": "RECORD", "stream": "loose", "record": {"id": 1}})
    result = _load(dest, data)
    assert result.returncode != 0
    (line,) = error_lines(result.stderr)
    assert "line 4" in line and "'loose'" in line and "primary_key_required" in line
    assert stdout_states(result.stdout) == [{"n": 1}] and dest.tables() == {"keyed"}


def test_without_the_extra_one_line_says_how_to_install_it(tmp_path: Path) -> None:
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"path": str(tmp_path / "x.duckdb")}))
    code = ("import sys; sys.modules['duckdb'] = sys.modules['_duckdb'] = None; "
            "sys.argv = ['target-duckdb', '--config', sys.argv[1]]; "
            "from targets.duckdb.target import main; main()")
    result = run([sys.executable, "-c", code, str(config)], input=b"")
    assert result.returncode == 2
    assert error_lines(result.stderr) and "pip install 'sluice[duckdb]'" in error_lines(result.stderr)[0]
    assert "Traceback" not in result.stderr.decode() and not (tmp_path / "x.duckdb").exists()
    about = run([sys.executable, "-c", code.replace("'--config', sys.argv[1]", "'--about'"), "-"])
    assert about.returncode == 0 and b"number_type" in about.stdout
    # duckdb 1.1 refuses a key deleted and inserted again in one transaction, 1.2 drops rows of an upsert: 1.3
    # is the oldest taken
    # the engine's version where it stands alone (duckdb 1.4+: _duckdb), else the package's
    engine = "_duckdb" if importlib.util.find_spec("_duckdb") is not None else "duckdb"
    old = code.replace("sys.modules['duckdb'] = sys.modules['_duckdb'] = None",
                       f"import {engine}; {engine}.__version__ = '1.2.2'")
    result = run([sys.executable, "-c", old, str(config)], input=b"")
    assert result.returncode == 2 and "needs duckdb 1.3 or later (found 1.2.2)" in error_lines(result.stderr)[0]


def test_a_load_does_not_import_the_python_package_where_the_engine_stands_alone(tmp_path: Path) -> None:
    """duckdb 1.4+ ships its engine as ``_duckdb``; the ``duckdb`` package around it imports its
    relation API in Python (~0.1 s), which a load never calls. Where the engine is not on its own
    (an older duckdb), the package is used."""
    require_duckdb()
    import duckdb

    config = tmp_path / "c.json"
    config.write_text(json.dumps({"path": str(tmp_path / "x.duckdb")}))
    code = ("import sys, protocol._cli as cli; done = cli._exit_now; "  # a clean exit ends with os._exit
            "cli._exit_now = lambda: (print('PACKAGE', 'duckdb' in sys.modules, file=sys.stderr), done()); "
            "sys.argv = ['target-duckdb', '--config', sys.argv[1]]; from targets.duckdb.target import main; main()")
    data = singer(_schema(), {"type": "RECORD", "stream": "t", "record": {"id": 1}},
                  {"type": "STATE", "value": {"n": 1}})
    result = run([sys.executable, "-c", code, str(config)], input=data)
    assert result.returncode == 0, result.stderr
    alone = importlib.util.find_spec("_duckdb") is not None
    assert f"PACKAGE {not alone}" in result.stderr.decode()
    with duckdb.connect(str(tmp_path / "x.duckdb"), read_only=True) as conn:
        assert conn.execute("SELECT id FROM t").fetchall() == [(1,)]


def test_a_second_writer_waits_for_the_lock(duck: Dest) -> None:
    require_duckdb()
    import duckdb

    holder = duckdb.connect(str(duck.sqlite_path))
    release = threading.Timer(1.5, holder.close)
    started = time.monotonic()
    release.start()
    try:
        result = _load(duck, singer(_schema(), {"type": "RECORD", "stream": "t", "record": {"id": 1}},
                                    {"type": "STATE", "value": {"n": 1}}))
    finally:
        release.join()
    assert result.returncode == 0, result.stderr.decode()
    assert b"locked by another process; waiting" in result.stderr
    assert time.monotonic() - started >= 1.0 and duck.rows("t") == [{"id": 1}]


def test_check_reports_the_version(duck: Dest) -> None:
    result = run([exe("target-duckdb"), "--config", str(duck.config_path), "--test"])
    assert result.returncode == 0, result.stderr.decode()
    assert b"DuckDB v" in result.stdout + result.stderr and b"is writable" in result.stdout + result.stderr


def test_sigterm_mid_load_keeps_exactly_what_the_last_state_covers(duck: Dest) -> None:
    def records(first: int, last: int) -> bytes:
        return b"".join(singer({"type": "RECORD", "stream": "t", "record": {"id": i, "pad": "x" * 200}})
                        for i in range(first, last))

    proc = subprocess.Popen([duck.exe, "--config", str(duck.config_path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin and proc.stdout and proc.stderr
    try:
        proc.stdin.write(singer(_schema(pad={"type": "string"})) + records(1, 101)
                         + singer({"type": "STATE", "value": {"n": 100}}))
        proc.stdin.flush()
        assert stdout_states(proc.stdout.readline()) == [{"n": 100}]  # committed, then echoed
        proc.stdin.write(records(101, 30_101))  # loaded into the open transaction in chunks, never committed
        proc.stdin.flush()
        time.sleep(1.0)
        proc.send_signal(15)
        assert proc.wait(timeout=60) == 143, proc.stderr.read().decode()
        assert proc.stdout.read() == b""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            pipe.close()
    assert sorted(r["id"] for r in duck.rows("t")) == list(range(1, 101))


def _records(stream: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"type": "RECORD", "stream": stream, "record": row} for row in rows]


def test_upserts_from_gathered_keys_match_the_last_record_of_each_key(duck: Dest) -> None:
    """The sink gathers each bulk chunk's keys (targets/sql/chunkkeys.py) and the load trusts them
    instead of reading the chunk: a key repeated in a later run of the same chunk, keys already in
    the table (integer and non-ASCII string keys by their range, a two-column key by the table
    being non-empty) must still end as the last record of each key, on the fast lane."""
    text = {"type": ["string", "null"]}
    first = [_schema("t", v=text), _schema("u"), _schema("s", ["id"], v=text) | {"schema": {
        "type": "object", "properties": {"id": {"type": "string"}, "v": text}}},
        _schema("m", ["id", "region"], region={"type": "string"}, v=text)]
    first += _records("t", [{"id": i, "v": "a"} for i in range(1, 301)])
    first += _records("u", [{"id": 1}])  # ends t's run: the next t records are another run of the same chunk
    first += _records("t", [{"id": i, "v": "b"} for i in range(100, 151)])
    first += _records("t", [{"id": i, "v": "a"} for i in range(400, 451)])
    first += _records("s", [{"id": k, "v": "a"} for k in ("a", "k", "m", "é")])
    first += _records("m", [{"id": 1, "region": "x", "v": "a"}, {"id": 2, "region": "x", "v": "a"}])
    first += [{"type": "STATE", "value": {"n": 1}}]
    done = _load(duck, singer(*first))
    assert done.returncode == 0, done.stderr.decode()
    second = first[:4] + _records("t", [{"id": i, "v": "c"} for i in range(290, 311)])
    second += _records("s", [{"id": k, "v": "c"} for k in ("b", "é", "z")])
    second += _records("m", [{"id": 1, "region": "x", "v": "c"}, {"id": 3, "region": "y", "v": "c"}])
    second += [{"type": "STATE", "value": {"n": 2}}]
    done = _load(duck, singer(*second))
    assert done.returncode == 0, done.stderr.decode()
    expected = {i: "a" for i in [*range(1, 301), *range(400, 451)]} | dict.fromkeys(range(100, 151), "b")
    expected |= dict.fromkeys(range(290, 311), "c")
    assert dict(duck.sql('SELECT id, v FROM main."t"')) == expected
    assert dict(duck.sql('SELECT id, v FROM main."s"')) == {"a": "a", "k": "a", "m": "a", "é": "c", "b": "c", "z": "c"}
    assert sorted(duck.sql('SELECT id, region, v FROM main."m"')) == [(1, "x", "c"), (2, "x", "a"), (3, "y", "c")]


def test_chunks_of_a_new_table_are_checked_against_the_keys_loaded_before_them(duck: Dest) -> None:
    """A table created by the run holds only the keys of its earlier chunks: a chunk whose key range
    meets none of theirs is inserted without looking (``KeyStats.new``). A later chunk repeating an
    earlier chunk's key, and one after rows built record by record (a record with a property the
    schema lacks takes the reference path), must still replace those rows."""
    state = {"type": "STATE", "value": {"n": 0}}  # with state_flush_seconds 0: a commit, the next chunk
    msgs = [_schema("t", v={"type": ["string", "null"]}), _schema("u")]
    msgs += _records("t", [{"id": i, "v": "a"} for i in range(1, 3001)])
    msgs += [state, *_records("t", [{"id": i, "v": "a"} for i in range(3001, 3011)])]  # a range of its own
    msgs += [state, *_records("t", [{"id": i, "v": "b"} for i in range(5, 16)])]  # meets the first chunk's
    msgs += [state, *_records("t", [{"id": 5000, "v": "a", "extra": 1}])]  # one by one: keys not gathered
    msgs += [state, *_records("t", [{"id": i, "v": "c"} for i in (4999, 5000, 5001)])]
    msgs += [{"type": "STATE", "value": {"n": 1}}]
    done = _load(duck, singer(*msgs))
    assert done.returncode == 0, done.stderr.decode()
    expected = dict.fromkeys(range(1, 3011), "a") | dict.fromkeys(range(5, 16), "b") | dict.fromkeys(
        (4999, 5000, 5001), "c")
    assert dict(duck.sql('SELECT id, v FROM main."t"')) == expected


@pytest.mark.parametrize("seed", range(8))
def test_random_upserts_end_as_the_last_record_of_each_key(tmp_path: Path, seed: int) -> None:
    """Random keyed records over three runs: parts of distinct or repeated keys in overlapping ranges,
    each its own chunk (small chunks, another stream or a commit after each), and for some seeds a
    few records that take the reference path. The table must hold the last record of each key, as a
    dict of the same records does (the gathered key stats decide which chunks skip the delete)."""
    import random

    rng = random.Random(seed)
    key_type = "integer" if seed % 2 else "string"
    reference = 0.02 if seed % 4 == 3 else 0.0
    dest = make_dest("duckdb", tmp_path, None, batch_size_bytes=2_000)
    oracle: dict[Any, str] = {}
    for run_no in range(3):
        msgs = [_schema("t", v={"type": ["string", "null"]}) | {"schema": {"type": "object", "properties": {
            "id": {"type": key_type}, "v": {"type": ["string", "null"]}}}}, _schema("u")]
        for part in range(rng.randint(2, 8)):
            low, count, repeats = rng.randint(0, 100), rng.randint(80, 150), rng.random() < 0.3
            for i in range(count):  # distinct keys (the delete-and-insert path), or with repeats (staging)
                k = rng.randint(low, low + count) if repeats else low + i
                key = k if key_type == "integer" else (f"k{k:04d}" if rng.random() < 0.9 else f"é{k:04d}")
                record = {"id": key, "v": f"{run_no}.{part}.{i}"}
                if rng.random() < reference:
                    record["extra"] = 1  # not in the schema: this record takes the reference path
                msgs += _records("t", [record])
                oracle[key] = record["v"]
            msgs.append(rng.choice([{"type": "STATE", "value": {"part": part}}, *_records("u", [{"id": part}])]))
        msgs.append({"type": "STATE", "value": {"run": run_no}})
        done = _load(dest, singer(*msgs))
        assert done.returncode == 0, done.stderr.decode()
    assert dict(dest.sql('SELECT id, v FROM main."t"')) == oracle
