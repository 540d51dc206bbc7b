"""Failures around `sluice run`: killed and failing connectors, signals, timeouts, secrets."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.integration.runner.helpers import (
    bookmark,
    finish,
    kill9,
    pid_alive,
    read_ids,
    sluice,
    sluice_env,
    start_sluice,
    wait_for,
    write_project,
)


def _last_line(stderr: str) -> str:
    return stderr.strip().splitlines()[-1]


def _stderr_until(proc: subprocess.Popen[bytes], text: str, timeout: float = 60) -> str:
    """What a running sluice wrote on stderr up to ``text`` (read raw, so finish() gets the rest)."""
    assert proc.stderr is not None
    fd, seen = proc.stderr.fileno(), b""
    deadline = time.monotonic() + timeout
    while text.encode() not in seen:
        assert time.monotonic() < deadline, f"no {text!r} on stderr: {seen.decode()}"
        if select.select([fd], [], [], 0.5)[0]:
            chunk = os.read(fd, 65536)
            assert chunk, f"stderr closed before {text!r}: {seen.decode()}"
            seen += chunk
    return seen.decode()


def test_target_killed_mid_run_then_rerun_resumes_from_stored_state(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    pid_file = tmp_path / "target.pid"
    write_project(tmp_path, tap={"records": 3000, "state_every": 10, "sleep": 0.01},
                  target={"path": str(out), "pid_file": str(pid_file)})
    proc = start_sluice(["run", "demo"], tmp_path)
    wait_for(lambda: (bookmark(tmp_path) or 0) >= 50, what="a stored bookmark >= 50")
    kill9(int(pid_file.read_text()))
    code, _, err = finish(proc)
    assert code == 1
    assert "target 'target-fix' failed" in _last_line(err) and "killed by SIGKILL" in _last_line(err)
    stored = bookmark(tmp_path)
    assert stored is not None and 50 <= stored < 3000
    assert set(range(1, stored + 1)) <= set(read_ids(out))  # nothing before the stored state lost

    write_project(tmp_path, tap={"records": 3000, "state_every": 10}, target={"path": str(out)})
    done = sluice(["run", "demo"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"resuming after id {stored}" in done.stderr
    ids = read_ids(out)
    assert sorted(set(ids)) == list(range(1, 3001))
    duplicates = {i for i, n in Counter(ids).items() if n > 1}
    assert all(i > stored for i in duplicates)  # only records after the stored state are re-sent
    assert bookmark(tmp_path) == 3000
    statuses = [json.loads(line)["status"] for line in sluice(["runs", "--json"], tmp_path).stdout.splitlines()]
    assert statuses == ["succeeded", "failed"]


@pytest.mark.parametrize("error_line", [False, True])
def test_a_killed_targets_reason_is_the_signal_and_its_last_error_never_an_info_line(
        tmp_path: Path, error_line: bool) -> None:
    pid_file = tmp_path / "target.pid"
    target: dict[str, object] = {"path": str(tmp_path / "out.jsonl"), "pid_file": str(pid_file),
                                 "log_progress": True}
    if error_line:
        target["warn_error_at"] = 3
    write_project(tmp_path, tap={"records": 3000, "state_every": 10, "sleep": 0.01}, target=target)
    proc = start_sluice(["run", "demo"], tmp_path)
    wait_for(lambda: (bookmark(tmp_path) or 0) >= 30, what="a stored bookmark >= 30")
    kill9(int(pid_file.read_text()))
    code, _, err = finish(proc)
    assert code == 1
    assert "committed" in err and "records so far" in err  # the INFO lines were there to be picked
    reason = "killed by SIGKILL" + ("; its last error: lock wait timeout at record 3, retrying" if error_line else "")
    assert _last_line(err) == f"sluice: pipeline 'demo' failed: target 'target-fix' failed: {reason}"


def test_tap_failing_midway_fails_the_run_but_keeps_what_the_target_committed(tmp_path: Path) -> None:
    write_project(tmp_path, tap={"records": 50, "state_every": 5, "fail_at": 18})
    done = sluice(["run", "demo"], tmp_path)
    assert done.returncode == 1
    assert _last_line(done.stderr) == (
        "sluice: pipeline 'demo' failed: tap 'tap-fix' failed: source went away at record 18 (exit code 1)"
    )
    assert bookmark(tmp_path) == 15
    assert read_ids(tmp_path / "out.jsonl") == list(range(1, 18))  # the target finished and committed the rest
    run = json.loads(sluice(["runs", "--json"], tmp_path).stdout.splitlines()[0])
    assert run["status"] == "failed"
    assert run["error"] == "tap 'tap-fix' failed: source went away at record 18 (exit code 1)"


@pytest.mark.parametrize("linger", [0.0, 0.25])
def test_a_failing_tap_that_breaks_the_targets_input_is_the_reported_cause(tmp_path: Path, linger: float) -> None:
    # the tap fails with half a RECORD line out; the target fails on that line at once, while
    # the tap exits in the same moment (linger 0) or after logging and cleaning up (0.25 s)
    write_project(tmp_path, tap={"records": 50, "state_every": 5, "fail_at": 18, "garble": True, "linger": linger})
    done = sluice(["run", "demo"], tmp_path)
    assert done.returncode == 1
    assert "target-fix | 2024-01-01 00:00:00,000 | ERROR    | fixture-target | line 22: malformed JSON" in done.stderr
    reason = "tap 'tap-fix' failed: source went away at record 18 (exit code 1)"
    assert _last_line(done.stderr) == f"sluice: pipeline 'demo' failed: {reason}"
    assert json.loads(sluice(["runs", "--json"], tmp_path).stdout.splitlines()[0])["error"] == reason
    assert bookmark(tmp_path) == 15
    assert "sending SIGTERM" not in done.stderr  # the tap ended by itself


def test_target_failing_stops_the_tap(tmp_path: Path) -> None:
    tap_pid = tmp_path / "tap.pid"
    write_project(tmp_path, tap={"records": 100000, "state_every": 5, "sleep": 0.002, "pid_file": str(tap_pid)},
                  target={"path": str(tmp_path / "out.jsonl"), "fail_at": 12})
    done = sluice(["run", "demo"], tmp_path)
    assert done.returncode == 1
    assert _last_line(done.stderr) == (
        "sluice: pipeline 'demo' failed: target 'target-fix' failed: disk full while writing record 12 (exit code 1)"
    )
    # the tap, writing every 2 ms, meets the closed pipe at once; else the runner stops it
    assert "sending SIGTERM to tap tap-fix" in done.stderr or "BrokenPipeError" in done.stderr
    assert not pid_alive(int(tap_pid.read_text()))
    assert bookmark(tmp_path) == 10


def test_tap_ignoring_sigterm_is_killed_after_the_grace_period(tmp_path: Path) -> None:
    tap_pid = tmp_path / "tap.pid"
    # the tap writes one record, then sleeps (writing nothing, so no broken pipe can end it)
    write_project(tmp_path, tap={"records": 3, "sleep": 60, "ignore_sigterm": True, "pid_file": str(tap_pid)},
                  target={"path": str(tmp_path / "out.jsonl"), "fail_at": 1})
    done = sluice(["run", "demo", "--grace", "1"], tmp_path, timeout=60)
    assert done.returncode == 1
    assert "sending SIGTERM to tap tap-fix" in done.stderr
    assert done.stderr.count("sending SIGKILL to tap tap-fix") == 1  # once, not on every tick until reaped
    assert "target 'target-fix' failed: disk full while writing record 1" in _last_line(done.stderr)
    assert not pid_alive(int(tap_pid.read_text()))


def test_target_quitting_early_is_a_failure_of_the_target(tmp_path: Path) -> None:
    write_project(tmp_path, tap={"records": 2_000_000, "state_every": 1000},
                  target={"path": str(tmp_path / "out.jsonl"), "exit_after": 5})
    done = sluice(["run", "demo", "--grace", "2"], tmp_path)
    assert done.returncode == 1
    assert "target 'target-fix' failed: exited (exit code 0) " in _last_line(done.stderr)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_to_the_runner_stops_both_and_keeps_the_last_committed_state(tmp_path: Path, sig: int) -> None:
    out = tmp_path / "out.jsonl"
    tap_pid, target_pid = tmp_path / "tap.pid", tmp_path / "target.pid"
    write_project(tmp_path, tap={"records": 100000, "state_every": 10, "sleep": 0.005, "pid_file": str(tap_pid)},
                  target={"path": str(out), "pid_file": str(target_pid)})
    proc = start_sluice(["run", "demo"], tmp_path)
    wait_for(lambda: (bookmark(tmp_path) or 0) >= 30, what="a stored bookmark >= 30")
    seen = bookmark(tmp_path) or 0
    proc.send_signal(sig)
    code, _, err = finish(proc, timeout=60)
    assert code == 128 + sig  # 143 for SIGTERM, 130 for SIGINT, as the shell reports a death by them
    assert f"interrupted by {signal.Signals(sig).name}" in _last_line(err)
    assert not pid_alive(int(tap_pid.read_text())) and not pid_alive(int(target_pid.read_text()))
    final = bookmark(tmp_path)
    assert final is not None and final >= seen
    assert set(range(1, final + 1)) <= set(read_ids(out))
    run = json.loads(sluice(["runs", "--json"], tmp_path).stdout.splitlines()[0])
    assert run["status"] == "interrupted"


def test_timeout_stops_the_run(tmp_path: Path) -> None:
    write_project(tmp_path, tap={"records": 100000, "state_every": 10, "sleep": 0.01})
    started = time.monotonic()
    done = sluice(["run", "demo", "--timeout", "1.5", "--grace", "2"], tmp_path)
    assert done.returncode == 124  # as GNU timeout
    assert "timed out after 1.5 s" in _last_line(done.stderr)
    assert time.monotonic() - started < 60


def test_a_timeout_after_all_work_was_done_does_not_fail_the_run(tmp_path: Path) -> None:
    # the tap finishes at once; the target holds its last commit until the timeout has fired
    release = tmp_path / "release"
    out = tmp_path / "out.jsonl"
    write_project(tmp_path, tap={"records": 7, "state_every": 5},
                  target={"path": str(out), "hold_until": str(release)})
    proc = start_sluice(["run", "demo", "--timeout", "4", "--grace", "30"], tmp_path)
    head = _stderr_until(proc, "timed out after 4 s")
    release.touch()
    code, _, rest = finish(proc, timeout=60)
    err = head + rest
    assert code == 0, err
    log = next((tmp_path / ".sluice" / "logs").rglob("*.log")).read_text()
    assert log.index("tap tap-fix finished: exit code 0") < log.index("timed out after 4 s")
    assert "timed out after 4 s: the tap has finished; the target may still commit" in err
    assert _last_line(err).startswith("sluice: pipeline 'demo' succeeded in ")
    assert read_ids(out) == list(range(1, 8)) and bookmark(tmp_path) == 7
    run = json.loads(sluice(["runs", "--json"], tmp_path).stdout.splitlines()[0])
    assert run["status"] == "succeeded" and run["error"] is None


def test_secrets_never_reach_logs_history_or_errors(tmp_path: Path) -> None:
    env_secret = "envsecret-8f3a91c2"
    schema_secret = "schema-secret-77b1"
    write_project(
        tmp_path,
        tap={"records": 30, "state_every": 5, "fail_at": 22, "api_key": "${TAP_API_KEY}",
             "log_secret": "${TAP_API_KEY}", "error_detail": " (key ${TAP_API_KEY} rejected)"},
        target={"path": str(tmp_path / "out.jsonl"), "password": schema_secret, "log_secret": schema_secret},
    )
    env = sluice_env(TAP_API_KEY=env_secret)
    done = sluice(["run", "demo"], tmp_path, env=env)
    assert done.returncode == 1
    assert "(key ******** rejected)" in _last_line(done.stderr)
    runs = sluice(["runs"], tmp_path, env=env)
    outputs = [done.stdout, done.stderr, runs.stdout, runs.stderr]
    files = [p for p in (tmp_path / ".sluice").rglob("*") if p.is_file()]
    assert any(p.suffix == ".log" for p in files)
    for secret in (env_secret, schema_secret):
        for text in outputs:
            assert secret not in text
        for path in files:
            assert secret.encode() not in path.read_bytes(), path
    log_text = next(p for p in files if p.suffix == ".log").read_text()
    assert "connecting with key ********" in log_text and "password is ********" in log_text


def test_a_host_from_env_shows_in_errors_and_logs_a_password_from_env_never(tmp_path: Path) -> None:
    host, password = "db-7.internal.example", "pw-from-env-3c9e1a"
    write_project(
        tmp_path,
        tap={"records": 30, "state_every": 5, "fail_at": 12, "host": "${DB_HOST}", "api_key": "${DB_PASSWORD}",
             "log_secret": "${DB_HOST}", "error_detail": " (cannot reach ${DB_HOST} with key ${DB_PASSWORD})"},
        target={"path": str(tmp_path / "out.jsonl"), "password": "${DB_PASSWORD}", "log_secret": "${DB_PASSWORD}"},
    )
    env = sluice_env(DB_HOST=host, DB_PASSWORD=password)
    done = sluice(["run", "demo"], tmp_path, env=env)
    assert done.returncode == 1
    assert _last_line(done.stderr) == ("sluice: pipeline 'demo' failed: tap 'tap-fix' failed: source went away at "
                                       f"record 12 (cannot reach {host} with key ********) (exit code 1)")
    log_text = next((tmp_path / ".sluice" / "logs").rglob("*.log")).read_text()
    assert f"connecting with key {host}" in log_text and "password is ********" in log_text
    runs = sluice(["runs"], tmp_path, env=env)
    assert host in runs.stdout
    files = [p for p in (tmp_path / ".sluice").rglob("*") if p.is_file()]
    for text in (done.stdout, done.stderr, runs.stdout, runs.stderr):
        assert password not in text
    for path in files:
        assert password.encode() not in path.read_bytes(), path
