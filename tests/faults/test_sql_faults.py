"""Faults of the SQL targets: kill -9 mid-load and rerun, a bad record mid-stream, a dropped
PostgreSQL connection (pg_terminate_backend while the target loads from a slow pipe)."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.integration.sql.helpers import TARGETS, Dest, error_lines, make_dest, singer

SCHEMA = {"type": "SCHEMA", "stream": "events", "key_properties": ["id"],
          "schema": {"type": "object", "properties": {"id": {"type": "integer"}, "v": {"type": "string"},
                                                      "amount": {"type": "number"}}}}
KEYS = 6000


def _record(i: int) -> dict[str, Any]:
    """Record number i: the first KEYS create keys 1..KEYS, later ones update earlier keys."""
    key = (i - 1) % KEYS + 1
    return {"type": "RECORD", "stream": "events", "record": {"id": key, "v": f"r{i}", "amount": i / 100}}


def _stream(start: int, stop: int, every: int) -> Iterator[bytes]:
    """Records start..stop-1, with a STATE {"done": i} after every ``every`` records."""
    yield singer(SCHEMA)
    for i in range(start, stop):
        yield singer(_record(i))
        if i % every == 0:
            yield singer({"type": "STATE", "value": {"done": i}})
    yield singer({"type": "STATE", "value": {"done": stop - 1}})


def _source_checksum(total: int) -> str:
    last: dict[int, tuple[str, str]] = {}
    for i in range(1, total + 1):
        rec = _record(i)["record"]
        last[rec["id"]] = (rec["v"], f"{i / 100}")
    text = "\n".join(f"{k}|{v}|{a}" for k, (v, a) in sorted(last.items()))
    return hashlib.md5(text.encode()).hexdigest()


def _dest_checksum(dest: Dest) -> str:
    rows = sorted((r["id"], r["v"], r["amount"]) for r in dest.rows("events"))
    assert len({r[0] for r in rows}) == len(rows), "more than one row per key"
    text = "\n".join(f"{k}|{v}|{float(a)}" for k, v, a in rows)
    return hashlib.md5(text.encode()).hexdigest()


class Feeder:
    """Runs a target with a slow stdin pipe; collects the states it emits as they arrive."""

    def __init__(self, dest: Dest, chunks: Iterator[bytes], pause_every: int = 200, pause: float = 0.01) -> None:
        self.proc = subprocess.Popen([dest.exe, "--config", str(dest.config_path)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.states: list[Any] = []
        self.stderr = b""
        self._chunks = chunks
        self._pause_every, self._pause = pause_every, pause
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._errors = threading.Thread(target=self._read_errors, daemon=True)
        self._errors.start()
        self._writer = threading.Thread(target=self._write, daemon=True)
        self._writer.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            obj = json.loads(line)
            self.states.append(obj["value"] if isinstance(obj, dict) and obj.get("type") == "STATE" else obj)

    def _read_errors(self) -> None:
        assert self.proc.stderr is not None
        self.stderr = self.proc.stderr.read()

    def _write(self) -> None:
        assert self.proc.stdin is not None
        try:
            for n, chunk in enumerate(self._chunks):
                self.proc.stdin.write(chunk)
                if n % self._pause_every == 0:
                    self.proc.stdin.flush()
                    time.sleep(self._pause)
            self.proc.stdin.close()
        except (BrokenPipeError, ValueError):
            pass

    def wait_for_states(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.states) < count:
            assert self.proc.poll() is None, self.stderr.decode()
            assert time.monotonic() < deadline, "no STATE came back"
            time.sleep(0.01)

    def finish(self, timeout: float = 120) -> int:
        code = self.proc.wait(timeout=timeout)
        self._writer.join(timeout)
        self._reader.join(timeout)
        self._errors.join(timeout)
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None and not pipe.closed:
                try:
                    pipe.close()
                except BrokenPipeError:  # unwritten input of a killed target: the pipe is closed anyway
                    pass
        return code


def _dest(kind: str, tmp_path: Path, request: pytest.FixtureRequest, **settings: Any) -> Dest:
    dsn = request.getfixturevalue("pg_dsn") if kind == "postgres" else None
    return make_dest(kind, tmp_path, dsn, **settings)


@pytest.mark.parametrize("kind", TARGETS)
def test_kill_9_mid_load_then_rerun_from_the_last_state(kind: str, tmp_path: Path,
                                                        request: pytest.FixtureRequest) -> None:
    total = 15000
    dest = _dest(kind, tmp_path, request, batch_size_rows=700)
    feeder = Feeder(dest, _stream(1, total + 1, every=500))
    feeder.wait_for_states(4)
    feeder.proc.send_signal(signal.SIGKILL)
    assert feeder.finish() == -signal.SIGKILL
    last = feeder.states[-1]["done"]
    assert 2000 <= last < total
    # nothing before the last emitted STATE was lost
    landed = {r["id"]: r["v"] for r in dest.rows("events")}
    assert all(landed.get(_record(i)["record"]["id"]) is not None for i in range(1, last + 1))
    # the rerun resumes after that STATE, as a tap given it would
    rerun = dest.load(b"".join(_stream(last + 1, total + 1, every=500)))
    assert rerun.returncode == 0, rerun.stderr.decode()
    assert len(dest.rows("events")) == KEYS
    assert _dest_checksum(dest) == _source_checksum(total)


@pytest.mark.parametrize("kind", TARGETS)
def test_bad_record_mid_stream_keeps_exactly_what_the_last_state_covers(kind: str, tmp_path: Path,
                                                                        request: pytest.FixtureRequest) -> None:
    dest = _dest(kind, tmp_path, request)
    good = [_record(i) for i in range(1, 26)]
    lines = [SCHEMA]
    for i, rec in enumerate(good, 1):
        lines.append(rec)
        if i % 5 == 0:
            lines.append({"type": "STATE", "value": {"done": i}})
    lines += [_record(26), _record(27), {"type": "RECORD", "stream": "events", "record": {"id": 28, "v": 5}},
              _record(29), {"type": "STATE", "value": {"done": 29}}]
    result = dest.load(singer(*lines))
    assert result.returncode == 1
    (line,) = error_lines(result.stderr)
    assert "line 34" in line and "stream 'events'" in line and "field 'v'" in line
    states = [json.loads(s) for s in result.stdout.splitlines()]
    assert states[-1] in ({"done": 25}, {"type": "STATE", "value": {"done": 25}})
    assert sorted(r["id"] for r in dest.rows("events")) == list(range(1, 26))


def _backends(dsn: str) -> list[int]:
    database = dsn.rsplit("/", 1)[1]
    with psycopg.connect(dsn.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = "
                            "'sluice target-postgres'", (database,)).fetchall()
    return [r[0] for r in rows]


def _terminate(dsn: str) -> int:
    with psycopg.connect(dsn.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        killed = 0
        for pid in _backends(dsn):
            killed += bool(conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0])  # type: ignore[index]
    return killed


def test_dropped_connection_mid_batch_is_retried(pg_dsn: str, tmp_path: Path) -> None:
    total = 9000
    # small chunks: several are loaded in the open transaction when the connection drops, and replayed
    dest = make_dest("postgres", tmp_path, pg_dsn, batch_size_rows=1000, state_flush_seconds=5, batch_size_bytes=2048)
    feeder = Feeder(dest, _stream(1, total + 1, every=400), pause_every=100, pause=0.02)
    feeder.wait_for_states(1)
    assert _terminate(pg_dsn) == 1
    deadline = time.monotonic() + 30
    while not _backends(pg_dsn):  # the target reconnects at its next statement
        assert time.monotonic() < deadline and feeder.proc.poll() is None, feeder.stderr.decode()
        time.sleep(0.02)
    assert _terminate(pg_dsn) == 1  # and once more, mid-batch again
    assert feeder.finish() == 0, feeder.stderr.decode()
    assert b"reconnecting" in feeder.stderr
    assert feeder.states[-1] == {"done": total}
    assert _dest_checksum(dest) == _source_checksum(total)


def test_connection_lost_for_good_fails_with_one_clear_line(pg_dsn: str, tmp_path: Path) -> None:
    dest = make_dest("postgres", tmp_path, pg_dsn, batch_size_rows=1000, connection_retries=2)
    feeder = Feeder(dest, _stream(1, 20001, every=400), pause_every=100, pause=0.02)
    feeder.wait_for_states(1)
    committed = feeder.states[-1]["done"]
    database = pg_dsn.rsplit("/", 1)[1]
    with psycopg.connect(pg_dsn.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS false')
    try:
        assert _terminate(pg_dsn) == 1
        assert feeder.finish() == 1
    finally:
        with psycopg.connect(pg_dsn.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS true')
    (line,) = error_lines(feeder.stderr)
    assert "connection to PostgreSQL" in line and "lost and 2 reconnects failed" in line
    last = feeder.states[-1]["done"]
    assert last >= committed
    ids = {r["id"] for r in make_dest("postgres", tmp_path, pg_dsn).rows("events")}
    assert {_record(i)["record"]["id"] for i in range(1, last + 1)} <= ids




def test_dropped_connection_replays_a_transaction_kept_partly_on_disk(pg_dsn: str, tmp_path: Path) -> None:
    # One transaction for the whole run (no drain before the end) in 2 KiB chunks: the first 16
    # are kept in memory for a replay, the rest in the spool file; the drop comes mid-run.
    total = 9000
    dest = make_dest("postgres", tmp_path, pg_dsn, batch_size_rows=100_000, state_flush_seconds=1000,
                     batch_size_bytes=2048)
    feeder = Feeder(dest, _stream(1, total + 1, every=400), pause_every=100, pause=0.02)
    deadline = time.monotonic() + 30
    while not _backends(pg_dsn):
        assert time.monotonic() < deadline and feeder.proc.poll() is None, feeder.stderr.decode()
        time.sleep(0.02)
    time.sleep(0.8)  # about 40 records of every 100 fed: some 100 KiB in the open transaction
    assert feeder.states == []
    assert _terminate(pg_dsn) == 1
    assert feeder.finish() == 0, feeder.stderr.decode()
    assert b"reconnecting" in feeder.stderr
    assert feeder.states == [{"done": total}]
    assert _dest_checksum(dest) == _source_checksum(total)
