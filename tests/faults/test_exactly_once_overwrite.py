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
