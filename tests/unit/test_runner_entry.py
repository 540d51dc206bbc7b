"""runner.entry: ``sluice run PIPELINE [--full-refresh]`` read without click, to the same end as
through click (the same plan and options handed to run_pipeline, the same error lines and codes);
every other command line goes to click."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from runner import cli as click_cli
from runner import entry
from runner import run as run_module


@pytest.mark.parametrize(("args", "expected"), [
    (["run", "sync"], (None, "sync", False, None)),
    (["run", "sync", "--full-refresh"], (None, "sync", True, None)),
    (["run", "--full-refresh", "sync@t1"], (None, "sync@t1", True, None)),
    (["-p", "a/sluice.yml", "run", "sync"], ("a/sluice.yml", "sync", False, None)),
    (["--project", "b.yml", "run", "sync"], ("b.yml", "sync", False, None)),
    (["--project=c.yml", "run", "sync", "--full-refresh"], ("c.yml", "sync", True, None)),
    (["-e", "dev", "run", "sync"], (None, "sync", False, "dev")),
    (["run", "sync", "--environment", "prod"], (None, "sync", False, "prod")),
    (["--project=c.yml", "run", "--environment=qa", "sync"], ("c.yml", "sync", False, "qa")),
    (["--environment", "x", "-p", "d.yml", "run", "sync"], ("d.yml", "sync", False, "x")),
])
def test_the_simple_forms_are_read_without_click(args: list[str], expected: tuple[Any, ...],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLUICE_PROJECT", raising=False)
    assert entry.simple_run(args) == expected


@pytest.mark.parametrize("args", [
    [], ["--help"], ["run"], ["run", "--help"], ["run", "-h"], ["run", "a", "b"], ["run", "--all"],
    ["run", "sync", "--timeout", "5"], ["run", "sync", "--full-refresh", "--full-refresh"], ["run", "--", "sync"],
    ["run", ""], ["state", "list"], ["-p"], ["-p", "x.yml"], ["runs", "sync"], ["run", "sync", "-v"],
    ["run", "sync", "-e"], ["-e", "a", "-e", "b", "run", "sync"], ["run", "sync", "-e", "a", "--environment=b"],
    ["-e", "run", "sync"], ["run", "sync", "--environment="],
])
def test_every_other_command_line_goes_to_click(args: list[str]) -> None:
    assert entry.simple_run(args) is None


def test_the_project_variable_counts_as_click_reads_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLUICE_PROJECT", "env.yml")
    assert entry.simple_run(["run", "sync"]) == ("env.yml", "sync", False, None)
    assert entry.simple_run(["-p", "flag.yml", "run", "sync"]) == ("flag.yml", "sync", False, None)
    monkeypatch.setenv("SLUICE_PROJECT", "")
    assert entry.simple_run(["run", "sync"]) == (None, "sync", False, None)


def _project(tmp_path: Path) -> Path:
    (tmp_path / "a.csv").write_text("id,name\n1,a\n")
    files = [{"entity": "a", "path": "a.csv", "keys": ["id"]}]
    project = {
        "connectors": [
            {"name": "csv", "executable": "tap-csv", "config": {"files": files}},
            {"name": "jsonl", "executable": "target-jsonl", "config": {"destination_path": "out"}},
        ],
        "pipelines": [{"name": "sync", "tap": "csv", "target": "jsonl"}],
    }
    path = tmp_path / "sluice.yml"
    path.write_text(json.dumps(project))
    return path


@pytest.mark.parametrize("full_refresh", [False, True])
def test_both_ways_hand_run_pipeline_the_same_plan_and_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               full_refresh: bool) -> None:
    project = _project(tmp_path)
    calls: list[tuple[Any, Any]] = []

    def capture(_project: Any, plan: Any, options: Any) -> int:
        calls.append((plan, options))
        return 0

    monkeypatch.setattr(run_module, "run_pipeline", capture)
    args = ["-p", str(project), "run", "sync", *(["--full-refresh"] if full_refresh else [])]
    for main in (entry.main, click_cli.main):
        with pytest.raises(SystemExit) as done:
            main(args)
        assert done.value.code == 0
    (fast_plan, fast_options), (click_plan, click_options) = calls
    assert fast_options == click_options
    assert fast_options.full_refresh is full_refresh
    assert fast_plan == click_plan


def _sluice(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m runner ARGS`` in a fresh interpreter; its stderr ends with whether click was imported."""
    code = ("import atexit, sys\n"
            "atexit.register(lambda: sys.stderr.write(f\"\\nclick imported: {'click' in sys.modules}\\n\"))\n"
            "from runner.entry import main\n"
            f"main({args!r})\n")
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, check=False,
                          timeout=120)


def test_a_simple_run_never_imports_click_and_runs(tmp_path: Path) -> None:
    _project(tmp_path)
    done = _sluice(["run", "sync"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr.rstrip().endswith("click imported: False")
    assert (tmp_path / "out" / "a.jsonl").read_text().count("\n") == 1
    other = _sluice(["run", "sync", "--timeout", "60"], tmp_path)
    assert other.returncode == 0, other.stderr
    assert other.stderr.rstrip().endswith("click imported: True")


def test_errors_read_the_same_both_ways(tmp_path: Path) -> None:
    _project(tmp_path)
    fast = _sluice(["run", "nope"], tmp_path)
    slow = _sluice(["run", "nope", "--timeout", "60"], tmp_path)
    assert fast.returncode == slow.returncode == 2
    assert fast.stderr.splitlines()[0] == slow.stderr.splitlines()[0]
    assert fast.stderr.splitlines()[0].startswith("sluice: error: no pipeline named 'nope'")
    missing = _sluice(["-p", str(tmp_path / "absent.yml"), "run", "sync"], tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.startswith("sluice: error: project file not found")
