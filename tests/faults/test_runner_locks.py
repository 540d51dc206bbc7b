"""One lock per pipeline, on both state stores, exercised from separate `sluice` processes."""

from __future__ import annotations

import json
from pathlib import Path

from protocol import ExitCode
from tests.integration.runner.helpers import (
    finish,
    kill9,
    pid_alive,
    read_ids,
    sluice,
    start_sluice,
    wait_for,
    write_project,
)

EXIT_LOCKED = ExitCode.LOCKED




def test_second_concurrent_run_is_refused(tmp_path: Path, store_env: dict[str, str]) -> None:
    started, release = tmp_path / "started", tmp_path / "release"
    write_project(tmp_path, tap={"records": 40, "state_every": 10, "started_file": str(started),
                                 "hold_until": str(release)})
    first = start_sluice(["run", "demo"], tmp_path, env=store_env)
    try:
        wait_for(started.exists, what="the first run's tap to start")
        second = sluice(["run", "demo"], tmp_path, env=store_env)
        assert second.returncode == EXIT_LOCKED
        last = second.stderr.strip().splitlines()[-1]
        assert "pipeline 'demo' is already running (held by pid" in last and "this run is refused" in last
        cleared = sluice(["state", "clear", "demo"], tmp_path, env=store_env)
        assert cleared.returncode == EXIT_LOCKED
        assert cleared.stderr.strip().splitlines()[-1].endswith("this change of its state is refused")  # no "run"
    finally:
        release.touch()
        code, _, err = finish(first)
    assert code == 0, err
    assert read_ids(tmp_path / "out.jsonl") == list(range(1, 41))  # the refused run wrote nothing
    again = sluice(["run", "demo", "--full-refresh"], tmp_path, env=store_env)  # the lock is free again
    assert again.returncode == 0, again.stderr
    history = [json.loads(line) for line in sluice(["runs", "--json"], tmp_path, env=store_env).stdout.splitlines()]
    assert [r["status"] for r in history] == ["succeeded", "succeeded"]


def test_lock_of_a_runner_killed_9_is_free(tmp_path: Path, store_env: dict[str, str]) -> None:
    started, tap_pid = tmp_path / "started", tmp_path / "tap.pid"
    write_project(tmp_path, tap={"records": 100000, "state_every": 10, "sleep": 0.01,
                                 "started_file": str(started), "pid_file": str(tap_pid)})
    runner = start_sluice(["run", "demo"], tmp_path, env=store_env)
    wait_for(started.exists, what="the tap to start")
    kill9(runner.pid)
    finish(runner)
    wait_for(lambda: not pid_alive(int(tap_pid.read_text())), what="the orphaned tap to die with its runner")

    write_project(tmp_path, tap={"records": 5, "state_every": 5}, target={"path": str(tmp_path / "out2.jsonl")})
    outcome: list[int] = []

    def rerun_not_refused() -> bool:
        done = sluice(["run", "demo", "--full-refresh"], tmp_path, env=store_env)
        outcome.append(done.returncode)
        return done.returncode != EXIT_LOCKED

    wait_for(rerun_not_refused, timeout=20, what="the dead runner's lock to be released")
    assert outcome[-1] == 0
    assert read_ids(tmp_path / "out2.jsonl") == [1, 2, 3, 4, 5]
    history = [json.loads(line) for line in sluice(["runs", "--json"], tmp_path, env=store_env).stdout.splitlines()]
    assert [r["status"] for r in history][-2:] == ["succeeded", "abandoned"]
