"""The live progress (runner/live_progress.py, `sluice ui`'s live view) over a real SQLite store: a
stream named after a secret is written under its redacted name while the run goes on."""

from __future__ import annotations

import json
from pathlib import Path

from runner.isolation import Redactor
from runner.live_progress import ProgressTimer
from runner.pumps import SideStats
from runner.stores import open_store
from tests.integration.runner.helpers import wait_for


def _metric(stats: SideStats, stream: str, n: int) -> None:
    point = {"type": "counter", "metric": "record_count", "value": n, "tags": {"stream": stream}}
    stats.take("INFO METRIC: " + json.dumps(point))


def test_live_progress_names_streams_as_the_redactor_does(tmp_path: Path) -> None:
    with open_store(None, tmp_path) as store:
        run = store.start_run("p", "p")
        emitted, committed = SideStats(), SideStats()
        timer = ProgressTimer.start(store, run.id, Redactor(["s3cr3tTOKEN"]))
        assert timer is not None
        timer.interval = 0.05
        _metric(emitted, "acct-s3cr3tTOKEN", 3)
        _metric(emitted, "plain", 4)
        _metric(committed, "acct-s3cr3tTOKEN", 2)
        timer.watch(emitted, committed)
        try:
            wait_for(lambda: len(store.dash_progress(run.id)) == 2, what="the first write")
        finally:
            timer.stop()
        assert [row[:3] for row in store.dash_progress(run.id)] == [("acct-********", 3, 2), ("plain", 4, 0)]
