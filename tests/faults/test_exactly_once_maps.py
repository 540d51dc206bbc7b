"""Exactly-once with a mapper between the tap and the target: a mapper that fails after the tap
has finished cleanly must still keep the target from committing the records no STATE covers.

The target hears "tap-ok" only once the tap AND every mapper exited 0: told at the tap's exit
(as before maps existed), it would commit rows 201..244 of the failed run, and the rerun, which
resumes after the STATE of 200, would write them a second time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from protocol import ExitCode
from tests.faults.exactly_once_helpers import STATE_ID, Pipeline, assert_exactly_once
from tests.integration.runner.helpers import FIXTURES, PY, sluice


def _with_mapper(p: Pipeline, **mapper: Any) -> None:
    path = p.root / "sluice.yml"
    project = yaml.safe_load(path.read_text())
    project["connectors"].append({"name": "fixmap", "executable": PY, "args": [str(FIXTURES / "fixture_mapper.py")],
                                  "config": mapper})
    project["pipelines"][0]["maps"] = ["fixmap"]
    path.write_text(yaml.safe_dump(project, sort_keys=False))


@pytest.mark.parametrize("kind", ["jsonl", "sqlite"])
def test_a_mapper_failing_after_the_tap_finished_commits_nothing_after_the_last_state(tmp_path: Path,
                                                                                     kind: str) -> None:
    p = Pipeline(tmp_path, kind)
    p.write(records=400)
    # slurp: the mapper reads all of the tap's output (the tap exits 0) before it writes anything
    _with_mapper(p, slurp=True, fail_at=245)
    done = sluice(["run", STATE_ID], p.root)
    assert done.returncode == ExitCode.FAILED, done.stderr
    assert "failed: mapper 'fixmap' failed: cannot map record 245" in done.stderr.splitlines()[-1], done.stderr
    assert "tap keyless" not in done.stderr.splitlines()[-1]
    rows = p.rows()
    assert sorted(seq for seq, _ in rows) == list(range(1, 201)), "rows after the last STATE were committed"

    p.write(records=400)
    _with_mapper(p)
    again = sluice(["run", STATE_ID], p.root)
    assert again.returncode == ExitCode.OK, again.stderr
    assert_exactly_once(p.rows(), 400)
