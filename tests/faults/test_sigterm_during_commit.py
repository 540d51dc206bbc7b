"""SIGTERM to target-postgres while its COMMIT is in flight: what it reports is what the database holds.

The table is created beforehand with a deferred constraint trigger that, at COMMIT, waits for an
advisory lock the test holds (and may then refuse the commit). So the test knows the COMMIT is in
flight (the backend waits on the lock), sends SIGTERM, and only then lets the COMMIT finish.
If the rows are committed, the STATE covering them is echoed (and the runner stores it); if the
STATE is not echoed, the rows are not there.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
import yaml

from tests.conftest import exe, pg_address
from tests.faults.test_commit_reply_lost import COMMIT, CommitReplyEater, _close
from tests.integration.runner.helpers import fixture_connector, sluice_env, stored_state
from tests.integration.sql.helpers import stdout_states

LOCK = 7331
GATE = f"""
CREATE TABLE ctl (refuse boolean NOT NULL);
INSERT INTO ctl VALUES (false);
CREATE FUNCTION gate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared({LOCK});
    IF (SELECT refuse FROM ctl) THEN
        RAISE EXCEPTION 'commit refused by the test';
    END IF;
    RETURN NULL;
END $$;
"""


def _gate_table(dsn: str, create: str, table: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(GATE)
        conn.execute(create)
        conn.execute(f"CREATE CONSTRAINT TRIGGER gate AFTER INSERT ON {table} DEFERRABLE INITIALLY DEFERRED "
                     "FOR EACH ROW EXECUTE FUNCTION gate()")


def _commit_waiting(dsn: str) -> bool:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query = 'COMMIT' "
            "AND state = 'active' AND wait_event_type = 'Lock' AND wait_event = 'advisory'").fetchone()
    return bool(row and row[0])


def _query(dsn: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql.encode()).fetchall()


def _wait_for(condition: Any, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class StderrWatch:
    """Reads a process's stderr in a thread; tells when a line holding ``text`` arrived."""

    HELD = "SIGTERM received while a COMMIT is in flight"

    def __init__(self, proc: subprocess.Popen[bytes], *texts: str) -> None:
        self.lines: list[str] = []
        self.seen = {text: threading.Event() for text in (self.HELD, *texts)}
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            self.lines.append(raw.decode())
            for text, event in self.seen.items():
                if text in self.lines[-1]:
                    event.set()

    def text(self) -> str:
        self._thread.join(10)
        return "".join(self.lines)


def _config(tmp_path: Path, dsn: str) -> Path:
    config = tmp_path / "target.json"
    config.write_text(json.dumps({"sqlalchemy_url": dsn, "state_flush_seconds": 0,
                                  "adopt_existing_tables": True}))
    return config


SCHEMA = {"type": "SCHEMA", "stream": "log", "key_properties": [],
          "schema": {"type": "object", "properties": {"n": {"type": "integer"}, "s": {"type": "string"}}}}


def _lines(first: int, last: int) -> bytes:
    return b"".join(orjson.dumps({"type": "RECORD", "stream": "log", "record": {"n": i, "s": f"row {i}"}}) + b"\n"
                    for i in range(first, last + 1)) + orjson.dumps({"type": "STATE", "value": {"n": last}}) + b"\n"


@pytest.mark.parametrize("refuse", [False, True], ids=["commit-goes-through", "commit-fails"])
def test_sigterm_while_commit_is_in_flight(pg_dsn: str, tmp_path: Path, refuse: bool) -> None:
    _gate_table(pg_dsn, "CREATE TABLE log (n BIGINT, s TEXT)", "log")
    config = _config(tmp_path, pg_dsn)
    with psycopg.connect(pg_dsn, autocommit=True) as holder:
        proc = subprocess.Popen([exe("target-postgres"), "--config", str(config)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdin and proc.stdout and proc.stderr
        try:
            # a first batch commits before the gate closes: its STATE is echoed in any case
            proc.stdin.write(orjson.dumps(SCHEMA) + b"\n" + _lines(1, 100))
            proc.stdin.flush()
            assert json.loads(proc.stdout.readline()) == {"n": 100}
            holder.execute("SELECT pg_advisory_lock(%s)", (LOCK,))
            proc.stdin.write(_lines(101, 300))  # stdin stays open: the target stops on SIGTERM alone
            proc.stdin.flush()
            _wait_for(lambda: _commit_waiting(pg_dsn), "the target's COMMIT waiting on the gate")
            watch = StderrWatch(proc)
            proc.send_signal(signal.SIGTERM)
            # the target takes the signal while its COMMIT still waits (before the fix: no such line)
            watch.seen[watch.HELD].wait(10)
            if refuse:
                holder.execute("UPDATE ctl SET refuse = true")
            holder.execute("SELECT pg_advisory_unlock(%s)", (LOCK,))
            code = proc.wait(timeout=60)
            out, err = proc.stdout.read(), watch.text()
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
    count = _query(pg_dsn, "SELECT count(*) FROM log")[0][0]
    states = stdout_states(out)
    assert "Traceback" not in err and StderrWatch.HELD in err
    if refuse:
        assert count == 100 and states == []
        assert code == 1 and "commit refused by the test" in err
    else:
        assert count == 300, err
        assert states == [{"n": 300}], err  # the committed rows are covered by the echoed STATE
        assert code == 143
        assert "stopped by SIGTERM after the commit in flight went through" in err.strip().splitlines()[-1]


def test_sluice_run_stores_the_state_of_a_commit_that_a_sigterm_did_not_undo(pg_dsn: str, tmp_path: Path) -> None:
    """The runner is stopped while the target's COMMIT waits; it stops the tap, then (after 2 x grace)
    SIGTERMs the target; the COMMIT then goes through and the runner stores the STATE it covers.

    The target is exactly-once under `sluice` (the control channel): its commit at a STATE is
    held from the COMMIT to the echoed STATE, whatever thread the kernel hands the SIGTERM to."""
    _gate_table(pg_dsn, "CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT, address JSONB)", "items")
    hold = tmp_path / "never"
    tap = fixture_connector("tap-fix", "fixture_tap.py", {"records": 60, "state_every": 30, "hold_until": str(hold)})
    target = {"name": "target-postgres", "executable": exe("target-postgres"),
              "config": {"sqlalchemy_url": pg_dsn, "state_flush_seconds": 0, "adopt_existing_tables": True}}
    (tmp_path / "sluice.yml").write_text(yaml.safe_dump({
        "connectors": [tap, target], "pipelines": [{"name": "demo", "tap": "tap-fix", "target": "target-postgres"}]}))
    with psycopg.connect(pg_dsn, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (LOCK,))
        proc = subprocess.Popen([exe("sluice"), "run", "demo", "--grace", "3"], cwd=tmp_path, env=sluice_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        watch = StderrWatch(proc, "sending SIGTERM to target")
        try:
            _wait_for(lambda: _commit_waiting(pg_dsn), "the target's COMMIT waiting on the gate")
            proc.send_signal(signal.SIGTERM)
            assert watch.seen["sending SIGTERM to target"].wait(30), "".join(watch.lines)
            watch.seen[watch.HELD].wait(10)  # the target took it while its COMMIT waits (before the fix: no line)
            holder.execute("SELECT pg_advisory_unlock(%s)", (LOCK,))
            code = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            err = watch.text()
            proc.communicate()
    ids = [r[0] for r in _query(pg_dsn, "SELECT id FROM items ORDER BY id")]
    state = stored_state(tmp_path)
    assert ids == list(range(1, 31)), err
    assert state is not None, err
    assert StderrWatch.HELD in err
    assert state["bookmarks"]["items"]["replication_key_value"] == 30
    assert "stopped by SIGTERM after the commit in flight went through" in err
    assert code == 143 and "interrupted by SIGTERM" in err.strip().splitlines()[-1]


class CommitCutter(CommitReplyEater):
    """Forwards loopback connections to PostgreSQL; cuts the first connection that sends COMMIT
    right after forwarding it, so the server goes on with that COMMIT on its own."""

    def _up(self, client: socket.socket, server: socket.socket, state: dict[str, bool]) -> None:
        try:
            while data := client.recv(65536):
                server.sendall(data)
                if COMMIT in data and not self.eaten.is_set():
                    self.eaten.set()
                    time.sleep(0.2)  # let the server read the COMMIT before its client goes away
                    break
        except OSError:
            pass
        finally:
            _close(client)
            _close(server)


def _commit_pids(dsn: str) -> set[int]:
    return {row[0] for row in _query(dsn, "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                          "AND query = 'COMMIT' AND state = 'active'")}


def test_a_commit_still_running_after_the_connection_dropped_is_not_run_twice(pg_dsn: str, tmp_path: Path) -> None:
    """The connection drops while the server still runs the COMMIT (its deferred trigger waits on the
    gate): the target must not replay the batch beside a commit that may still go through."""
    _gate_table(pg_dsn, "CREATE TABLE log (n BIGINT, s TEXT)", "log")
    proxy = CommitCutter(pg_address(pg_dsn))
    config = tmp_path / "target.json"
    config.write_text(json.dumps({"host": "127.0.0.1", "port": proxy.port, "user": "postgres",
                                  "database": pg_dsn.rsplit("/", 1)[1], "state_flush_seconds": 0,
                                  "adopt_existing_tables": True}))
    try:
        with psycopg.connect(pg_dsn, autocommit=True) as holder:
            holder.execute("SELECT pg_advisory_lock(%s)", (LOCK,))
            proc = subprocess.Popen([exe("target-postgres"), "--config", str(config)], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    env={**os.environ, "PGSSLMODE": "disable"})
            try:
                out, err = _cut_then_release(proc, proxy, holder, pg_dsn)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                for pipe in (proc.stdout, proc.stderr):
                    assert pipe is not None
                    pipe.close()
    finally:
        proxy.close()
    count, distinct = _query(pg_dsn, "SELECT count(*), count(DISTINCT n) FROM log")[0]
    assert proc.returncode == 0, err
    assert (count, distinct) == (300, 300), err  # once each
    assert stdout_states(out) == [{"n": 300}]


def _cut_then_release(proc: subprocess.Popen[bytes], proxy: CommitCutter, holder: psycopg.Connection[Any],
                      dsn: str) -> tuple[bytes, str]:
    assert proc.stdin
    proc.stdin.write(orjson.dumps(SCHEMA) + b"\n" + _lines(1, 300))
    proc.stdin.close()
    _wait_for(proxy.eaten.is_set, "the proxy cutting the connection after COMMIT")
    first = _commit_pids(dsn)
    # the target reconnects and (at last) sends its COMMIT again on a new connection; then the gate opens
    _wait_for(lambda: bool(_commit_pids(dsn) - first), "a COMMIT on a new connection", timeout=60)
    holder.execute("SELECT pg_advisory_unlock(%s)", (LOCK,))
    proc.wait(timeout=60)
    assert proc.stdout and proc.stderr
    return proc.stdout.read(), proc.stderr.read().decode()
