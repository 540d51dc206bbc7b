"""Runs are numbered per pipeline, in both stores; stores from before the numbers keep their history."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.stores import StateStore, open_store

# the run history table as stores wrote it before runs had a number of their own
_OLD_SQLITE = """
create table sluice_runs (
    id integer primary key autoincrement, pipeline text not null, state_id text not null,
    started_at real not null, ended_at real, status text not null, records_emitted integer,
    records_committed integer, error text, host text not null, pid integer not null);
create index sluice_runs_pipeline on sluice_runs (pipeline, id);
"""
_OLD_POSTGRES = [
    """create table sluice_runs (
        id bigserial primary key, pipeline text not null, state_id text not null,
        started_at timestamptz not null default now(), ended_at timestamptz, status text not null,
        records_emitted bigint, records_committed bigint, error text, host text not null, pid integer not null)""",
    "create index sluice_runs_pipeline on sluice_runs (pipeline, id)",
]
# x, x, y, x, z, y: interleaved, with distinct record counts to tell the rows apart
_HISTORY = [("x", 10), ("x", 11), ("y", 20), ("x", 12), ("z", 30), ("y", 21)]


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    url = request.getfixturevalue("pg_dsn") if request.param == "postgres" else None
    with open_store(url, tmp_path) as s:
        yield s


def test_the_first_run_of_a_pipeline_is_run_1(store: StateStore) -> None:
    numbers = [(p, store.start_run(p, p).number) for p in ["x", "x", "y", "x", "z", "y"]]
    assert numbers == [("x", 1), ("x", 2), ("y", 1), ("x", 3), ("z", 1), ("y", 2)]
    # a run under another state id is still a run of its pipeline
    assert store.start_run("y", "y-backfill").number == 3
    assert [r.number for r in store.runs("x")] == [3, 2, 1]
    assert {r.pipeline: r.number for r in store.runs(limit=100) if r.number == 1} == {"x": 1, "y": 1, "z": 1}
    assert store.runs("z")[0].to_dict()["run"] == 1


def _old_sqlite(path: Path) -> None:
    path.parent.mkdir(parents=True)
    db = sqlite3.connect(str(path))
    db.executescript(_OLD_SQLITE)
    for i, (pipeline, count) in enumerate(_HISTORY):
        db.execute("insert into sluice_runs (pipeline, state_id, started_at, ended_at, status, records_emitted, "
                   "records_committed, error, host, pid) values (?, ?, ?, ?, 'succeeded', ?, ?, null, 'h', 1)",
                   (pipeline, pipeline, 1000.0 + i, 1001.0 + i, count, count))
    db.commit()
    db.close()


def _old_postgres(dsn: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        for ddl in _OLD_POSTGRES:
            conn.execute(ddl)
        for pipeline, count in _HISTORY:
            conn.execute("insert into sluice_runs (pipeline, state_id, ended_at, status, records_emitted, "
                         "records_committed, host, pid) values (%s, %s, now(), 'succeeded', %s, %s, 'h', 1)",
                         (pipeline, pipeline, count, count))


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_an_old_store_gets_per_pipeline_numbers_and_keeps_its_history(kind: str, request: pytest.FixtureRequest,
                                                                      tmp_path: Path) -> None:
    url: str | None = None
    if kind == "postgres":
        url = request.getfixturevalue("pg_dsn")
        _old_postgres(url)
    else:
        _old_sqlite(tmp_path / ".sluice" / "state.db")
    with open_store(url, tmp_path) as store:
        old = sorted(store.runs(limit=100), key=lambda r: r.id)
        assert [(r.pipeline, r.records_committed, r.number) for r in old] == [
            ("x", 10, 1), ("x", 11, 2), ("y", 20, 1), ("x", 12, 3), ("z", 30, 1), ("y", 21, 2)]
        assert [r.id for r in old] == sorted({r.id for r in old}) and len(old) == 6  # ids kept
        assert all(r.status == "succeeded" and r.ended_at is not None for r in old)
        started = store.start_run("y", "y")
        assert started.number == 3 and started.id > old[-1].id
        assert store.start_run("w", "w").number == 1
    with open_store(url, tmp_path) as again:  # opening a migrated store again changes nothing
        assert [r.number for r in again.runs("x")] == [3, 2, 1]
        assert again.start_run("x", "x").number == 4
