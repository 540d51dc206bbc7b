"""Tap and target swapped in sluice.yml, or a target that writes a tap's output on its stdout.

Run that way, the program named as the target (tap-csv) ignores its input and prints SCHEMA, RECORD
and its own STATE; the runner stored that STATE as the target's, the run "succeeded", and once the
swap was fixed the pipeline said "nothing new since the last run": the rows were never loaded. Now
`sluice validate` and `sluice run` refuse the pipeline when the connectors' --about say what they
are, and a run whose target writes a SCHEMA, RECORD or ACTIVATE_VERSION line fails and stores none
of that target's STATE. Real processes: our tap-csv and target-jsonl, and a fixture target.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import exe
from tests.integration.runner.helpers import fixture_connector, sluice, stored_state, write_project

ECHO = [{"name": "demo", "tap": "tap-fix", "target": "echo"}]
MESSAGE = "wrote a {kind} line on stdout: it is a tap, not a target? (a target writes only STATE there)"


def _no_about(root: Path) -> str:
    """A wrapper that runs its arguments as a program which has no --about (as many singer-io programs)."""
    path = root / "no-about"
    path.write_text('#!/bin/sh\ncase " $* " in *" --about "*) echo "error: unrecognized arguments: --about" >&2; '
                    'exit 2;; esac\nexec "$@"\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def _csv_project(root: Path, tap: str, target: str, *, about: bool = True) -> None:
    """Connectors c (tap-csv, two rows) and t (target-jsonl into out/); pipeline p runs ``tap`` into ``target``."""
    (root / "data").mkdir()
    (root / "data" / "customers.csv").write_text("id,updated_at\n1,2024-01-01T00:00:00Z\n2,2024-01-02T00:00:00Z\n")
    files = [{"entity": "customers", "path": "data/customers.csv", "keys": ["id"], "replication_key": "updated_at"}]
    wrapper = None if about else _no_about(root)

    def program(name: str) -> dict[str, Any]:  # run by the wrapper when it has no --about
        return {"executable": exe(name)} if wrapper is None else {"executable": wrapper, "args": [exe(name)]}

    connectors = [{"name": "c", **program("tap-csv"), "config": {"files": files}},
                  {"name": "t", **program("target-jsonl"), "config": {"destination_path": "out"}}]
    project = {"connectors": connectors, "pipelines": [{"name": "p", "tap": tap, "target": target}]}
    (root / "sluice.yml").write_text(yaml.safe_dump(project, sort_keys=False))


def _fix_and_load(root: Path) -> list[str]:
    """Fix the swap, run again: the rows the new run loaded."""
    _swap_back(root)
    done = sluice(["run", "p"], root)
    assert done.returncode == 0, done.stderr
    return (root / "out" / "customers.jsonl").read_text().splitlines()


def _swap_back(root: Path) -> None:
    project = yaml.safe_load((root / "sluice.yml").read_text())
    project["pipelines"] = [{"name": "p", "tap": "c", "target": "t"}]
    (root / "sluice.yml").write_text(yaml.safe_dump(project, sort_keys=False))


def _pipeline_line(root: Path) -> int:
    lines = (root / "sluice.yml").read_text().splitlines()
    return next(n for n, line in enumerate(lines, 1) if line.lstrip().startswith("- name: p"))


def test_validate_and_run_refuse_a_pipeline_whose_tap_and_target_are_swapped(tmp_path: Path) -> None:
    _csv_project(tmp_path, tap="t", target="c")
    at = _pipeline_line(tmp_path)
    checked = sluice(["validate"], tmp_path)
    assert checked.returncode == 2, checked.stderr
    assert f"sluice.yml:{at + 1}: pipelines[0].tap: pipeline 'p': 't' (target-jsonl) is a target, not a tap" \
        in checked.stderr
    assert f"sluice.yml:{at + 2}: pipelines[0].target: pipeline 'p': 'c' (tap-csv) is a tap, not a target" \
        in checked.stderr
    done = sluice(["run", "p"], tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == ["sluice: error: pipeline 'p' not run (tap and target swapped?):",
                                        "  pipeline 'p': 't' (target-jsonl) is a target, not a tap",
                                        "  pipeline 'p': 'c' (tap-csv) is a tap, not a target"]
    assert stored_state(tmp_path, "p") is None
    assert sluice(["runs", "--json"], tmp_path).stdout == ""  # refused before it started: no run recorded
    assert len(_fix_and_load(tmp_path)) == 2


def test_run_names_the_one_side_that_cannot_play_its_part(tmp_path: Path) -> None:
    _csv_project(tmp_path, tap="c", target="c")  # a tap into itself: only the target is wrong
    done = sluice(["run", "p"], tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == ["sluice: error: pipeline 'p': 'c' (tap-csv) is a tap, not a target"]
    checked = sluice(["validate"], tmp_path)
    assert checked.returncode == 2 and "pipelines[0].tap" not in checked.stderr, checked.stderr
    assert "pipelines[0].target: pipeline 'p': 'c' (tap-csv) is a tap, not a target" in checked.stderr


def test_a_tap_without_about_run_as_the_target_fails_the_run_and_stores_none_of_its_state(tmp_path: Path) -> None:
    """No --about: nothing is judged before the run (validate passes); what tap-csv writes fails the run."""
    _csv_project(tmp_path, tap="t", target="c", about=False)
    checked = sluice(["validate"], tmp_path)
    assert checked.returncode == 0, checked.stderr
    done = sluice(["run", "p"], tmp_path)
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines()[-1] == f"sluice: pipeline 'p' failed: target 'c' failed: 'c' " \
                                           f"{MESSAGE.format(kind='SCHEMA')}"
    assert stored_state(tmp_path, "p") is None
    assert len(_fix_and_load(tmp_path)) == 2  # the rows load once the swap is fixed


@pytest.mark.parametrize("kind", ["RECORD", "SCHEMA", "ACTIVATE_VERSION"])
def test_a_target_that_writes_a_data_line_fails_the_run_and_stores_no_state(tmp_path: Path, kind: str) -> None:
    """The STATE read with that line, before it and after it, is not stored; nor any later one."""
    write_project(tmp_path, connectors=[
        fixture_connector("tap-fix", "fixture_tap.py", {"records": 30, "state_every": 10}),
        fixture_connector("echo", "echo_target.py", {"at_state": 1, "line": kind})], pipelines=ECHO)
    done = sluice(["run", "demo"], tmp_path)
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines()[-1] == f"sluice: pipeline 'demo' failed: target 'echo' failed: 'echo' " \
                                           f"{MESSAGE.format(kind=kind)}"
    assert stored_state(tmp_path) is None
    run = json.loads(sluice(["runs", "--json"], tmp_path).stdout.splitlines()[0])
    assert run["status"] == "failed"


def test_a_plain_text_line_on_a_targets_stdout_is_logged_and_its_state_stored(tmp_path: Path) -> None:
    write_project(tmp_path, connectors=[
        fixture_connector("tap-fix", "fixture_tap.py", {"records": 30, "state_every": 10}),
        fixture_connector("echo", "echo_target.py", {"at_state": 1, "line": "debug: committed"})], pipelines=ECHO)
    done = sluice(["run", "demo"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert stored_state(tmp_path) == {"bookmarks": {"items": {"replication_key": "id", "replication_key_value": 30}}}
    [log] = (tmp_path / ".sluice" / "logs" / "demo").iterdir()
    assert "echo wrote a non-STATE line on stdout: debug: committed" in log.read_text()
