"""`maps:` with the real mapper-sluice: tap-csv | mapper-sluice | target-jsonl under `sluice run`,
its errors named, and `sluice validate` judging a step's maps the way mapper-sluice does."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from protocol import ExitCode
from tests.conftest import ROOT
from tests.integration.runner.helpers import sluice, sluice_env

CUSTOMERS = ROOT / "examples" / "data" / "customers.csv"


def _project(root: Path, maps: list[Any], mask_config: dict[str, Any] | None = None) -> None:
    (root / "sluice.yml").write_text(yaml.safe_dump({
        "connectors": [
            {"name": "tap-csv", "executable": "tap-csv",
             "config": {"files": [{"entity": "customers", "path": str(CUSTOMERS), "keys": ["id"],
                                   "replication_key": "updated_at"}]}},
            {"name": "mask", "executable": "mapper-sluice", "config": mask_config or {}},
            {"name": "target-jsonl", "executable": "target-jsonl", "config": {"destination_path": "out"}},
        ],
        "pipelines": [{"name": "customers", "tap": "tap-csv", "target": "target-jsonl", "maps": maps}],
    }, sort_keys=False))


def _source() -> list[dict[str, str]]:
    with CUSTOMERS.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_sluice_runs_mapper_sluice_between_tap_and_target(tmp_path: Path) -> None:
    salted = "sha256(config['salt'] + email)"
    _project(tmp_path, [{"mapper": "mask", "config": {"stream_maps": {"customers": {
        "__alias__": "clients", "email": salted, "name": None, "__filter__": "country == 'CH'"}}}}],
        mask_config={"stream_map_config": {"salt": "${SALT}"}})
    done = sluice(["run", "customers"], tmp_path, env=sluice_env(SALT="pepper-3f9"))
    assert done.returncode == ExitCode.OK, done.stderr
    landed = [json.loads(line) for line in (tmp_path / "out" / "clients.jsonl").read_text().splitlines()]
    expected = {int(r["id"]): hashlib.sha256(("pepper-3f9" + r["email"]).encode()).hexdigest()
                for r in _source() if r["country"] == "CH"}
    assert expected and {r["id"]: r["email"] for r in landed} == expected
    assert all("name" not in r for r in landed)
    state = json.loads(sluice(["state", "get", "customers"], tmp_path).stdout)
    assert state["bookmarks"]["customers"]["replication_key"] == "updated_at"  # STATE went through
    assert "tap-csv | mask | target-jsonl" in done.stderr


def test_a_failing_expression_fails_the_run_naming_the_mapper_and_the_line(tmp_path: Path) -> None:
    _project(tmp_path, [{"mapper": "mask", "config": {"stream_maps": {"customers": {"n": "int(name)"}}}}])
    done = sluice(["run", "customers"], tmp_path)
    assert done.returncode == ExitCode.FAILED, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("sluice: pipeline 'customers' failed: mapper 'mask' failed: line 2, stream 'customers', "
                           "field 'n': stream map expression 'int(name)' failed"), done.stderr
    assert sluice(["state", "get", "customers"], tmp_path).returncode != ExitCode.OK  # no STATE got through


def test_validate_lists_every_problem_of_a_steps_maps(tmp_path: Path) -> None:
    bad = {"stream_maps": {"customers": {"a": "__import__('os')", "b": "1 +", "__bogus__": 1}}}
    _project(tmp_path, ["mask", {"mapper": "mask", "config": bad}])
    done = sluice(["validate"], tmp_path)
    assert done.returncode == ExitCode.USAGE, done.stderr
    problem = next(line for line in done.stderr.splitlines() if "pipelines[0].maps[1] (mask)" in line)
    for part in ("stream_maps.customers.a", "stream_maps.customers.b", "stream_maps.customers.__bogus__"):
        assert part in problem, done.stderr
    assert "pipelines[0].maps[0]" not in done.stderr  # the connector's own (empty) maps are fine
    # an unknown setting of a step: a warning, a problem under --strict
    _project(tmp_path, [{"mapper": "mask", "config": {"flatening_enabled": True}}])
    done = sluice(["validate"], tmp_path)
    assert done.returncode == ExitCode.OK, done.stderr
    assert "warning: pipelines[0].maps[0] (mask): unknown setting 'flatening_enabled'" in done.stderr
    assert "did you mean 'flattening_enabled'" in done.stderr
    assert sluice(["validate", "--strict"], tmp_path).returncode == ExitCode.USAGE


def test_a_secret_provider_down_in_a_steps_config_is_a_run_time_failure(tmp_path: Path) -> None:
    """As for a connector's config: a ``${cmd:...}`` that fails in a map step's own config (a password
    manager that is down) exits 1, which orchestrators retry; it exited 2 (bad configuration)."""
    _project(tmp_path, [{"mapper": "mask", "config": {"stream_map_config": {"salt": "${cmd:false}"},
                                                      "stream_maps": {"customers": {"name": None}}}}])
    done = sluice(["run", "customers"], tmp_path)
    assert done.returncode == ExitCode.FAILED, done.stderr
    assert "${cmd:false}: the command exited with status 1" in done.stderr
    assert not (tmp_path / "out").exists()
    done = sluice(["validate"], tmp_path)  # listed as a problem, exit 1 as for the run
    assert done.returncode == ExitCode.FAILED, done.stderr
    assert "${cmd:false}: the command exited with status 1" in done.stderr and "Traceback" not in done.stderr
