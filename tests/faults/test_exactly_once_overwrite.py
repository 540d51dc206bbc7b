"""Exactly-once with ``load_method: overwrite``: the run empties each table once; a run that
resumes one that died (same generation) goes on loading and never empties the table again,
which would lose the rows the dead run committed under a STATE the runner stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.exactly_once_helpers import STATE_ID, Pipeline, assert_exactly_once, target_pid, wait_target_idle
from tests.integration.runner.helpers import finish, kill9, sluice, start_sluice, wait_for


@pytest.mark.parametrize("kind", ["sqlite", "postgres", "duckdb"])
def test_a_resumed_overwrite_run_does_not_empty_the_table_again(kind: str, tmp_path: Path,
                                                               request: pytest.FixtureRequest) -> None:
    dsn = request.getfixturevalue("pg_dsn") if kind == "postgres" else None
    p = Pipeline(tmp_path, kind, dsn, load_method="overwrite")
    p.write(pause_at=245)  # STATE every 50, batches of 20: rows up to 200 committed, then paused
    runner = start_sluice(["run", STATE_ID], p.root)
    wait_for(p.paused.exists, what="the tap to pause")
    pid = target_pid(runner, kind)
    wait_target_idle(pid)
    kill9(pid)
    code, _, err = finish(runner)
    assert code == 1 and "killed by SIGKILL" in err
    committed = p.rows()
    assert len(committed) >= 50 and max(seq for seq, _ in committed) <= 245
    p.write(records=400)
    done = sluice(["run", STATE_ID], p.root)
    assert done.returncode == 0, done.stderr
    assert_exactly_once(p.rows(), 400)
    assert "load_method overwrite continues as upsert" in done.stderr


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
def test_a_failed_overwrite_run_leaves_the_committed_file_as_it_was(kind: str, tmp_path: Path) -> None:
    """A file target in ``mode: overwrite`` writes the run's file beside the old one and renames it
    over the old one when it commits: a run that fails before its first commit (here a
    ``--full-refresh`` whose tap dies before any STATE) leaves the file the stored state covers.
    It used to empty the file at its first batch, and the marker then named the stored state
    with an empty file: the next run resumed after records that were gone."""
    p = Pipeline(tmp_path, kind, mode="overwrite")
    p.write(records=100)
    assert sluice(["run", STATE_ID], p.root).returncode == 0
    name = f"events.{kind}"
    before = (p.out / name).read_bytes()
    assert_exactly_once(p.rows(), 100)
    p.write(records=100, state_every=0, fail_at=60)  # 59 records, then the tap exits 1: no STATE
    failed = sluice(["run", STATE_ID, "--full-refresh"], p.root)
    assert failed.returncode == 1, failed.stderr
    assert (p.out / name).read_bytes() == before
    assert sorted(f.name for f in p.out.iterdir() if not f.name.startswith(".sluice-state-")) == [name]
    p.write(records=100, state_every=30)
    redone = sluice(["run", STATE_ID, "--full-refresh"], p.root)
    assert redone.returncode == 0, redone.stderr
    assert_exactly_once(p.rows(), 100)
