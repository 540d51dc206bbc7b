"""`sluice run PIPELINE --summary-json FILE`, and runner/orchestrators/sluice_run.py that reads it."""

from __future__ import annotations

import json
from pathlib import Path

from runner.orchestrators.sluice_run import run_sluice, safe_name
from runner.stores import open_store
from tests.conftest import exe
from tests.integration.runner.helpers import read_ids, sluice, write_project


def test_summary_json_holds_counts_state_id_and_run(tmp_path: Path) -> None:
    write_project(tmp_path, tap={"records": 25, "state_every": 10},
                  pipelines=[{"name": "demo", "tap": "tap-fix", "target": "target-fix", "state_id": "demo-state"}])
    done = sluice(["run", "demo", "--summary-json", "out/summary.json"], tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    history = json.loads(sluice(["runs", "--json"], tmp_path).stdout.splitlines()[0])
    assert summary["pipeline"] == "demo" and summary["state_id"] == "demo-state" and summary["status"] == "succeeded"
    assert (summary["run"], summary["run_id"]) == (history["run"], history["id"]) == (1, history["id"])
    assert summary["records_committed"] == history["records_committed"] == len(read_ids(tmp_path / "out.jsonl"))
    (stream,) = summary["streams"]
    assert summary["streams"][stream]["committed"] == 25 and summary["exit_code"] == 0
    assert summary["duration_s"] > 0 and summary["states_stored"] >= 1
    assert summary["message"] == done.stderr.strip().splitlines()[-1].removeprefix("sluice: ")


def test_summary_json_goes_with_one_pipeline(tmp_path: Path) -> None:
    write_project(tmp_path)
    done = sluice(["run", "--all", "--summary-json", "s.json"], tmp_path)
    assert done.returncode == 2 and "--summary-json" in done.stderr
    assert not (tmp_path / "s.json").exists()


def test_run_sluice_reads_success_failure_and_refusal(tmp_path: Path) -> None:
    write_project(tmp_path, tap={"records": 5, "state_every": 5}, pipelines=[
        {"name": "demo", "tap": "tap-fix", "target": "target-fix"},
        {"name": "bad", "tap": "tap-fix", "target": "target-fix", "state_id": "bad", "timeout": 0.001}])
    lines: list[str] = []
    started: list[int] = []
    ok = run_sluice("demo", tmp_path / "sluice.yml", command=[exe("sluice")], log=lines.append,
                    on_start=lambda proc: started.append(proc.pid))
    assert len(started) == 1 and ok.ok and ok.error_line is None
    assert ok.summary is not None and ok.summary["records_committed"] == 5
    assert lines[-1].startswith("sluice: pipeline 'demo' succeeded")

    bad = run_sluice("bad", tmp_path / "sluice.yml", command=[exe("sluice")])
    assert not bad.ok and not bad.refused and bad.exit_code == 124
    assert bad.message() == bad.stderr_tail[-1].removeprefix("sluice: ") and "timed out" in bad.message()

    store = open_store(None, tmp_path)
    lock = store.lock("demo")
    try:
        refused = run_sluice("demo", tmp_path / "sluice.yml", command=[exe("sluice")])
    finally:
        lock.release()
        store.close()
    assert refused.refused and refused.summary is None
    assert refused.message().startswith("pipeline 'demo' is already running (held by pid ")


def test_safe_name() -> None:
    assert safe_name("orders@acme") == "orders_acme"
    assert safe_name("my-pipe.v2") == "my_pipe_v2"
    assert safe_name("plain_1") == "plain_1"
