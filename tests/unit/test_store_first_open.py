"""Runners opening a new SQLite state store at the same moment all get it.

Two cron jobs of a fresh project starting in the same second, or a run and a ``sluice state
get`` beside it, open the store's file together; SQLite refuses the switch to WAL mode that
meets another connection's lock at once ("database is locked"), without its busy timeout. The
store waits that out. Without the wait about a quarter of these rounds lose an opener.
"""

from __future__ import annotations

import multiprocessing
from multiprocessing.synchronize import Barrier
from pathlib import Path

from runner.stores import StoreError
from runner.stores.sqlite import SQLiteStore

ROUNDS = 30
OPENERS = 3


def _open(path: Path, name: str, barrier: Barrier, results: multiprocessing.Queue[str]) -> None:
    barrier.wait()
    try:
        store = SQLiteStore(path)
        store.set_state(name, {"bookmarks": {"s": {"v": name}}})
        results.put("ok")
    except StoreError as exc:
        results.put(str(exc))


def test_processes_opening_a_new_store_together_all_open_it(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    for n in range(ROUNDS):
        path = tmp_path / f"round{n}" / "state.db"
        barrier, results = ctx.Barrier(OPENERS), ctx.Queue()
        procs = [ctx.Process(target=_open, args=(path, f"p{i}", barrier, results)) for i in range(OPENERS)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(60)
        answers = [results.get(timeout=5) for _ in procs]
        assert answers == ["ok"] * OPENERS, f"round {n}: {answers}"
        assert [sid for sid, _ in SQLiteStore(path).list_states()] == [f"p{i}" for i in range(OPENERS)]
