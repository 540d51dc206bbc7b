"""What real `sluice run`s leave for the dashboard, read back through runner/ui/data.py, in both stores:
runs from two hosts (SLUICE_HOST), per-stream emitted and committed counts, the failing run's error
line, commands and log tails with the secrets redacted, and live progress that moves while a run runs
(and none with SLUICE_LIVE_PROGRESS=0)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from runner.project import load_project
from runner.ui.data import DashboardData, PipelineRow, open_dashboard_store
from tests.integration.runner.helpers import (
    finish,
    fixture_connector,
    sluice,
    sluice_env,
    start_sluice,
    wait_for,
    write_project,
)

TAP_SECRET = "tap-key-7Qx9Wm2Lz"
TARGET_SECRET = "target-pw-4Rt8Yb1Nc"
STREAM = "items<script>alert(1)</script>"


def _project(root: Path, url: str | None) -> Path:
    out, hold = str(root / "out.jsonl"), str(root / "hold")
    secret_tap = {"api_key": TAP_SECRET, "log_secret": TAP_SECRET}
    connectors = [
        fixture_connector("tap-ok", "fixture_tap.py", {**secret_tap, "records": 30, "stream": STREAM}),
        fixture_connector("tap-bad", "fixture_tap.py", {**secret_tap, "records": 30, "fail_at": 7}),
        fixture_connector("tap-slow", "fixture_tap.py", {"records": 40, "sleep": 0.1, "state_every": 2,
                                                         "hold_until": hold, "stream": "slow"}),
        fixture_connector("target", "fixture_target.py", {"path": out, "password": TARGET_SECRET,
                                                          "log_secret": TARGET_SECRET}),
    ]
    pipelines = [{"name": name, "tap": f"tap-{name}", "target": "target"} for name in ("ok", "bad", "slow")]
    pipelines.append({"name": "per", "tap": "tap-ok", "target": "target", "for_each": [{"id": "acme"}, {"id": "zed"}]})
    return write_project(root, connectors=connectors, pipelines=pipelines, state_store=url)


def _rows(data: DashboardData) -> dict[str, PipelineRow]:
    return {row.pipeline: row for row in data.pipelines()}


def _no_secret(value: Any) -> None:
    text = json.dumps(value)
    assert TAP_SECRET not in text and TARGET_SECRET not in text


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_runs_from_two_hosts_with_counts_commands_log_tails_and_live_progress(
        kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    url = request.getfixturevalue("pg_dsn") if kind == "postgres" else None
    project = load_project(_project(tmp_path, url))
    assert sluice(["run", "ok"], tmp_path, env=sluice_env(SLUICE_HOST="host-a")).returncode == 0
    assert sluice(["run", "bad"], tmp_path, env=sluice_env(SLUICE_HOST="host-b")).returncode == 1
    slow = start_sluice(["run", "slow"], tmp_path, env=sluice_env(SLUICE_HOST="host-b"))
    with open_dashboard_store(project) as data:
        try:
            wait_for(lambda: _running_run(data) is not None, what="the slow run's lock")
            running = _rows(data)["slow"].running
            assert running is not None and running.host == "host-b" and running.run_id is not None
            seen: list[int] = []

            def moved() -> bool:
                got = data.progress(running.run_id or 0)
                if got:
                    assert [p.stream for p in got] == ["slow"]
                    if not seen or got[0].records != seen[-1]:
                        seen.append(got[0].records)
                return len(seen) >= 2

            wait_for(moved, timeout=60, what="live progress to move")
            assert seen == sorted(seen) and 0 < seen[0] < seen[-1] <= 40
            live = data.progress(running.run_id)
            assert live[0].rate is not None and live[0].updated_at > 0
            (tmp_path / "hold").touch()
            rc, _, err = finish(slow)
            assert rc == 0, err
        finally:
            (tmp_path / "hold").touch()
            if slow.poll() is None:
                slow.kill()
                slow.communicate()
        rows = _rows(data)
        assert sorted(rows) == ["bad", "ok", "per@acme", "per@zed", "slow"]
        assert all(row.running is None for row in rows.values())
        ok, bad, slow_run = (rows[name].last_run for name in ("ok", "bad", "slow"))
        assert ok is not None and bad is not None and slow_run is not None
        assert (ok.status, ok.host, bad.status, bad.host, slow_run.host) == (
            "succeeded", "host-a", "failed", "host-b", "host-b")
        assert [(s.stream, s.emitted, s.committed) for s in ok.streams] == [(STREAM, 30, 30)]
        assert [(s.stream, s.emitted) for s in bad.streams] == [("items", 6)]
        assert bad.error is not None and "source went away at record 7" in bad.error
        # once ended, the live rows are gone and progress holds the final counts
        assert data.store.dash_progress(slow_run.id) == []
        assert [(p.stream, p.records, p.committed) for p in data.progress(slow_run.id)] == [("slow", 40, 40)]
        detail = data.run(ok.id)
        assert detail is not None
        [tap_argv, target_argv] = detail.commands
        assert "--config" in tap_argv and "--config" in target_argv
        assert Path(tap_argv[tap_argv.index("--config") + 1]).name == "tap-tap-ok.config.json"
        tail = "\n".join(detail.log_tail)
        assert "connecting with key" in tail and "password is" in tail  # the lines are there, their secrets not
        assert f"run {ok.number} of pipeline 'ok'" in tail and 0 < len(detail.log_tail) <= 200
        assert "METRIC" not in tail  # the counts are stored apart
        bad_detail = data.run(bad.id)
        assert bad_detail is not None and any("source went away at record 7" in line for line in bad_detail.log_tail)
        history = data.history("slow")
        assert [r.status for r in history] == ["succeeded"] and history[0].records_committed == 40
        everything = [row.to_dict() for row in data.pipelines()] + [detail.to_dict(), bad_detail.to_dict()] + [
            s.to_dict() for s in data.states()] + [r.to_dict() for name in rows for r in data.history(name)]
        _no_secret(everything)


def _running_run(data: DashboardData) -> int | None:
    """The run id the slow pipeline's lock names, once it has one."""
    lock = _rows(data)["slow"].running
    return None if lock is None else lock.run_id


def test_no_live_progress_when_turned_off_and_a_tenants_run(tmp_path: Path) -> None:
    project = load_project(_project(tmp_path, None))
    slow = start_sluice(["run", "slow"], tmp_path, env=sluice_env(SLUICE_HOST="host-c", SLUICE_LIVE_PROGRESS="0"))
    try:
        with open_dashboard_store(project) as data:
            wait_for(lambda: (tmp_path / "out.jsonl").exists() and
                     len((tmp_path / "out.jsonl").read_text().splitlines()) >= 40, what="all records delivered")
            running = _rows(data)["slow"].running
            assert running is not None and running.run_id is not None and running.host == "host-c"
            assert data.progress(running.run_id) == []
            (tmp_path / "hold").touch()
            assert finish(slow)[0] == 0
            done = data.progress(running.run_id)  # the final counts are recorded all the same
            assert [(p.stream, p.records) for p in done] == [("slow", 40)]
        assert sluice(["run", "per@acme"], tmp_path, env=sluice_env(SLUICE_HOST="host-c")).returncode == 0
        with open_dashboard_store(project) as data:
            rows = _rows(data)
            acme, zed = rows["per@acme"], rows["per@zed"]
            assert (acme.tenant, acme.template, zed.tenant, zed.last_run) == ("acme", "per", "zed", None)
            assert acme.last_run is not None and (acme.last_run.tenant, acme.last_run.host) == ("acme", "host-c")
            assert [(s.stream, s.committed) for s in acme.last_run.streams] == [(STREAM, 30)]
    finally:
        (tmp_path / "hold").touch()
        if slow.poll() is None:
            slow.kill()
            slow.communicate()


def _environments_project(root: Path) -> Path:
    """ok and slow, and per's tenant acme, in environments dev and prod: prod's ok fails, prod's slow waits."""
    path = _project(root, None)
    data = yaml.safe_load(path.read_text())
    data["pipelines"][3]["for_each"] = [{"id": "acme"}]
    data["connectors"][2]["config"].update(records=3, sleep=0, hold_until=None)
    data["environments"] = {"dev": {}, "prod": {"connectors": {
        "tap-ok": {"config": {"fail_at": 3}}, "tap-slow": {"config": {"hold_until": str(root / "hold-prod")}}}}}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _env_rows(path: Path, environment: str | None) -> dict[str, PipelineRow]:
    with open_dashboard_store(load_project(path, environment)) as data:
        return _rows(data)


def test_each_environment_shows_its_own_runs_and_locks(tmp_path: Path) -> None:
    """Runs of the same pipeline names in dev and prod (a tenant's too): each environment's dashboard shows
    its own last run, last finished run and lock, not the newest of the name."""
    path = _environments_project(tmp_path)
    for args, rc in ((["run", "ok", "-e", "dev"], 0), (["run", "slow", "-e", "dev"], 0),
                     (["run", "ok", "-e", "prod"], 1), (["run", "per@acme", "-e", "prod"], 1)):
        assert sluice(args, tmp_path).returncode == rc, args
    slow = start_sluice(["run", "slow", "-e", "prod"], tmp_path)
    try:
        wait_for(lambda: (lock := _env_rows(path, "prod")["slow"].running) is not None and lock.run_id is not None,
                 what="prod's slow run's lock")
        dev, prod, base = (_env_rows(path, env) for env in ("dev", "prod", None))
    finally:
        (tmp_path / "hold-prod").touch()
        assert finish(slow)[0] == 0
    ok = dev["ok"].last_run
    assert ok is not None and (ok.state_id, ok.status) == ("dev:ok", "succeeded") and dev["ok"].last_finished == ok
    ok = prod["ok"].last_run
    assert ok is not None and (ok.state_id, ok.status) == ("prod:ok", "failed")
    acme = prod["per@acme"].last_run
    assert acme is not None and (acme.state_id, acme.tenant, acme.status) == ("prod:per@acme", "acme", "failed")
    dev_acme = dev["per@acme"]
    assert (dev_acme.state_id, dev_acme.last_run, dev_acme.tenant) == ("dev:per@acme", None, "acme")
    assert dev["slow"].running is None and prod["slow"].running is not None
    assert prod["slow"].running.state_id == "prod:slow"
    slow_run = prod["slow"].last_run
    assert slow_run is not None and (slow_run.state_id, slow_run.status) == ("prod:slow", "running")
    assert prod["slow"].last_finished is None  # dev's finished run is not prod's
    dev_slow = dev["slow"].last_run
    assert dev_slow is not None and (dev_slow.state_id, dev_slow.status) == ("dev:slow", "succeeded")
    assert all(row.last_run is None and row.running is None for row in base.values())  # the base project ran none
    assert sorted(base) == sorted(dev) == sorted(prod) == ["bad", "ok", "per@acme", "slow"]
