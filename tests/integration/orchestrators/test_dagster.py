"""Dagster runs sluice pipelines: runner/orchestrators/dagster.py against a real Dagster.

Dagster is installed with ``uv`` into its own venv (``-e <this checkout>[dagster]``), cached under
$SLUICE_TEST_CACHE (or ~/.cache/sluice-tests) and keyed by the checkout and its pyproject.toml.
Each test runs tests/integration/orchestrators/dagster_driver.py (or the ``dagster`` command) in
that venv; the pipelines are our tap-csv into target-jsonl, run by the venv's own ``sluice``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import IN_CI, ROOT, exe

pytestmark = pytest.mark.slow

CACHE = Path(os.environ.get("SLUICE_TEST_CACHE", Path.home() / ".cache" / "sluice-tests"))
DRIVER = Path(__file__).parent / "dagster_driver.py"
CUSTOMERS = ROOT / "examples" / "data" / "customers.csv"
ROWS = len(CUSTOMERS.read_text().strip().splitlines()) - 1


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def dagster_venv() -> Path:
    """The venv's bin directory, built once (a few seconds with a warm uv cache)."""
    key = hashlib.sha256(f"{ROOT}\n{(ROOT / 'pyproject.toml').read_text()}".encode()).hexdigest()[:12]
    venv = CACHE / f"dagster-venv-{key}"
    python = venv / "bin" / "python"
    if not (venv / "bin" / "dagster").exists():
        uv = Path(sys.executable).parent / "uv"
        if not uv.exists() and not shutil.which("uv"):
            _unavailable("uv is not installed (pip install -e '.[dev]' installs it)")
        uv_exe = str(uv) if uv.exists() else str(shutil.which("uv"))
        shutil.rmtree(venv, ignore_errors=True)
        CACHE.mkdir(parents=True, exist_ok=True)
        built = subprocess.run([uv_exe, "venv", "-q", str(venv)], capture_output=True, text=True, check=False)
        if built.returncode == 0:
            built = subprocess.run([uv_exe, "pip", "install", "-q", "--python", str(python), f"-e{ROOT}[dagster]"],
                                   capture_output=True, text=True, timeout=600, check=False)
        if built.returncode != 0:
            shutil.rmtree(venv, ignore_errors=True)
            _unavailable(f"cannot install sluice[dagster] with uv: {built.stderr.strip()[-500:]}")
    return venv / "bin"


def _env(bin_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLUICE_", "DAGSTER_", "VIRTUAL_ENV"))}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return {**env, **extra}


def _drive(bin_dir: Path, *args: str, cwd: Path, **env: str) -> dict[str, Any]:
    done = subprocess.run([str(bin_dir / "python"), str(DRIVER), *args], cwd=cwd, env=_env(bin_dir, **env),
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _project(root: Path, metadata: dict[str, Any] | None = None) -> Path:
    """cust-a.b (scheduled every 15 minutes): two CSV streams into target-jsonl; daily (@daily); broken."""
    files = [{"entity": "customers", "path": str(CUSTOMERS), "keys": ["id"], "replication_key": "updated_at"},
             {"entity": "people", "path": str(CUSTOMERS), "keys": ["id"]},
             {"entity": "extra", "path": str(CUSTOMERS), "keys": ["id"]}]
    tap: dict[str, Any] = {"name": "tap-csv", "executable": exe("tap-csv"), "config": {"files": files}}
    if metadata:
        tap["metadata"] = metadata
    project = {
        "connectors": [
            tap,
            {"name": "tap-bad", "executable": exe("tap-csv"),
             "config": {"files": [{"entity": "gone", "path": str(root / "missing.csv")}]}},
            {"name": "target-jsonl", "executable": exe("target-jsonl"),
             "config": {"destination_path": str(root / "out")}},
        ],
        "pipelines": [
            {"name": "cust-a.b", "tap": "tap-csv", "target": "target-jsonl", "schedule": "*/15 * * * *"},
            {"name": "daily", "tap": "tap-csv", "target": "target-jsonl", "state_id": "daily-x",
             "schedule": "@daily"},
            {"name": "broken", "tap": "tap-bad", "target": "target-jsonl"},
        ],
    }
    path = root / "sluice.yml"
    path.write_text(yaml.safe_dump(project, sort_keys=False))
    return path


def _landed(root: Path, stream: str) -> list[int]:
    return sorted(json.loads(line)["id"] for line in (root / "out" / f"{stream}.jsonl").read_text().splitlines())


def _csv_ids() -> list[int]:
    return sorted(int(line.split(",")[0]) for line in CUSTOMERS.read_text().strip().splitlines()[1:])


def test_asset_per_pipeline_lands_rows_with_metadata_and_schedules(dagster_venv: Path, tmp_path: Path) -> None:
    _project(tmp_path)
    out = _drive(dagster_venv, "materialize", "sluice.yml", "cust_a_b", cwd=tmp_path)
    (run,) = out["runs"]
    assert run["success"] and not run["failures"]
    for stream in ("customers", "people", "extra"):
        assert _landed(tmp_path, stream) == _csv_ids()
    (mat,) = run["materializations"]
    assert mat["key"] == "cust_a_b"  # the name sanitized; `sluice run cust-a.b` ran (its state id below)
    meta = mat["metadata"]
    assert meta["sluice/pipeline"] == "cust-a.b" and meta["state_id"] == "cust-a.b"
    assert meta["rows.customers"] == meta["rows.people"] == meta["rows.extra"] == ROWS
    assert meta["records_committed"] == 3 * ROWS and meta["duration_s"] > 0
    history = subprocess.run([str(dagster_venv / "sluice"), "runs", "--json"], cwd=tmp_path, capture_output=True,
                             text=True, env=_env(dagster_venv), check=True).stdout.splitlines()
    (record,) = [json.loads(line) for line in history]
    assert meta["run"] == record["run"] == 1 and record["status"] == "succeeded"

    defs = _drive(dagster_venv, "definitions", str(tmp_path), cwd=ROOT)  # the project found from its directory
    assert defs["assets"] == ["broken", "cust_a_b", "daily"]
    assert sorted(defs["schedules"], key=lambda s: s["name"]) == [
        {"name": "cust_a_b_schedule", "cron": "*/15 * * * *", "job": "cust_a_b_job", "assets": ["cust_a_b"]},
        {"name": "daily_schedule", "cron": "0 0 * * *", "job": "daily_job", "assets": ["daily"]},
    ]  # broken has no schedule: and gets none


def test_asset_per_stream_follows_the_selection(dagster_venv: Path, tmp_path: Path) -> None:
    _project(tmp_path, metadata={"extra": {"selected": False}})  # the runner's catalog: extra not selected
    defs = _drive(dagster_venv, "definitions", "sluice.yml", "--per-stream", cwd=tmp_path)
    assert "cust_a_b/customers" in defs["assets"] and "cust_a_b/people" in defs["assets"]
    assert "cust_a_b/extra" not in defs["assets"]
    assert "broken" in defs["assets"]  # its tap cannot discover: one asset for the pipeline, the others load
    out = _drive(dagster_venv, "materialize", "sluice.yml", "--per-stream", "cust_a_b/customers,cust_a_b/people",
                 cwd=tmp_path)
    (run,) = out["runs"]
    assert run["success"], run
    assert not (tmp_path / "out" / "extra.jsonl").exists()
    by_key = {m["key"]: m["metadata"] for m in run["materializations"]}
    assert sorted(by_key) == ["cust_a_b/customers", "cust_a_b/people"]
    for stream in ("customers", "people"):
        meta = by_key[f"cust_a_b/{stream}"]
        assert meta["dagster/row_count"] == meta["records_emitted"] == len(_landed(tmp_path, stream)) == ROWS
        assert meta["state_id"] == "cust-a.b" and meta["run"] == 1


def test_failed_and_refused_runs_fail_their_step_with_one_line(dagster_venv: Path, tmp_path: Path) -> None:
    from runner.stores import open_store

    _project(tmp_path)
    direct = subprocess.run([str(dagster_venv / "sluice"), "run", "broken"], cwd=tmp_path, capture_output=True,
                            text=True, env=_env(dagster_venv), check=False)
    error_line = direct.stderr.strip().splitlines()[-1].removeprefix("sluice: ")
    assert direct.returncode == 1 and "pipeline 'broken' failed: tap 'tap-bad' failed:" in error_line
    store = open_store(None, tmp_path)  # hold cust-a.b's lock as a running `sluice run` would
    lock = store.lock("cust-a.b")
    try:
        out = _drive(dagster_venv, "materialize", "sluice.yml", "broken", "cust_a_b", cwd=tmp_path)
    finally:
        lock.release()
        store.close()
    failed, refused = out["runs"]
    assert not failed["success"] and not failed["materializations"]
    (failure,) = failed["failures"]
    assert failure["description"] == error_line  # the pipeline's own error line, and only it
    assert failure["metadata"]["sluice/outcome"] == "failed" and failure["metadata"]["sluice/exit_code"] == 1
    assert not refused["success"] and not refused["materializations"]
    (failure,) = refused["failures"]
    assert "\n" not in failure["description"]
    assert failure["description"].startswith("pipeline 'cust-a.b' is already running (held by pid ")
    assert failure["description"].endswith("this run is refused")
    assert failure["metadata"]["sluice/outcome"] == "refused" and failure["metadata"]["sluice/exit_code"] == 3
    assert not (tmp_path / "out" / "customers.jsonl").exists()  # the refused run touched nothing

    missing = tmp_path / "no-such-sluice"
    out = _drive(dagster_venv, "materialize", "sluice.yml", f"--sluice={missing}", "cust_a_b", cwd=tmp_path)
    (failure,) = out["runs"][0]["failures"]
    assert failure["description"].startswith("cannot start sluice for pipeline 'cust-a.b': ")
    assert str(missing) in failure["description"]


def test_a_retry_policy_retries_a_failed_run_never_an_invalid_project(dagster_venv: Path, tmp_path: Path) -> None:
    """An op retry policy (two retries) reruns a failed run (exit 1); an invalid project (exit 2, here a
    connector's unset ``${VAR}``) fails at once, as Airflow's operator fails it without retries."""
    path = _project(tmp_path)
    project = yaml.safe_load(path.read_text())
    project["connectors"].append({"name": "tap-unset", "executable": exe("tap-csv"),
                                  "config": {"files": "${SLUICE_TEST_NEVER_SET}"}})
    project["pipelines"].append({"name": "unset", "tap": "tap-unset", "target": "target-jsonl"})
    path.write_text(yaml.safe_dump(project, sort_keys=False))
    direct = subprocess.run([str(dagster_venv / "sluice"), "run", "unset"], cwd=tmp_path, capture_output=True,
                            text=True, env=_env(dagster_venv), check=False)
    assert direct.returncode == 2, direct.stderr
    broken, unset = _drive(dagster_venv, "retried", "sluice.yml", "broken", "unset", cwd=tmp_path)["runs"]
    assert not broken["success"] and broken["retries"] == 2 and broken["exit_codes"] == [1]
    assert not unset["success"] and unset["retries"] == 0 and unset["exit_codes"] == [2]


def test_dagster_cli_materializes_and_records_the_metadata(dagster_venv: Path, tmp_path: Path) -> None:
    _project(tmp_path)
    (tmp_path / "definitions.py").write_text(
        "from runner.orchestrators.dagster import definitions_from_project\n\n"
        "defs = definitions_from_project('sluice.yml')\n")
    home = tmp_path / "dagster-home"
    home.mkdir()
    env = _env(dagster_venv, DAGSTER_HOME=str(home))

    # the default executor: the step runs in a process of its own (the failure paths are tested in process)
    done = subprocess.run([str(dagster_venv / "dagster"), "asset", "materialize", "-f", "definitions.py",
                           "--select", "cust_a_b"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert _landed(tmp_path, "customers") == _csv_ids()
    meta = _drive(dagster_venv, "events", str(home), "cust_a_b", cwd=tmp_path)["metadata"]
    assert meta["rows.customers"] == ROWS and meta["state_id"] == "cust-a.b" and meta["run"] == 1


def test_module_without_dagster_says_how_to_install_it() -> None:
    try:
        import dagster  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("dagster is installed in the test venv itself")
    done = subprocess.run([sys.executable, "-c", "import runner.orchestrators.dagster"], capture_output=True,
                          text=True, check=False)
    assert done.returncode != 0
    assert "needs Dagster, which is not installed: pip install 'sluice[dagster]'" in done.stderr.splitlines()[-1]
    # ... and the rest of sluice imports without it
    subprocess.run([sys.executable, "-c", "import runner.cli, runner.orchestrators.sluice_run"], check=True)


def test_an_environment_gives_its_pipelines_schedules_and_state(dagster_venv: Path, tmp_path: Path) -> None:
    path = _project(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["environments"] = {"dev": {
        "connectors": {"target-jsonl": {"config": {"destination_path": str(tmp_path / "out-dev")}}},
        "pipelines": {"cust-a.b": {"schedule": "0 6 * * *"}, "broken": {"enabled": False}, "daily": None}}}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    defs = _drive(dagster_venv, "definitions", "sluice.yml", cwd=tmp_path, SLUICE_ENVIRONMENT="dev")
    assert defs["assets"] == ["cust_a_b"]
    assert [(s["name"], s["cron"]) for s in defs["schedules"]] == [("cust_a_b_schedule", "0 6 * * *")]
    out = _drive(dagster_venv, "materialize", "sluice.yml", "cust_a_b", cwd=tmp_path, SLUICE_ENVIRONMENT="dev")
    (run,) = out["runs"]
    assert run["success"], run
    (mat,) = run["materializations"]
    assert mat["metadata"]["state_id"] == "dev:cust-a.b"
    assert sorted(json.loads(line)["id"] for line in (tmp_path / "out-dev" / "customers.jsonl").read_text()
                  .splitlines()) == _csv_ids()
    assert not (tmp_path / "out").exists()
    base = _drive(dagster_venv, "definitions", "sluice.yml", cwd=tmp_path)  # no environment: the file as it is
    assert base["assets"] == ["broken", "cust_a_b", "daily"]
