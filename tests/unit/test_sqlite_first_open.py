"""Processes opening a new SQLite file at the same moment all get it.

Two cron jobs of a fresh project starting in the same second (or a run and a ``sluice state
get`` beside it) open the state store's file together; two target-sqlite runs may load one new
database; a webhook receiver opens its spool. SQLite refuses the switch to WAL mode that meets
another connection's lock at once ("database is locked"), without its busy timeout; each opener
waits that out (``protocol.enter_wal``). Without the wait about a quarter of these rounds lose an
opener.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
from collections.abc import Callable
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from protocol import SluiceError
from runner.stores import StoreError
from runner.stores.sqlite import SQLiteStore
from taps.webhook.spool import SpoolError, SQLiteSpoolWriter
from targets.sqlite.dialect import SQLiteLoader

ROUNDS = 30
OPENERS = 3


def _store(path: Path) -> None:
    SQLiteStore(path).set_state("p", {"bookmarks": {}})


def _target(path: Path) -> None:
    SQLiteLoader(str(path)).conn.execute("select 1")


def _spool(path: Path) -> None:
    SQLiteSpoolWriter(str(path))._open()


OPEN: dict[str, Callable[[Path], None]] = {"state-store": _store, "target-sqlite": _target, "webhook-spool": _spool}


def _open(kind: str, path: Path, barrier: Barrier, results: multiprocessing.Queue[str]) -> None:
    barrier.wait()
    try:
        OPEN[kind](path)
        results.put("ok")
    except (StoreError, SluiceError, SpoolError, sqlite3.Error) as exc:
        results.put(str(exc))


@pytest.mark.parametrize("kind", sorted(OPEN))
def test_processes_opening_a_new_file_together_all_open_it(tmp_path: Path, kind: str) -> None:
    ctx = multiprocessing.get_context("fork")
    for n in range(ROUNDS):
        path = tmp_path / f"round{n}" / "the.db"
        path.parent.mkdir()
        barrier, results = ctx.Barrier(OPENERS), ctx.Queue()
        procs = [ctx.Process(target=_open, args=(kind, path, barrier, results)) for _ in range(OPENERS)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(60)
        answers = [results.get(timeout=5) for _ in procs]
        assert answers == ["ok"] * OPENERS, f"round {n}: {answers}"
        assert sqlite3.connect(path).execute("pragma journal_mode").fetchone() == ("wal",)
