"""Exit codes and run status of `sluice` from the one table and a typed outcome.

`sluice run --all` keeps a stop's own code (124, 130, 143) instead of folding it into 1, and
a run's history status comes from how it ended, never from the words of its error.
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest

from protocol._exitcodes import ExitCode
from tests.conftest import exe
from tests.integration.runner.helpers import (
    bookmark,
    fixture_connector,
    sluice,
    sluice_env,
    stop_when,
    write_project,
)


def _torn_project(root: Path, pipelines: int = 1) -> None:
    """Pipelines whose tap writes STATEs at 10, 20, 30, half of record 35's line, then waits."""
    tap = {"records": 100, "state_every": 10, "torn_at": 35}
    conns = [fixture_connector("tap-fix", "fixture_tap.py", tap)]
    conns += [fixture_connector(f"target-{i}", "fixture_target.py", {"path": str(root / f"out{i}.jsonl")})
              for i in range(pipelines)]
    names = ["demo", *(f"p{i}" for i in range(1, pipelines))]
    write_project(root, connectors=conns, pipelines=[{"name": name, "tap": "tap-fix", "target": f"target-{i}"}
                                                     for i, name in enumerate(names)])


def _last_run(root: Path) -> dict[str, object]:
    done = sluice(["runs", "--json", "-n", "1"], root)
    assert done.returncode == ExitCode.OK, done.stderr
    return json.loads(done.stdout.splitlines()[0])  # type: ignore[no-any-return]


def test_run_all_keeps_the_timeout_code_of_its_pipelines(tmp_path: Path) -> None:
    _torn_project(tmp_path, pipelines=2)
    # -j 1: two runners opening a new SQLite store at once may find it locked (not what this test is about)
    done = sluice(["run", "--all", "-j", "1", "--timeout", "2", "--grace", "5"], tmp_path)
    assert done.returncode == ExitCode.TIMEOUT, done.stderr  # was 1 before the table
    assert "0 of 2 pipelines succeeded; failed: demo (exit 124), p1 (exit 124)" in done.stderr
    assert "[demo] sluice: run of pipeline 'demo' timed out after 2 s (--timeout)" in done.stderr


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, ExitCode.INTERRUPTED),
                                           (signal.SIGTERM, ExitCode.TERMINATED)], ids=["sigint", "sigterm"])
def test_run_all_stopped_by_a_signal_exits_with_that_signals_code(tmp_path: Path, sig: int,
                                                                  code: ExitCode) -> None:
    _torn_project(tmp_path)
    proc = subprocess.Popen([exe("sluice"), "run", "--all", "--grace", "5"], cwd=tmp_path, env=sluice_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    # to sluice --all only: it passes SIGTERM on to the pipeline's runner
    err = stop_when(proc, lambda: bookmark(tmp_path) == 30, lambda: proc.send_signal(sig),
                    what="the STATE of record 30 stored")
    assert proc.returncode == code, err  # was 1 before the table
    assert "failed: demo (exit 143)" in err  # the pipeline's runner was stopped by SIGTERM
    assert _last_run(tmp_path)["status"] == "interrupted"


def test_a_failed_run_is_failed_in_the_history_whatever_its_error_says(tmp_path: Path) -> None:
    # the error names a stream called "interrupted": the status once came from searching that text
    tap = fixture_connector("tap-fix", "fixture_tap.py", {"records": 3, "stream": "interrupted"},
                            metadata={"interrupted": {"replication-method": "INCREMENTAL",
                                                      "replication-key": "nope"}})
    target = fixture_connector("target-fix", "fixture_target.py", {"path": str(tmp_path / "out.jsonl")})
    write_project(tmp_path, connectors=[tap, target])
    done = sluice(["run", "demo"], tmp_path)
    assert done.returncode == ExitCode.USAGE, done.stderr
    assert "replication-key 'nope' is not a property of stream 'interrupted'" in done.stderr
    run = _last_run(tmp_path)
    assert run["status"] == "failed", run
    assert "interrupted" in str(run["error"])
