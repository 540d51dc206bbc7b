"""The stores' side of many hosts: who holds a lock, runs by host, and a PostgreSQL lock whose
holder is killed -9 or cut off (a proxy that stops forwarding, sockets left open)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from protocol import ConfigError
from runner.stores import DEFAULT_LOCK_TIMEOUT, LockLost, StateStore, StoreError, lock_timeout, open_store
from tests.conftest import pg_address
from tests.faults.hosts.proxy import StallingProxy
from tests.integration.runner.helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    url = request.getfixturevalue("pg_dsn") if request.param == "postgres" else None
    with open_store(url, tmp_path) as s:
        yield s


def test_a_lock_says_who_holds_it_until_released(store: StateStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLUICE_HOST", "host-x")
    assert store.locks() == [] and store.lock_holder("p@acme") is None
    held = store.lock("p@acme")
    other = store.lock("q")
    started = store.start_run("p", "p@acme")
    [p, q] = store.locks()
    assert (p.state_id, p.host, p.pipeline, p.run_id, p.run) == ("p@acme", "host-x", "p", started.id, 1)
    assert (q.state_id, q.pipeline, q.run) == ("q", None, None)  # a lock without a run: `sluice state set`
    assert p.pid > 0 and p.since > 0
    holder = store.lock_holder("p@acme")
    assert holder is not None and holder.startswith(f"pid {p.pid} on host-x since ") and "run 1 of 'p'" in holder
    held.release()
    other.release()
    assert store.locks() == [] and store.lock_holder("p@acme") is None


def test_runs_are_recorded_with_their_host(store: StateStore, monkeypatch: pytest.MonkeyPatch) -> None:
    for host in ("h1", "h2", "h1"):
        monkeypatch.setenv("SLUICE_HOST", host)
        store.finish_run(store.start_run("p", "p").id, "succeeded", 1, 1, None)
    assert [r.host for r in store.runs()] == ["h1", "h2", "h1"]
    assert [r.number for r in store.runs(host="h1")] == [3, 1]
    assert [r.number for r in store.runs("p", host="h2")] == [2]
    assert store.runs("other", host="h1") == []


def test_the_lock_timeout_comes_from_the_environment_or_the_project() -> None:
    assert lock_timeout(None, {}) == DEFAULT_LOCK_TIMEOUT
    assert lock_timeout(12, {}) == 12.0
    assert lock_timeout(12, {"SLUICE_LOCK_TIMEOUT": "4.5"}) == 4.5
    for bad in ("0", "-3", "soon", "nan"):
        with pytest.raises(ConfigError, match="SLUICE_LOCK_TIMEOUT"):
            lock_timeout(None, {"SLUICE_LOCK_TIMEOUT": bad})


HOLD = """
import sys, time
from runner.stores import open_store
store = open_store(sys.argv[1], None, lock_timeout=600)
store.lock("p")
print("held", flush=True)
time.sleep(600)
"""


def test_a_lock_of_a_holder_killed_9_is_free_long_before_its_timeout(pg_dsn: str) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, pg_dsn], cwd=ROOT, stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        with open_store(pg_dsn, ROOT) as other:
            assert other.try_lock("p") is None
            holder.kill()
            holder.wait(30)

            def free() -> bool:
                lock = other.try_lock("p")
                if lock is not None:
                    lock.release()
                return lock is not None

            wait_for(free, timeout=30, what="the lock of the killed holder (its lease is 600 s)")
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(30)
        if holder.stdout is not None:
            holder.stdout.close()


def test_a_cut_off_holder_loses_its_lock_and_cannot_write_under_it(pg_dsn: str) -> None:
    proxy = StallingProxy(pg_address(pg_dsn))
    timeout = 4.0
    try:
        with open_store(proxy.url(pg_dsn), ROOT, timeout) as cut, open_store(pg_dsn, ROOT, timeout) as other:
            lock = cut.lock("p")
            cut.set_state("p", {"n": 1})
            proxy.stall()  # the holder's packets go nowhere; nothing tells either side
            outcome: list[BaseException | None] = []

            def late_write() -> None:
                try:
                    cut.set_state("p", {"n": 2})
                    outcome.append(None)
                except StoreError as exc:
                    outcome.append(exc)

            writer = threading.Thread(target=late_write)
            writer.start()
            taken: list[object] = []
            wait_for(lambda: bool(taken.append(other.try_lock("p")) or taken[-1]), timeout=10 * timeout,
                     what="the server to end the cut-off holder's session")
            other.set_state("p", {"n": 3})
            writer.join(10 * timeout)
            assert len(outcome) == 1 and isinstance(outcome[0], LockLost), outcome
            assert not lock.alive()
            with pytest.raises(LockLost):
                cut.set_state("p", {"n": 4})
            proxy.resume()  # the network is back: what the holder sent before must not land now
            lock.release()
            assert other.get_state("p") == {"n": 3}
            assert [(info.state_id, info.pid) for info in other.locks()] == [("p", os.getpid())]
    finally:
        proxy.close()
