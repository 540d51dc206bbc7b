"""Many hosts, one store: runner hosts share a PostgreSQL state store (docs/scaling.md).

Each host is its own directory with its own copy of the project and its own ``SLUICE_HOST``;
every pipeline's tap moves its bookmark on by one per run (hosts/counter_tap.py). So from the
store alone: no pipeline ran twice at once (the runs' intervals, on the server's clock, do not
overlap) and no state was lost or overwritten by an older run (each pipeline's bookmark equals
its number of succeeded runs). Then hosts fail: one is killed -9, one loses its network (a
proxy that stops forwarding but keeps its sockets open); the others take their pipelines over
once ``lock_timeout_seconds`` has passed, and the half-done runs are recorded as abandoned.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from protocol import ExitCode
from tests.conftest import pg_address
from tests.faults.hosts.hosts import LOCK_TIMEOUT, Host, overlaps
from tests.faults.hosts.proxy import StallingProxy
from tests.integration.runner.helpers import wait_for

PIPELINES = [f"p{i:02d}" for i in range(30)]
EXIT_LOCKED = ExitCode.LOCKED


@pytest.fixture
def hosts(tmp_path: Path, pg_dsn: str) -> Iterator[dict[str, Host]]:
    made = {name: Host(name, tmp_path / name, pg_dsn) for name in ("host-a", "host-b", "host-c")}
    try:
        yield made
    finally:
        for host in made.values():
            host.close()


def _bookmarks(dsn: str) -> dict[str, int]:
    """Every pipeline's stored ``n``, read from the database."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        return {sid: int(n) for sid, n in conn.execute("select state_id, value->>'n' from sluice_state")}


def _check_store(host: Host, pipelines: list[str]) -> list[dict[str, Any]]:
    """The invariants, from the store: no overlap, every bookmark = that pipeline's succeeded runs."""
    history = host.json_lines(["runs", "-n", "100000"])
    assert overlaps(history) == []
    assert [r for r in history if r["status"] == "running"] == []
    stored = _bookmarks(host.store)
    for name in pipelines:
        succeeded = sum(1 for r in history if r["pipeline"] == name and r["status"] == "succeeded")
        assert stored.get(name) == succeeded, name
    return history


def test_hosts_running_all_pipelines_at_once_never_run_one_twice(hosts: dict[str, Host]) -> None:
    for host in hosts.values():
        host.write_project(PIPELINES)
    rounds = 2
    for _ in range(rounds):
        procs = {host: host.start(["run", "--all", "-j", "4"]) for host in hosts.values()}
        for host, proc in procs.items():
            assert proc.wait(240) == 0, host.err(proc)
            assert "sluice: " in host.err(proc).splitlines()[-1]
    a = hosts["host-a"]
    history = _check_store(a, PIPELINES)
    for name in PIPELINES:  # each ran at least once a round: a host skips a pipeline only while it runs
        assert sum(1 for r in history if r["pipeline"] == name) >= rounds
    by_host = {name: a.json_lines(["runs", "-n", "100000", "--host", name]) for name in hosts}
    assert sorted(r["id"] for runs in by_host.values() for r in runs) == sorted(r["id"] for r in history)
    assert all(r["host"] == name for name, runs in by_host.items() for r in runs)
    assert a.json_lines(["locks"]) == []


def test_a_dead_host_and_a_cut_off_host_give_their_pipelines_up(tmp_path: Path, pg_dsn: str) -> None:
    proxy = StallingProxy(pg_address(pg_dsn))
    a, c, k = (Host(name, tmp_path / name, pg_dsn) for name in ("host-a", "host-c", "host-k"))
    p = Host("host-p", tmp_path / "host-p", proxy.url(pg_dsn))  # every session of host-p goes through the proxy
    quick = PIPELINES[:12]
    every = [*quick, "slow-k", "slow-p"]
    try:
        k.write_project(["slow-k", *quick], slow={"slow-k": 120})  # each faulty host starts its slow pipeline first
        p.write_project(["slow-p", *quick], slow={"slow-p": 120})
        for host in (a, c):
            host.write_project(every)
        k_all = k.start(["run", "--all", "-j", "3"])
        p_all = p.start(["run", "--all", "-j", "3", "--grace", "2"])
        wait_for((k.dir / "slow-k.started").exists, timeout=90, what="host-k's slow run to start")
        wait_for((p.dir / "slow-p.started").exists, timeout=90, what="host-p's slow run to start")
        held = {lock["state_id"]: lock for lock in a.json_lines(["locks"])}  # who holds what, seen from host-a
        assert {(held[n]["host"], held[n]["pipeline"]) for n in ("slow-k", "slow-p")} == {
            ("host-k", "slow-k"), ("host-p", "slow-p")}
        assert held["slow-k"]["run"] == 1 and held["slow-k"]["pid"] > 0
        k.kill9(k_all)  # host-k dies: its sessions close with its processes
        proxy.stall()  # host-p's network is gone: nothing passes, nothing is closed

        others = [a.start(["run", "--all", "-j", "3"]), c.start(["run", "--all", "-j", "3"])]
        for host, proc in zip((a, c), others, strict=True):
            assert proc.wait(240) == 0, host.err(proc)

        def slow_p_taken_over() -> bool:
            done = a.sluice(["run", "slow-p"])
            assert done.returncode in (0, EXIT_LOCKED), done.stderr
            return done.returncode == 0

        wait_for(slow_p_taken_over, timeout=4 * LOCK_TIMEOUT + 60, what="host-p's lock on slow-p to be released")
        wait_for(lambda: "sluice: pipeline 'slow-p' failed" in p.err(p_all), timeout=90,
                 what="host-p's slow run to end")
        p_all.terminate()  # its other runners wait for a store they cannot reach
        p_all.wait(90)
        last = next(line for line in p.err(p_all).splitlines() if "sluice: pipeline 'slow-p' failed" in line)
        assert "lost the pipeline lock" in last, last
        final = a.start(["run", "--all", "-j", "3"])  # every lock of host-p is free by now: all its runs taken over
        assert final.wait(240) == 0, a.err(final)
        history = _check_store(a, every)
    finally:
        for host in (a, c, k, p):
            host.close()
        proxy.close()
    first = {name: min((r for r in history if r["pipeline"] == name), key=lambda r: r["run"]) for name in
             ("slow-k", "slow-p")}
    for name, host in (("slow-k", "host-k"), ("slow-p", "host-p")):
        assert (first[name]["host"], first[name]["status"]) == (host, "abandoned"), first[name]
        assert "found by pid" in first[name]["error"] and "host-k" not in first[name]["error"].split("found by")[1]
        after = [r for r in history if r["pipeline"] == name and r["run"] > 1]
        assert after and all(r["host"] in ("host-a", "host-c") and r["status"] == "succeeded" for r in after)
    assert {r["pipeline"] for r in a.json_lines(["runs", "-n", "1000", "--host", "host-k"])} >= {"slow-k"}
    assert a.json_lines(["locks"]) == []
