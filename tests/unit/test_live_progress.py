"""The live progress timer (runner/live_progress.py) over a real SQLite store: it copies the counts the
supervisor keeps, writes only what moved (with the rate since its last look), stops cleanly, gives up
after repeated failures, and is off with SLUICE_LIVE_PROGRESS=0."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from runner import live_progress
from runner.live_progress import ProgressTimer
from runner.pumps import SideStats
from runner.stores import open_store
from runner.stores.sqlite import SQLiteStore
from tests.integration.runner.helpers import wait_for


def _metric(stats: SideStats, stream: str, n: int) -> None:
    point = {"type": "counter", "metric": "record_count", "value": n, "tags": {"stream": stream}}
    stats.take("INFO METRIC: " + json.dumps(point))


def test_the_timer_writes_what_the_metric_lines_counted(tmp_path: Path) -> None:
    with open_store(None, tmp_path) as store:
        assert isinstance(store, SQLiteStore)
        run = store.start_run("p", "p")
        emitted, committed = SideStats(), SideStats()
        timer = ProgressTimer(store, run.id, interval=0.05)
        timer.watch(emitted, committed)
        try:
            _metric(emitted, "a", 100)
            _metric(emitted, "b", 7)
            wait_for(lambda: len(store.dash_progress(run.id)) == 2, what="the first write")
            _metric(emitted, "a", 50)
            _metric(committed, "a", 120)
            wait_for(lambda: store.dash_progress(run.id)[0][1:3] == (150, 120), what="the second write")
            [(a, records, done, rate, at), b] = store.dash_progress(run.id)
            assert (a, records, done) == ("a", 150, 120) and b[:3] == ("b", 7, 0)
            assert rate is not None and rate > 0 and abs(at - time.time()) < 60
        finally:
            timer.stop()
        assert timer.error is None
        settled = store.dash_progress(run.id)
        _metric(emitted, "a", 1)
        time.sleep(0.2)
        assert store.dash_progress(run.id) == settled  # stopped: nothing written any more


def test_the_timer_gives_up_after_repeated_failures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with open_store(None, tmp_path) as store:
        run = store.start_run("p", "p")
        emitted = SideStats()
        _metric(emitted, "a", 1)
        monkeypatch.setattr(live_progress, "IDLE_WRITE_SECONDS", 0.0)  # write on every tick
        timer = ProgressTimer(store, run.id, interval=0.02)
        store._db.execute("begin exclusive")  # a writer elsewhere holds the database: every progress write fails
        try:
            monkeypatch.setattr("runner.stores.sqlite.PROGRESS_BUSY_SECONDS", 0.01)
            timer.watch(emitted, SideStats())
            wait_for(lambda: timer.error is not None, what="the timer to give up")
        finally:
            store._db.execute("rollback")
        timer.stop()
        assert "locked" in (timer.error or "")


def test_off_with_the_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with open_store(None, tmp_path) as store:
        monkeypatch.setenv("SLUICE_LIVE_PROGRESS", "0")
        assert ProgressTimer.start(store, 1) is None
        monkeypatch.setenv("SLUICE_LIVE_PROGRESS", "1")
        assert isinstance(ProgressTimer.start(store, 1), ProgressTimer)
