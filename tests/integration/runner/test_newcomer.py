"""What a newcomer hits first (issue #11): --version, spec/check/discover outside any project with
--config FILE, discover on a target, YAML syntax errors, and a pipeline that is not there."""

from __future__ import annotations

import json
import stat
from importlib import metadata
from pathlib import Path

import psycopg
import pytest

from tests.conftest import exe, run
from tests.integration.runner.helpers import sluice, write_project

CONNECTORS = ("tap-csv", "tap-postgres", "tap-rest", "tap-github",
              "target-jsonl", "target-csv", "target-sqlite", "target-postgres")


def _only_error(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory with no sluice.yml in it or above it."""
    for folder in (tmp_path, *tmp_path.parents):
        assert not (folder / "sluice.yml").exists() and not (folder / "sluice.yaml").exists(), folder
    return tmp_path


# -- --version ---------------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_sluice_prints_its_version(flag: str, outside: Path) -> None:
    done = sluice([flag], outside)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"sluice, version {metadata.version('sluice')}\n"


def test_every_connector_prints_its_version() -> None:
    for name in CONNECTORS:
        done = run([exe(name), "--version"])
        assert done.returncode == 0, (name, done.stderr)
        assert done.stdout.decode() == f"{name}, version {metadata.version('sluice')}\n"


# -- spec, check, discover outside a project -----------------------------------------------------


def _csv_config(folder: Path, path: str = "a.csv") -> Path:
    (folder / "a.csv").write_text("id,name\n1,ann\n2,bob\n")
    config = folder / "c.json"
    config.write_text(json.dumps({"files": [{"entity": "people", "path": str(folder / path), "keys": ["id"]}]}))
    return config


def test_check_and_discover_take_a_config_file_outside_a_project(outside: Path) -> None:
    config = _csv_config(outside)
    done = sluice(["check", "tap-csv", "--config", str(config)], outside)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("tap-csv: ok: ")
    done = sluice(["discover", "tap-csv", "--config", "c.json"], outside)
    assert done.returncode == 0, done.stderr
    (stream,) = json.loads(done.stdout)["streams"]
    assert stream["tap_stream_id"] == "people" and set(stream["schema"]["properties"]) == {"id", "name"}
    assert sorted(p.name for p in outside.iterdir()) == ["a.csv", "c.json"]  # no .sluice/ left behind


def test_check_outside_a_project_reports_the_connectors_failure(outside: Path) -> None:
    config = _csv_config(outside, path="missing.csv")
    done = sluice(["check", "tap-csv", "--config", str(config)], outside)
    assert done.returncode == 1
    assert _only_error(done.stderr).startswith("sluice: tap-csv: check failed: ")
    done = sluice(["check", "tap-csv", "--config", "nowhere.json"], outside)
    assert done.returncode == 2
    assert _only_error(done.stderr) == "sluice: error: config file not found: nowhere.json"


def test_spec_and_check_of_a_target_outside_a_project(outside: Path) -> None:
    done = sluice(["spec", "target-jsonl"], outside)
    assert done.returncode == 0, done.stderr
    assert "destination_path" in json.loads(done.stdout)["properties"]
    config = outside / "t.json"
    config.write_text(json.dumps({"destination_path": str(outside / "out")}))
    done = sluice(["check", "target-jsonl", "--config", str(config)], outside)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("target-jsonl: ok: ")


def test_discover_tap_postgres_outside_a_project_prints_the_catalog(outside: Path, pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("create table orders (id int primary key, total numeric)")
    config = outside / "pg.json"
    config.write_text(json.dumps({"sqlalchemy_url": pg_dsn}))
    done = sluice(["discover", "tap-postgres", "--config", str(config)], outside)
    assert done.returncode == 0, done.stderr
    (stream,) = json.loads(done.stdout)["streams"]
    assert stream["tap_stream_id"] == "public-orders" and stream["key_properties"] == ["id"]
    assert set(stream["schema"]["properties"]) == {"id", "total"}


def test_config_flag_replaces_the_projects_config(tmp_path: Path) -> None:
    write_project(tmp_path, connectors=[{"name": "people", "executable": "tap-csv",
                                         "config": {"files": [{"entity": "x", "path": "nowhere.csv"}]}}],
                  pipelines=[])
    assert sluice(["check", "people"], tmp_path).returncode == 1
    config = _csv_config(tmp_path)
    done = sluice(["check", "people", "--config", str(config)], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("people: ok: ")


# -- discover on a target ----------------------------------------------------------------------------


def test_discover_on_a_target_says_targets_have_no_catalog(outside: Path, tmp_path: Path) -> None:
    done = sluice(["discover", "target-jsonl"], outside)
    assert done.returncode == 2
    assert _only_error(done.stderr) == \
        "sluice: error: target-jsonl is a target: targets have no catalog (discover works on taps)"
    assert done.stdout == ""
    # a target without --about (as many singer-io ones): its name tells
    program = tmp_path / "target-plain"
    program.write_text("#!/bin/sh\necho 'usage: target-plain [--config FILE]' >&2\nexit 2\n")
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    done = sluice(["discover", str(program)], outside)
    assert done.returncode == 2
    assert _only_error(done.stderr) == \
        "sluice: error: target-plain is a target: targets have no catalog (discover works on taps)"


# -- YAML errors and missing pipelines ---------------------------------------------------------------


def test_a_yaml_syntax_error_names_the_file_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "sluice.yml").write_text("connectors:\n  - name: a\n    executable: b: c\n")
    done = sluice(["run", "x"], tmp_path)
    assert done.returncode == 2
    assert _only_error(done.stderr) == \
        "sluice: error: sluice.yml: line 3, column 18: mapping values are not allowed in this context"
    other = tmp_path / "other.yml"
    other.write_text("pipelines:\n\t- name: x\n")
    done = sluice(["-p", str(other), "validate"], tmp_path)
    assert done.returncode == 2
    assert _only_error(done.stderr).startswith(f"sluice: error: {other}: line 2, column 1: ")
    assert done.stderr.rstrip().endswith("; a tab: YAML indents with spaces")


def test_a_missing_project_says_where_sluice_looked(outside: Path) -> None:
    done = sluice(["run", "orders"], outside)
    assert done.returncode == 2
    assert _only_error(done.stderr) == \
        f"sluice: error: no pipeline named 'orders': no sluice.yml found in {outside.resolve()}; pass -p FILE"
    done = sluice(["run", "--all"], outside)
    assert done.returncode == 2
    assert _only_error(done.stderr) == f"sluice: error: no sluice.yml found in {outside.resolve()}; pass -p FILE"


def test_a_missing_pipeline_lists_the_pipelines_and_suggests_one(tmp_path: Path) -> None:
    write_project(tmp_path, pipelines=[{"name": "orders", "tap": "tap-fix", "target": "target-fix"},
                                       {"name": "users", "tap": "tap-fix", "target": "target-fix"}])
    where = (tmp_path / "sluice.yml").resolve()
    done = sluice(["run", "order"], tmp_path)
    assert done.returncode == 2
    assert _only_error(done.stderr) == (f"sluice: error: no pipeline named 'order' in {where} "
                                        "(pipelines: orders, users); did you mean 'orders'?")
    done = sluice(["run", "zzz"], tmp_path)
    assert _only_error(done.stderr) == f"sluice: error: no pipeline named 'zzz' in {where} (pipelines: orders, users)"


def test_a_mistyped_name_in_state_and_runs_is_said_with_the_name_meant(tmp_path: Path) -> None:
    write_project(tmp_path)
    state = '{"bookmarks": {"s": {"id": 7}}}'
    assert sluice(["state", "set", "demo", state], tmp_path).stderr == "sluice: state of 'demo' set\n"
    typo = sluice(["state", "set", "dmeo", state], tmp_path)  # stored all the same: a state id may be new
    assert typo.returncode == 0
    assert typo.stderr.splitlines() == [
        "sluice: warning: 'dmeo' is neither a pipeline nor a stored state id: a new state id; did you mean 'demo'?",
        "sluice: state of 'dmeo' set"]
    assert sluice(["state", "set", "dmeo", state], tmp_path).stderr == "sluice: state of 'dmeo' set\n"

    cleared = sluice(["state", "clear", "dmoe"], tmp_path)
    assert cleared.returncode == 1
    assert _only_error(cleared.stderr) == ("sluice: no state stored for 'dmoe', which is not a pipeline either; "
                                           "did you mean 'demo'?")
    got = sluice(["state", "get", "demo"], tmp_path)
    assert got.returncode == 0 and json.loads(got.stdout) == json.loads(state)
    missing = sluice(["state", "get", "dmoe"], tmp_path)
    assert missing.returncode == 1
    assert _only_error(missing.stderr) == "sluice: no state stored for 'dmoe'; did you mean 'demo'?"
    assert sluice(["state", "clear", "dmeo"], tmp_path).stderr == "sluice: state of 'dmeo' cleared\n"
    assert sluice(["state", "clear", "demo"], tmp_path).returncode == 0
    again = sluice(["state", "clear", "demo"], tmp_path)  # a pipeline with nothing stored: nothing to do
    assert (again.returncode, again.stderr) == (0, "sluice: state of 'demo' was not stored\n")

    runs = sluice(["runs", "dmeo"], tmp_path)
    assert runs.returncode == 0 and runs.stdout.startswith("RUN\t") and len(runs.stdout.splitlines()) == 1
    assert _only_error(runs.stderr) == "sluice: no runs of 'dmeo', which is not a pipeline either; did you mean 'demo'?"
    never_ran = sluice(["runs", "demo"], tmp_path)
    assert never_ran.returncode == 0 and never_ran.stderr == ""


def test_sluice_run_names_a_catalog_file_that_is_no_catalog(tmp_path: Path) -> None:
    config = _csv_config(tmp_path)
    write_project(tmp_path, connectors=[
        {"name": "people", "executable": exe("tap-csv"), "config": str(config), "catalog": str(config)},
        {"name": "out", "executable": exe("target-jsonl"), "config": {"destination_path": str(tmp_path / "out")}}],
        pipelines=[{"name": "demo", "tap": "people", "target": "out"}])
    done = sluice(["run", "demo"], tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        f"sluice: pipeline 'demo' failed: tap 'people' failed: catalog file {config}: catalog must be a JSON object "
        "with a 'streams' list (exit code 2)")
