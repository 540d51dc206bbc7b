"""A target applying stream maps with worker processes (``map_workers``, protocol/_mapruns.py) loads
what it loads in one process: the same rows, the same STATEs, the same error after the same STATEs.

The input spans several MiB, so runs go to workers; STATEs fall between runs, a second stream
starts half way, the first stream's SCHEMA changes at three quarters (each time the workers are
forked again) and lines that leave the runs handed out (an integer past 64 bits, time_extracted,
spaced JSON, blank lines, a last line without a newline) are spread through it.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from protocol._mapruns import FORK_AFTER
from protocol.maps._pipes import default_workers
from tests.conftest import exe, run
from tests.integration.destinations import Destination, make
from tests.maps.streams import through_a_pause
from tests.maps.test_parallel import _ORDERS, _ORDERS_V2, _schema
from tests.maps.test_parallel import MAPS as MAPPER_MAPS

# the mapper's maps, with the length typed (a target checks the mapped records against the mapped SCHEMA)
MAPS: dict[str, Any] = {"stream_maps": {**MAPPER_MAPS["stream_maps"], "orders": {
    **MAPPER_MAPS["stream_maps"]["orders"], "note_len": "int(len(note or ''))"}}}

RECORDS = 40_000


def _id(i: int, wide: bool = True) -> int:
    return 2**70 + i if wide and i % 10_007 == 0 else i  # past 64 bits: the strict reader's exact parse


def big_input(records: int = RECORDS, wide: bool = True) -> bytes:
    """``wide``: a few ids past 64 bits (an SQL table's BIGINT refuses them)."""
    lines = [_schema("orders", _ORDERS)]
    for i in range(1, records + 1):
        record: dict[str, Any] = {"id": _id(i, wide), "email": f"user{i}@example.com",
                                  "total": round(i * 1.25, 2), "note": "é\n\"q\"" * (i % 3)}
        if i > 3 * records // 4:
            record["tier"] = "gold"  # the second SCHEMA's property, which a map reads
        message = {"type": "RECORD", "stream": "orders", "record": record}
        if i % 613 == 0:
            message["time_extracted"] = "2024-01-01T00:00:00Z"
        lines.append(json.dumps(message) if i % 997 == 0 else json.dumps(message, separators=(",", ":")))
        if i % 1_000 == 0:
            lines.append(json.dumps({"type": "STATE", "value": {"orders": i}}))
        if i % 4_999 == 0:
            lines.append("")
        if i == records // 2:
            lines.append(_schema("events", {"type": "object", "properties": {
                "id": {"type": "integer"}, "kind": {"type": "string"}}}))
        if i > records // 2 and i % 50 == 0:
            lines.append(json.dumps({"type": "RECORD", "stream": "events", "record": {"id": i, "kind": "k"}}))
        if i == 3 * records // 4:
            lines.append(_schema("orders", _ORDERS_V2))
            lines.append('{"type":"ACTIVATE_VERSION","stream":"orders","version":3}')
    return ("\n".join(lines)).encode()  # the last line has no newline


_SALES = {"id": "str", "email": "str", "total": "str", "note": "str", "note_len": "str", "tier_upper": "str"}
_EVENTS = {"id": "str", "kind": "str"}


def _load(dest: Destination, data: bytes) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "SLUICE_LOG_LEVEL": "DEBUG"}
    return run([exe(f"target-{dest.kind}"), "--config", str(dest.config_path)], input=data, env=env, timeout=300)


def _states(done: subprocess.CompletedProcess[bytes]) -> list[Any]:
    return [json.loads(line) for line in done.stdout.splitlines()]


def _error(done: subprocess.CompletedProcess[bytes]) -> str:
    return [line for line in done.stderr.decode().splitlines() if "| ERROR" in line][-1].split(" | ", 2)[-1]


@pytest.mark.parametrize("kind", ["jsonl", "sqlite", "postgres"])
def test_workers_load_what_one_process_loads(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    pg_dsn = request.getfixturevalue("pg_dsn") if kind == "postgres" else None
    wide = kind == "jsonl"
    data = big_input(wide=wide)
    assert len(data) > 3 * FORK_AFTER
    landed = {}
    for workers in (1, 2):
        home = tmp_path / f"w{workers}"
        home.mkdir()
        dest = make(kind, home, pg_dsn, **MAPS, map_workers=workers)
        done = _load(dest, data)
        assert done.returncode == 0, done.stderr.decode()[-3000:]
        started = b"mapping runs with 2 worker processes" in done.stderr
        runs = kind != "sqlite"  # target-sqlite's sinks take no runs: the maps stay in the main process
        assert started == (workers == 2 and runs), done.stderr.decode()[-3000:]
        if started:  # each SCHEMA after the start (a new stream, a changed one) ended the workers
            assert b"forked 3 time(s)" in done.stderr, done.stderr.decode()[-3000:]
        sales, events = dest.rows("sales", _SALES), dest.rows("events", _EVENTS)
        landed[workers] = (_states(done), sales if kind != "postgres" else sorted(sales), sorted(events))
        if pg_dsn is not None:  # the next load starts from no table
            with psycopg.connect(pg_dsn, autocommit=True) as conn:
                conn.execute("DROP TABLE public.sales, public.events")
    states, sales, events = landed[1]
    assert landed[2] == landed[1]
    assert states[-1] == {"orders": RECORDS} and len(states) == RECORDS // 1000
    assert len(sales) == len([i for i in range(1, RECORDS + 1) if _id(i, wide) % 7 != 3])
    assert sum(row[5] == "GOLD" for row in sales) == len([i for i in range(3 * RECORDS // 4 + 1, RECORDS + 1)
                                                          if _id(i, wide) % 7 != 3])
    assert len(events) > 100


def test_a_failing_expression_is_the_same_error_after_the_same_states(tmp_path: Path) -> None:
    data = big_input()
    config = {"stream_maps": {"orders": {"x": "int(1 // (id - 20123))"}}}  # fails on record 20,123 only
    done, written = {}, {}
    for workers in (1, 2):
        (tmp_path / f"w{workers}").mkdir()
        dest = make("jsonl", tmp_path / f"w{workers}", None, **config, map_workers=workers)
        done[workers] = _load(dest, data)
        written[workers] = (dest.out / "orders.jsonl").read_bytes()
    assert done[1].returncode == done[2].returncode == 1
    assert b"mapping runs with 2 worker processes" in done[2].stderr
    assert _error(done[1]) == _error(done[2])
    line = next(i for i, text in enumerate(data.split(b"\n"), 1) if b'"id":20123,' in text)
    assert f"line {line}, stream 'orders', field 'x'" in _error(done[2])
    assert _states(done[2]) == _states(done[1])
    assert _states(done[2])[-1] == {"orders": 20000}
    assert written[2] == written[1]
    assert written[2].count(b"\n") >= 20000


def test_a_pausing_tap_gets_its_state_through(tmp_path: Path) -> None:
    """Runs handed to workers are loaded before the target waits for more input: the STATE a tap
    wrote before pausing comes out during the pause, not after it."""
    data = big_input()
    cut = data.index(b'{"type": "STATE", "value": {"orders": 19000}}\n') + 46
    dest = make("jsonl", tmp_path, None, **MAPS, map_workers=2)
    seen, stderr, code = through_a_pause([exe("target-jsonl"), "--config", str(dest.config_path)], data[:cut],
                                         b'{"orders":19000}', env={**os.environ, "SLUICE_LOG_LEVEL": "DEBUG"})
    assert seen.count(b"orders") == 19
    assert code == 0, stderr.decode()[-3000:]
    assert b"mapping runs with 2 worker processes" in stderr


@pytest.mark.parametrize("kind", ["jsonl", "postgres"])
def test_by_default_workers_map_where_the_sink_writes_the_text(kind: str, tmp_path: Path,
                                                               request: pytest.FixtureRequest) -> None:
    """target-jsonl writes a run's text: its maps go to one worker per CPU. target-postgres loads the
    decoded values, which a worker's run would be decoded again for in the main process: it maps there."""
    if default_workers() < 2:
        pytest.skip("one CPU here: the default is one process for every target")
    pg_dsn = request.getfixturevalue("pg_dsn") if kind == "postgres" else None
    dest = make(kind, tmp_path, pg_dsn, **MAPS)
    done = _load(dest, big_input(wide=kind == "jsonl"))
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    started = f"mapping runs with {default_workers()} worker processes".encode() in done.stderr
    assert started == (kind == "jsonl"), done.stderr.decode()[-3000:]


def test_a_small_input_starts_no_worker(tmp_path: Path) -> None:
    dest = make("jsonl", tmp_path, None, **MAPS, map_workers=4)
    done = _load(dest, big_input(300))
    assert done.returncode == 0, done.stderr.decode()
    assert b"worker processes" not in done.stderr
    assert (dest.out / "sales.jsonl").read_bytes().count(b"\n") == 300 - len([i for i in range(1, 301) if i % 7 == 3])


@pytest.mark.parametrize("workers", [0, "two", 1.5])
def test_map_workers_must_be_a_positive_whole_number(tmp_path: Path, workers: Any) -> None:
    dest = make("jsonl", tmp_path, None, **MAPS, map_workers=workers)
    done = _load(dest, b"")
    assert done.returncode == 2
    assert "map_workers" in done.stderr.decode()


def test_sigterm_stops_the_workers_with_the_target(tmp_path: Path) -> None:
    """SIGTERM to the target alone (not its process group) while workers map: exit 143, and no worker
    outlives it."""
    dest = make("jsonl", tmp_path, None, **MAPS, map_workers=2)
    env = {**os.environ, "SLUICE_LOG_LEVEL": "DEBUG"}
    proc = subprocess.Popen([exe("target-jsonl"), "--config", str(dest.config_path)], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, start_new_session=True)
    assert proc.stdin is not None and proc.stderr is not None
    data = big_input()
    proc.stdin.write(data[:len(data) // 2])  # past FORK_AFTER; the input stays open
    proc.stdin.flush()
    seen = b""
    deadline = time.monotonic() + 30
    while b"mapping runs with 2 worker processes" not in seen:
        ready, _, _ = select.select([proc.stderr], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, seen.decode()[-3000:]
        chunk = os.read(proc.stderr.fileno(), 1 << 16)
        assert chunk, seen.decode()[-3000:]
        seen += chunk
    proc.terminate()
    assert proc.wait(timeout=60) == 143
    proc.stdin.close()
    proc.stderr.close()
    deadline = time.monotonic() + 10
    while True:  # the group of the target's session: the target and its workers
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        assert time.monotonic() < deadline, "a map worker outlived the target"
        time.sleep(0.05)


def test_a_version_past_64_bits_is_mapped_in_the_main_process(tmp_path: Path) -> None:
    """A task holds a run's version in 64 bits: a run of a wider one is mapped here, as in one process."""
    wide = 2**64 + 5
    data = big_input(wide=False).replace(b'"stream":"orders","record"', b'"stream":"orders","version":%d,"record"'
                                         % wide)
    assert data.count(b'"version":%d' % wide) > 30_000
    done = {}
    for workers in (1, 2):
        (tmp_path / f"w{workers}").mkdir()
        dest = make("jsonl", tmp_path / f"w{workers}", None, **MAPS, map_workers=workers)
        done[workers] = _load(dest, data)
        assert done[workers].returncode == 0, done[workers].stderr.decode()[-3000:]
        done[workers].stdout = (dest.out / "sales.jsonl").read_bytes()
    assert done[2].stdout == done[1].stdout and done[2].stdout.count(b"\n") > 30_000


def test_runs_larger_than_a_pipe_map_without_a_deadlock(tmp_path: Path) -> None:
    """A worker holds several runs at once only while their text fits its pipe: with runs of 600 KiB whose
    mapped text is twice as long, the target waiting to hand over a run while the worker waits to hand
    back its answer would hang. The load ends, with what one process writes."""
    schema = _schema("big", {"type": "object", "properties": {"id": {"type": "integer"}, "blob": {"type": "string"}}})
    lines = [schema] + [json.dumps({"type": "RECORD", "stream": "big", "record": {"id": i, "blob": "x" * (600 << 10)}},
                                   separators=(",", ":")) for i in range(24)]
    data = ("\n".join(lines) + "\n").encode()
    written = {}
    for workers in (1, 2):
        (tmp_path / f"w{workers}").mkdir()
        dest = make("jsonl", tmp_path / f"w{workers}", None, stream_maps={"big": {"copy": "blob"}},
                    map_workers=workers)
        done = run([exe("target-jsonl"), "--config", str(dest.config_path)], input=data, timeout=60,
                   env={**os.environ, "SLUICE_LOG_LEVEL": "DEBUG"})
        assert done.returncode == 0, done.stderr.decode()[-3000:]
        assert (b"mapping runs with 2 worker processes" in done.stderr) == (workers == 2)
        written[workers] = (dest.out / "big.jsonl").read_bytes()
    assert written[2] == written[1] and written[2].count(b"\n") == 24
