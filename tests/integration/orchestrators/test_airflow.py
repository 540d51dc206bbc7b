"""Airflow runs sluice pipelines: runner/orchestrators/airflow.py against a real Apache Airflow 3.

Airflow is installed with ``uv`` into its own venv (``-e <this checkout>[airflow]``), cached under
$SLUICE_TEST_CACHE (or ~/.cache/sluice-tests) and keyed by the checkout and its pyproject.toml.
One Airflow home per module: a SQLite metadata database (``airflow db migrate`` once), no example
DAGs, and a DAGs folder holding the DAG file of docs/airflow.md plus a hand-written DAG whose tasks
fail in each way. Airflow starts slowly, so each test makes one Airflow call (one ``dags test``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import IN_CI, ROOT

pytestmark = pytest.mark.slow

CACHE = Path(os.environ.get("SLUICE_TEST_CACHE", Path.home() / ".cache" / "sluice-tests"))
CUSTOMERS = ROOT / "examples" / "data" / "customers.csv"
UNSET = "SLUICE_AIRFLOW_TEST_UNSET"
# a tap that never ends (it has no --about: sluice then runs it without one)
SLOW_TAP = f"""#!{sys.executable}
import sys, time
if "--about" in sys.argv:
    sys.exit(2)
time.sleep(600)
"""

DAG_FILE = '''\
from datetime import timedelta

from runner.orchestrators.airflow import dags_from_project

globals().update(dags_from_project("project/sluice.yml", default_args={"retries": 1, "retry_delay": timedelta(0)}))
'''
# one task per way to fail; relative projects resolve from this file's directory, as in the generated DAGs
FAILURES_FILE = '''\
from datetime import timedelta

from airflow.sdk import DAG

from runner.orchestrators.airflow import SluiceRunOperator

with DAG("sluice_failures", schedule=None, default_args={"retries": 1, "retry_delay": timedelta(0)}):
    SluiceRunOperator(task_id="broken", pipeline="broken.one", project="project/sluice.yml")
    SluiceRunOperator(task_id="misconfigured", pipeline="misconfigured", project="project")
    SluiceRunOperator(task_id="locked", pipeline="customers-daily", project="project/sluice.yml")
    SluiceRunOperator(task_id="locked_skip", pipeline="customers-daily", project="project/sluice.yml",
                      skip_when_locked=True)
    SluiceRunOperator(task_id="timed_out", pipeline="slow", project="project/sluice.yml", retries=0,
                      execution_timeout=timedelta(seconds=10))
'''
# two pipelines whose names sanitize to one DAG id: the DAG file fails to import, saying so
# the DAGs of the project's dev environment (environments: in sluice.yml)
ENV_FILE = '''\
from runner.orchestrators.airflow import dags_from_project

globals().update(dags_from_project("project/sluice.yml", environment="dev", dag_id_prefix="dev__"))
'''
CLASH_FILE = '''\
from runner.orchestrators.airflow import dags_from_project

globals().update(dags_from_project("clash/sluice.yml"))
'''
# printed by the venv's Python: what Airflow's DagBag found in the folder
DAGBAG_SCRIPT = '''\
import json, sys
from airflow.dag_processing.dagbag import DagBag

bag = DagBag(dag_folder=sys.argv[1])
print(json.dumps({
    "import_errors": {k: str(v) for k, v in bag.import_errors.items()},
    "dags": {d.dag_id: {"schedule": d.schedule, "catchup": d.catchup, "max_active_runs": d.max_active_runs,
                        "tags": sorted(d.tags), "default_args": {k: str(v) for k, v in d.default_args.items()},
                        "tasks": {t.task_id: {"pipeline": t.pipeline, "project": t.project,
                                              "environment": t.environment} for t in d.tasks}}
             for d in bag.dags.values()},
}))
'''


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


def _uv() -> str:
    beside = Path(sys.executable).parent / "uv"
    found = str(beside) if beside.exists() else shutil.which("uv")
    if not found:
        _unavailable("uv is not installed (pip install -e '.[dev]' installs it)")
    assert found is not None
    return found


def _airflow_venv() -> Path:
    """The venv's bin directory, built once (seconds with a warm uv cache)."""
    key = hashlib.sha256(f"{ROOT}\n{(ROOT / 'pyproject.toml').read_text()}".encode()).hexdigest()[:12]
    venv = CACHE / f"airflow-venv-{key}"
    if not (venv / "bin" / "airflow").exists():
        uv = _uv()
        shutil.rmtree(venv, ignore_errors=True)
        CACHE.mkdir(parents=True, exist_ok=True)
        built = subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)],
                               capture_output=True, text=True, check=False)
        if built.returncode == 0:
            built = subprocess.run([uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"),
                                    f"-e{ROOT}[airflow]"], capture_output=True, text=True, timeout=600, check=False)
        if built.returncode != 0:
            shutil.rmtree(venv, ignore_errors=True)
            _unavailable(f"cannot install sluice[airflow] with uv: {built.stderr.strip()[-500:]}")
    return venv / "bin"


@dataclass
class Airflow:
    bin: Path
    home: Path
    dags: Path
    project: Path  # the project's directory, inside the DAGs folder

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLUICE_", "AIRFLOW", "VIRTUAL_ENV"))}
        env.pop(UNSET, None)
        return {**env, "PATH": f"{self.bin}{os.pathsep}{env.get('PATH', '')}", "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags)}

    def run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.bin / argv[0]), *argv[1:]], env=self.env(), cwd=self.home,
                              capture_output=True, text=True, timeout=600, check=False)

    def task_instances(self, dag_id: str) -> dict[str, tuple[str, int]]:
        """task id -> (state, try number), from the metadata database."""
        with sqlite3.connect(self.home / "airflow.db") as db:
            rows = db.execute("select task_id, state, try_number from task_instance where dag_id = ?", (dag_id,))
            return {task: (state, tries) for task, state, tries in rows}

    def return_value(self, dag_id: str, task_id: str) -> Any:
        with sqlite3.connect(self.home / "airflow.db") as db:
            (value,) = db.execute("select value from xcom where dag_id = ? and task_id = ? and key = 'return_value'",
                                  (dag_id, task_id)).fetchone()
        return json.loads(value)


def _project(root: Path) -> None:
    root.mkdir(parents=True)
    shutil.copy(CUSTOMERS, root / "customers.csv")
    (root / "tap-slow").write_text(SLOW_TAP)
    (root / "tap-slow").chmod(0o755)
    csv = {"files": [{"entity": "customers", "path": "customers.csv", "keys": ["id"]}]}
    project = {
        "version": 1,
        "connectors": [
            {"name": "tap-csv", "executable": "tap-csv", "config": csv},
            {"name": "tap-missing", "executable": "tap-csv",
             "config": {"files": [{"entity": "customers", "path": "missing.csv", "keys": ["id"]}]}},
            {"name": "target-jsonl", "executable": "target-jsonl", "config": {"destination_path": "output"}},
            {"name": "tap-slow", "executable": "./tap-slow"},
            {"name": "target-unset", "executable": "target-jsonl", "config": {"destination_path": f"${{{UNSET}}}"}},
        ],
        "pipelines": [
            {"name": "customers-daily", "tap": "tap-csv", "target": "target-jsonl", "schedule": "0 3 * * *"},
            {"name": "broken.one", "tap": "tap-missing", "target": "target-jsonl", "schedule": "@hourly"},
            {"name": "misconfigured", "tap": "tap-csv", "target": "target-unset", "schedule": "@annually"},
            {"name": "by-hand", "tap": "tap-csv", "target": "target-jsonl"},
            {"name": "at-boot", "tap": "tap-csv", "target": "target-jsonl", "schedule": "@reboot"},
            {"name": "slow", "tap": "tap-slow", "target": "target-jsonl"},
        ],
        "environments": {"dev": {
            "connectors": {"target-jsonl": {"config": {"destination_path": "output-dev"}}},
            "pipelines": {"customers-daily": {"schedule": "0 5 * * *"}, "broken.one": {"enabled": False},
                          "misconfigured": None},
        }},
    }
    (root / "sluice.yml").write_text(yaml.safe_dump(project, sort_keys=False))


def _clash(root: Path) -> None:
    root.mkdir(parents=True)
    pipes = [{"name": name, "tap": "tap-csv", "target": "target-jsonl", "schedule": "@daily"}
             for name in ("a-b", "a.b")]
    project = {"version": 1, "connectors": [{"name": "tap-csv", "executable": "tap-csv"},
                                            {"name": "target-jsonl", "executable": "target-jsonl"}],
               "pipelines": pipes}
    (root / "sluice.yml").write_text(yaml.safe_dump(project, sort_keys=False))


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Airflow]:
    base = tmp_path_factory.mktemp("airflow")
    dags = base / "dags"
    dags.mkdir()
    (dags / "sluice_dags.py").write_text(DAG_FILE)
    (dags / "sluice_failures.py").write_text(FAILURES_FILE)
    (dags / "sluice_clash.py").write_text(CLASH_FILE)
    (dags / "sluice_dev.py").write_text(ENV_FILE)
    _project(dags / "project")
    _clash(dags / "clash")
    home = base / "home"
    home.mkdir()
    af = Airflow(_airflow_venv(), home, dags, dags / "project")
    migrated = af.run("airflow", "db", "migrate")
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    yield af


def test_dags_match_the_project(airflow: Airflow) -> None:
    listed = airflow.run("python", "-c", DAGBAG_SCRIPT, str(airflow.dags))
    assert listed.returncode == 0, listed.stderr[-3000:]
    bag = json.loads(listed.stdout.strip().splitlines()[-1])
    # one DAG per scheduled pipeline (not by-hand: no schedule; not at-boot: @reboot means nothing to Airflow)
    generated = {dag_id: dag for dag_id, dag in bag["dags"].items()
                 if dag_id != "sluice_failures" and not dag_id.startswith("dev__")}
    assert sorted(generated) == ["broken_one", "customers_daily", "misconfigured"]
    assert {d: dag["schedule"] for d, dag in generated.items()} == {
        "customers_daily": "0 3 * * *", "broken_one": "@hourly", "misconfigured": "@yearly"}
    project_file = str((airflow.project / "sluice.yml").resolve())
    for dag_id, pipeline in (("customers_daily", "customers-daily"), ("broken_one", "broken.one")):
        dag = generated[dag_id]
        assert (dag["catchup"], dag["max_active_runs"], dag["tags"]) == (False, 1, ["sluice"])
        # default_args merge over the module's: owner kept, retries and delay from the DAG file
        assert dag["default_args"] == {"owner": "sluice", "retries": "1", "retry_delay": "0:00:00"}
        # the task runs the pipeline by its own name, in the project found from the DAG file's directory
        assert dag["tasks"] == {"run": {"pipeline": pipeline, "project": project_file, "environment": None}}
    (clash,) = [error for path, error in bag["import_errors"].items() if path.endswith("sluice_clash.py")]
    assert "pipelines 'a-b' and 'a.b' would both be the Airflow DAG 'a_b'" in clash
    assert len(bag["import_errors"]) == 1


def test_dags_test_runs_the_pipeline_and_pushes_counts(airflow: Airflow) -> None:
    done = airflow.run("airflow", "dags", "test", "customers_daily")
    assert done.returncode == 0, (done.stdout + done.stderr)[-5000:]
    assert airflow.task_instances("customers_daily") == {"run": ("success", 1)}
    out = airflow.project / "output" / "customers.jsonl"
    landed = sorted(json.loads(line)["id"] for line in out.read_text().splitlines())
    assert landed == sorted(int(row.split(",")[0]) for row in CUSTOMERS.read_text().strip().splitlines()[1:])
    # sluice's stderr is in the task log, line by line
    assert "sluice: pipeline 'customers-daily' succeeded" in done.stdout + done.stderr
    summary = airflow.return_value("customers_daily", "run")
    assert summary["pipeline"] == "customers-daily" and summary["status"] == "succeeded"
    assert summary["streams"] == {"customers": {"emitted": len(landed), "committed": len(landed)}}


def test_failures_fail_the_task_with_the_pipeline_error_line(airflow: Airflow) -> None:
    from runner.stores import open_store

    with open_store(None, airflow.project) as store:  # this process holds the pipeline, as a live run would
        lock = store.lock("customers-daily")
        try:
            done = airflow.run("airflow", "dags", "test", "sluice_failures")
        finally:
            lock.release()
    log = done.stdout + done.stderr
    assert airflow.task_instances("sluice_failures") == {
        "broken": ("failed", 2),  # a failed run: Airflow's retries apply
        "misconfigured": ("failed", 1),  # exit 2, an invalid project: no retry can fix it
        "locked": ("failed", 2),  # refused (exit 3): a failure that retries, so the data does get loaded
        "locked_skip": ("skipped", 1),  # skip_when_locked=True
        "timed_out": ("failed", 1),  # execution_timeout
    }, log[-5000:]
    assert done.returncode != 0
    # the exception is the pipeline's one error line, whatever sluice printed before it
    raised = [m.group(1) for m in re.finditer(r"sdk\.exceptions\.Airflow(?:Fail|Skip)?Exception: (.*)", log)]
    broken = ("pipeline 'broken.one' failed: tap 'tap-missing' failed: input not found: files entry 'customers': "
              "missing.csv does not exist (exit code 2)")
    assert raised.count(broken) == 2
    unset = f"environment variable {UNSET} is not set"
    assert [line for line in raised if "target-unset" in line] == [
        f"{airflow.project / 'sluice.yml'}: connector 'target-unset' cannot be used: "
        f"connectors[4].config.destination_path: {unset}"]
    refusal = ("sluice run customers-daily was refused, another run holds the pipeline: "
               "pipeline 'customers-daily' is already running (held by pid ")
    refused = [line for line in raised if "refused" in line]
    assert len(refused) == 2 and all(line.startswith(refusal) for line in refused)  # two tries of "locked"
    skipped = re.findall(r'Skipping task\..*reason="(.*)', log)  # "locked_skip"
    assert len(skipped) == 1 and skipped[0].startswith(refusal)
    # the timed-out task stopped sluice as SIGTERM does: it stopped its tap and recorded the run as interrupted
    with open_store(None, airflow.project) as store:
        (slow,) = store.runs("slow")
    assert slow.status == "interrupted", slow


def test_an_environment_makes_its_own_dags_and_state(airflow: Airflow) -> None:
    listed = airflow.run("python", "-c", DAGBAG_SCRIPT, str(airflow.dags))
    assert listed.returncode == 0, listed.stderr[-3000:]
    dev = {d: dag for d, dag in json.loads(listed.stdout.strip().splitlines()[-1])["dags"].items()
           if d.startswith("dev__")}
    assert list(dev) == ["dev__customers_daily"]  # broken.one disabled, misconfigured removed in dev
    assert dev["dev__customers_daily"]["schedule"] == "0 5 * * *"
    assert dev["dev__customers_daily"]["tasks"] == {"run": {
        "pipeline": "customers-daily", "project": str((airflow.project / "sluice.yml").resolve()),
        "environment": "dev"}}
    done = airflow.run("airflow", "dags", "test", "dev__customers_daily")
    assert done.returncode == 0, (done.stdout + done.stderr)[-5000:]
    landed = (airflow.project / "output-dev" / "customers.jsonl").read_text().splitlines()
    assert len(landed) == len(CUSTOMERS.read_text().strip().splitlines()) - 1
    from runner.stores import open_store

    with open_store(None, airflow.project) as store:
        assert store.get_state("dev:customers-daily") is not None
        assert [r.state_id for r in store.runs("customers-daily") if r.state_id.startswith("dev:")] == [
            "dev:customers-daily"]


def test_a_clear_error_without_airflow() -> None:
    import importlib.util

    if importlib.util.find_spec("airflow") is not None:
        pytest.skip("Airflow is installed in the test environment")
    with pytest.raises(ImportError, match=r"needs Apache Airflow, which is not installed: pip install 'sluice\["):
        import runner.orchestrators.airflow  # noqa: F401
