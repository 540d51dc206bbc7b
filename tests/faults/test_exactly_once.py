"""Exactly-once under `sluice` for keyless streams, into each of our four targets, whatever is
killed when: the target, the tap (whose bookmark moves only at the end), the runner; SIGTERM and
--timeout; and a destination that committed a STATE the runner never stored.

Each test ends with a rerun and compares the destination with the source rows, computed in
plain Python: every row exactly once, same values.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

import pytest

from tests.faults.exactly_once_helpers import (
    STATE_ID,
    TARGETS,
    Pipeline,
    assert_exactly_once,
    target_pid,
    wait_gone,
    wait_target_idle,
)
from tests.integration.runner.helpers import finish, kill9, sluice, start_sluice, wait_for


@pytest.fixture(params=TARGETS)
def pipeline(request: pytest.FixtureRequest, tmp_path: Path) -> Pipeline:
    kind = request.param
    dsn = request.getfixturevalue("pg_dsn") if kind == "postgres" else None
    return Pipeline(tmp_path, kind, dsn)


def _rerun(p: Pipeline, total: int = 400) -> str:
    p.write(records=total)
    done = sluice(["run", STATE_ID], p.root)
    assert done.returncode == 0, done.stderr
    assert_exactly_once(p.rows(), total)
    return done.stderr


def _start_paused(p: Pipeline, **tap: object) -> tuple[subprocess.Popen[bytes], int]:
    """Run until the tap pauses before record 245 and the target has read all it wrote."""
    p.write(pause_at=245, **tap)
    runner = start_sluice(["run", STATE_ID], p.root)
    wait_for(p.paused.exists, what="the tap to pause")
    pid = target_pid(runner, p.kind)
    wait_target_idle(pid)
    return runner, pid


def test_target_killed_after_commits(pipeline: Pipeline) -> None:
    # STATE every 50 records, batches of 20: rows 201..240 were written after the last STATE
    runner, pid = _start_paused(pipeline)
    assert (bookmark_of(pipeline) or 0) >= 50  # some commits happened
    kill9(pid)
    code, _, err = finish(runner)
    assert code == 1 and "killed by SIGKILL" in err
    _rerun(pipeline)


def test_tap_killed_with_its_bookmark_only_at_the_end(pipeline: Pipeline) -> None:
    runner, _ = _start_paused(pipeline, state_every=0)
    kill9(int(pipeline.paused.read_text()))
    code, _, err = finish(runner)
    assert code == 1 and "tap 'tap-keyless' failed" in err
    assert bookmark_of(pipeline) is None  # no STATE ever covered a row
    assert pipeline.rows() == []  # the target committed nothing no STATE covers
    _rerun(pipeline)


@pytest.mark.parametrize("with_target", [False, True], ids=["runner", "runner-and-target"])
def test_runner_killed(pipeline: Pipeline, with_target: bool) -> None:
    """The runner alone (its children get SIGTERM from the kernel), or the runner and the target
    together (a host-wide kill: nothing rolls back before the next start)."""
    runner, pid = _start_paused(pipeline)
    if with_target:
        kill9(pid)
    kill9(runner.pid)
    finish(runner)
    wait_gone(pid)
    wait_gone(int(pipeline.paused.read_text()))
    _rerun(pipeline)


@pytest.mark.parametrize("how", ["timeout", "sigterm"])
def test_stopped_run_rolls_back_the_rows_after_the_last_state(pipeline: Pipeline, how: str) -> None:
    if how == "timeout":
        pipeline.write(pause_at=245)
        done = sluice(["run", STATE_ID, "--timeout", "4"], pipeline.root)
        assert done.returncode == 124 and "timed out" in done.stderr
    else:
        runner, _ = _start_paused(pipeline)
        runner.send_signal(signal.SIGTERM)
        code, _, err = finish(runner)
        assert code == 143 and "interrupted by SIGTERM" in err
    assert bookmark_of(pipeline) == 200
    assert sorted(pipeline.rows()) == [(i, i * 7919 % 10007) for i in range(1, 201)]
    _rerun(pipeline)


def test_destination_ahead_of_the_store_is_reconciled(pipeline: Pipeline) -> None:
    """The runner died after the target committed a STATE and before storing its echo: the store
    holds an older state and the run's row still says 'running' (what a killed runner leaves)."""
    pipeline.target_config["mode"] = "append"  # target-csv's default, overwrite, would start a new file
    pipeline.write(records=400)
    assert sluice(["run", STATE_ID], pipeline.root).returncode == 0
    behind = json.dumps({"bookmarks": {"events": {"position": 200}}})
    with closing(sqlite3.connect(pipeline.root / ".sluice" / "state.db")) as db, db:
        db.execute("update sluice_state set value = ? where state_id = ?", (behind, STATE_ID))
        db.execute("update sluice_runs set status = 'running', ended_at = null where id = (select max(id) from "
                    "sluice_runs)")
    err = _rerun(pipeline, 500)
    assert "resuming after position 400" in err
    assert bookmark_of(pipeline) == 500
    logs = [path.read_text() for path in (pipeline.root / ".sluice" / "logs" / STATE_ID).glob("*.log")]
    assert len(logs) == 2 and all("delivery: exactly-once (the target commits state id 'demo'" in t for t in logs)


def test_after_a_clean_run_the_store_is_the_truth(pipeline: Pipeline) -> None:
    """After a run that succeeded, every STATE the target committed was stored: the next run starts
    from the store without asking the target (one process fewer per run)."""
    pipeline.target_config["mode"] = "append"
    pipeline.write(records=400)
    assert sluice(["run", STATE_ID], pipeline.root).returncode == 0
    behind = json.dumps({"bookmarks": {"events": {"position": 200}}})
    with closing(sqlite3.connect(pipeline.root / ".sluice" / "state.db")) as db, db:
        db.execute("update sluice_state set value = ? where state_id = ?", (behind, STATE_ID))
    pipeline.write(records=500)
    done = sluice(["run", STATE_ID], pipeline.root)
    assert done.returncode == 0, done.stderr
    assert "resuming after position 200" in done.stderr  # the store's state: the target was not asked
    assert "committed a newer state" not in done.stderr


def bookmark_of(p: Pipeline) -> int | None:
    state = sluice(["state", "get", STATE_ID], p.root)
    if state.returncode != 0:
        return None
    return int(json.loads(state.stdout)["bookmarks"]["events"]["position"])


@pytest.mark.parametrize("reset", [["state", "clear", STATE_ID], ["state", "set", STATE_ID, "{}"], None])
def test_a_deliberate_reset_wins_over_the_destinations_state(tmp_path: Path, reset: list[str] | None) -> None:
    """`sluice state clear|set` and --full-refresh start over even though the destination
    committed a later state: the user asked for it (keyless rows are then loaded again)."""
    p = Pipeline(tmp_path, "sqlite")
    p.write(records=100)
    assert sluice(["run", STATE_ID], tmp_path).returncode == 0
    if reset is not None:
        assert sluice(reset, tmp_path).returncode == 0
    done = sluice(["run", STATE_ID, *([] if reset else ["--full-refresh"])], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "resuming after position" not in done.stderr
    assert sorted(p.rows()) == sorted([(i, i * 7919 % 10007) for i in range(1, 101)] * 2)
    # the next plain run resumes from the new state: nothing more
    done = sluice(["run", STATE_ID], tmp_path)
    assert "resuming after position 100" in done.stderr
    assert len(p.rows()) == 200


def test_csv_header_widened_then_target_killed(tmp_path: Path) -> None:
    """target-csv rewrites its file when a SCHEMA adds a column (a new inode, the committed rows
    at new offsets); killed after that, the marker still says which bytes are committed."""
    p = Pipeline(tmp_path, "csv", mode="append")
    runner, pid = _start_paused(p, widen_at=215)
    kill9(pid)
    assert finish(runner)[0] == 1
    assert bookmark_of(p) == 200
    p.write(records=400, widen_at=215)
    done = sluice(["run", STATE_ID], tmp_path)
    assert done.returncode == 0, done.stderr
    assert_exactly_once(p.rows(), 400)
    lines = (p.out / "events.csv").read_text().splitlines()
    assert lines[0] == "seq,amount,label,note" and lines.count(lines[0]) == 1
    assert lines[1] == "1,7919,e1," and lines[-1] == "400,5388,e400,n400"



def test_the_run_does_not_start_when_the_committed_state_cannot_be_read(tmp_path: Path) -> None:
    p = Pipeline(tmp_path, "postgres", "postgresql://postgres:pw-secret@127.0.0.1:1/none", connection_retries=0)
    p.write(pid_file=str(tmp_path / "tap.pid"))
    done = sluice(["run", STATE_ID], tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith(
        "sluice: error: cannot read the committed state of target 'target-postgres': cannot connect to PostgreSQL at "
        "127.0.0.1:1/none")
    assert not (tmp_path / "tap.pid").exists()  # the tap never started
    run = json.loads(sluice(["runs", "--json"], tmp_path).stdout.splitlines()[0])
    assert run["status"] == "failed" and run["error"].startswith("runner: cannot read the committed state")
