"""`sluice locks`, `sluice runs --host` and `sluice run --all` next to a run of another host,
on both stores (hosts simulated with SLUICE_HOST)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from protocol import ExitCode
from runner.parallel import host_order
from tests.integration.runner.helpers import (
    finish,
    fixture_connector,
    sluice,
    start_sluice,
    wait_for,
    write_project,
)

EXIT_LOCKED = ExitCode.LOCKED




def _json(args: list[str], root: Path, env: dict[str, str]) -> list[dict[str, Any]]:
    done = sluice([*args, "--json"], root, env=env)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_a_host_sees_who_runs_what_and_its_batch_skips_it(tmp_path: Path, store_env: dict[str, str]) -> None:
    started, release = tmp_path / "started", tmp_path / "release"
    out = str(tmp_path / "out.jsonl")
    write_project(tmp_path, connectors=[
        fixture_connector("tap-held", "fixture_tap.py", {"records": 20, "state_every": 10,
                                                         "started_file": str(started), "hold_until": str(release)}),
        fixture_connector("tap-quick", "fixture_tap.py", {"records": 5}),
        fixture_connector("target-fix", "fixture_target.py", {"path": out}),
    ], pipelines=[{"name": "held", "tap": "tap-held", "target": "target-fix", "state_id": "held@acme"},
                  {"name": "quick", "tap": "tap-quick", "target": "target-fix"}])
    one, two = {**store_env, "SLUICE_HOST": "host-1"}, {**store_env, "SLUICE_HOST": "host-2"}
    first = start_sluice(["run", "held"], tmp_path, env=one)
    try:
        wait_for(started.exists, what="host-1's run to start")
        [lock] = _json(["locks"], tmp_path, two)
        assert (lock["state_id"], lock["pipeline"], lock["host"], lock["run"]) == ("held@acme", "held", "host-1", 1)
        assert lock["pid"] == first.pid
        table = sluice(["locks"], tmp_path, env=two).stdout.splitlines()
        assert table[0] == "STATE ID\tPIPELINE\tHOST\tPID\tSINCE\tRUN"
        assert table[1].split("\t")[:4] == ["held@acme", "held", "host-1", str(first.pid)]
        batch = sluice(["run", "--all"], tmp_path, env=two)
        assert batch.returncode == 0, batch.stderr  # running elsewhere is no failure of this batch
        assert f"[held] sluice: skipped: already running: pid {first.pid} on host-1 since " in batch.stderr
        assert batch.stderr.splitlines()[-1] == ("sluice: 1 of 1 pipeline succeeded; 1 skipped (already running, "
                                                 "or done since the batch began): held")
        alone = sluice(["run", "held"], tmp_path, env=two)
        assert alone.returncode == EXIT_LOCKED
        assert f"(held by pid {first.pid} on host-1 since " in alone.stderr.splitlines()[-1]
    finally:
        release.touch()
        code, _, err = finish(first)
    assert code == 0, err
    assert _json(["locks"], tmp_path, two) == []
    assert [(r["pipeline"], r["host"]) for r in _json(["runs"], tmp_path, two)] == [
        ("quick", "host-2"), ("held", "host-1")]
    assert [r["pipeline"] for r in _json(["runs", "--host", "host-2"], tmp_path, one)] == ["quick"]
    table = sluice(["runs", "--host", "host-1"], tmp_path, env=one).stdout.splitlines()
    assert table[0] == "RUN\tPIPELINE\tSTARTED\tENDED\tSTATUS\tRECORDS\tHOST\tERROR"
    assert [line.split("\t")[6] for line in table[1:]] == ["host-1"]


def test_a_batch_skips_what_another_host_did_since_it_began(tmp_path: Path, store_env: dict[str, str]) -> None:
    started, release = tmp_path / "started", tmp_path / "release"
    out = str(tmp_path / "out.jsonl")
    write_project(tmp_path, connectors=[
        fixture_connector("tap-held", "fixture_tap.py", {"records": 5, "started_file": str(started),
                                                         "hold_until": str(release)}),
        fixture_connector("tap-quick", "fixture_tap.py", {"records": 5}),
        fixture_connector("target-fix", "fixture_target.py", {"path": out}),
    ], pipelines=[{"name": "held", "tap": "tap-held", "target": "target-fix"},
                  {"name": "quick", "tap": "tap-quick", "target": "target-fix"}])
    # a host whose batch (-j 1) starts with 'held' (a shared store rotates the list by host name)
    batch_host = next(h for h in (f"host-{i}" for i in range(20)) if host_order(["held", "quick"], h)[0] == "held")
    batch = start_sluice(["run", "--all", "-j", "1"], tmp_path, env={**store_env, "SLUICE_HOST": batch_host})
    try:
        wait_for(started.exists, what="the batch's first run to start")
        other = sluice(["run", "quick"], tmp_path, env={**store_env, "SLUICE_HOST": "elsewhere"})
        assert other.returncode == 0, other.stderr
    finally:
        release.touch()
        code, _, err = finish(batch)
    assert code == 0, err
    assert "[quick] sluice: skipped: already ran since this batch began: run 1 on elsewhere" in err
    assert [(r["pipeline"], r["host"]) for r in _json(["runs"], tmp_path, store_env)] == [
        ("quick", "elsewhere"), ("held", batch_host)]
    again = sluice(["run", "--all"], tmp_path, env=store_env)  # a batch that began after those runs: runs both
    assert again.returncode == 0 and "skipped" not in again.stderr, again.stderr


def test_a_runner_of_a_batch_checks_under_the_lock_that_no_other_host_ran_it_meanwhile(
        tmp_path: Path, store_env: dict[str, str]) -> None:
    # `sluice run --all` starts each runner with the time its batch began; a run of the pipeline
    # that began since and succeeded (another host's, between the batch's look and its lock) is enough
    write_project(tmp_path, tap={"records": 5})
    done = sluice(["run", "demo"], tmp_path, env={**store_env, "SLUICE_HOST": "elsewhere"})
    assert done.returncode == 0, done.stderr
    began = _json(["runs"], tmp_path, store_env)[0]["started_at"]
    late = sluice(["run", "demo", "--skip-if-done-since", repr(began)], tmp_path, env=store_env)
    assert late.returncode == EXIT_LOCKED
    assert late.stderr.splitlines()[-1] == ("sluice: pipeline 'demo' skipped: already ran since this batch began: "
                                            "run 1 on elsewhere")
    after = sluice(["run", "demo", "--skip-if-done-since", repr(began + 3600)], tmp_path, env=store_env)
    assert after.returncode == 0, after.stderr
    assert [r["host"] for r in _json(["runs"], tmp_path, store_env)] == [after_host(store_env), "elsewhere"]


def test_a_run_under_another_state_id_is_not_this_pipelines_run(tmp_path: Path, store_env: dict[str, str]) -> None:
    """A pipeline's name is shared by its environments (``dev:demo``, ``prod:demo``) and its tenants: a
    dev run that succeeded since a production batch began made that batch skip production's run
    (exit 0, nothing loaded). Only a run under the same state id is the batch's own."""
    write_project(tmp_path, tap={"records": 5},
                  pipelines=[{"name": "demo", "tap": "tap-fix", "target": "target-fix", "state_id": "dev:demo"}])
    done = sluice(["run", "demo"], tmp_path, env=store_env)
    assert done.returncode == 0, done.stderr
    began = _json(["runs"], tmp_path, store_env)[0]["started_at"]
    write_project(tmp_path, tap={"records": 5},
                  pipelines=[{"name": "demo", "tap": "tap-fix", "target": "target-fix", "state_id": "prod:demo"}])
    prod = sluice(["run", "demo", "--skip-if-done-since", repr(began)], tmp_path, env=store_env)
    assert prod.returncode == 0, prod.stderr
    assert "skipped" not in prod.stderr
    assert [r["state_id"] for r in _json(["runs"], tmp_path, store_env)] == ["prod:demo", "dev:demo"]
    again = sluice(["run", "demo", "--skip-if-done-since", repr(began)], tmp_path, env=store_env)
    assert again.returncode == EXIT_LOCKED, again.stderr  # production's own run since then: skipped
    assert "skipped: already ran since this batch began: run 2 on" in again.stderr.splitlines()[-1]


def after_host(env: dict[str, str]) -> str:
    import socket

    return env.get("SLUICE_HOST") or socket.gethostname()
