"""The dashboard's read API (runner/ui/data.py) over both real stores: runs from two hosts, per-stream
counts, commands, log tails, live progress written from another thread, states, locks, paging, and
stores from before the dashboard migrated in place. Expected values come from what each test wrote."""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from runner.project import load_project
from runner.stores import StateStore, open_store
from runner.ui.data import DashboardData, open_dashboard_store


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    return request.getfixturevalue("pg_dsn") if request.param == "postgres" else None


@pytest.fixture
def store(url: str | None, tmp_path: Path) -> Iterator[StateStore]:
    with open_store(url, tmp_path) as s:
        yield s


def _project(root: Path, url: str | None) -> Any:
    data: dict[str, Any] = {
        "connectors": [{"name": "t", "executable": "true"}, {"name": "d", "executable": "true"}],
        "pipelines": [
            {"name": "orders", "tap": "t", "target": "d", "schedule": "*/15 * * * *"},
            {"name": "users", "tap": "t", "target": "d", "for_each": [{"id": "acme"}, {"id": "zeta"}]},
            {"name": "never", "tap": "t", "target": "d", "state_id": "never-state"},
        ],
    }
    if url:
        data["state_store"] = url
    (root / "sluice.yml").write_text(yaml.safe_dump(data))
    return load_project(root / "sluice.yml")


def _run(store: StateStore, monkeypatch: pytest.MonkeyPatch, host: str, pipeline: str, status: str,
         streams: dict[str, tuple[int, int]], tenant: str | None = None) -> int:
    monkeypatch.setenv("SLUICE_HOST", host)
    started = store.start_run(pipeline, pipeline, tenant)
    store.set_run_commands(started.id, [["tap-x", "--config", f"/run/{started.id}/tap.json"], ["target-y"]])
    emitted = sum(e for e, _ in streams.values())
    committed = sum(c for _, c in streams.values())
    error = f"tap 'x' failed: boom {started.id}" if status == "failed" else None
    store.finish_run(started.id, status, emitted, committed, error)
    store.record_run_end(started.id, streams, [f"line {i} of run {started.id}" for i in range(3)])
    return started.id


def test_pipelines_show_each_last_run_with_its_host_streams_schedule_and_tenant(
        store: StateStore, url: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = _project(tmp_path, url)
    rng = random.Random(7)
    written: list[dict[str, Any]] = []
    for _ in range(24):
        pipeline = rng.choice(["orders", "users@acme", "users@zeta", "gone"])
        host = rng.choice(["host-a", "host-b"])
        status = rng.choice(["succeeded", "succeeded", "failed"])
        streams = {f"s{k}": (rng.randrange(100), rng.randrange(100)) for k in range(rng.randrange(1, 4))}
        tenant = pipeline.split("@")[1] if "@" in pipeline else None
        run_id = _run(store, monkeypatch, host, pipeline, status, streams, tenant)
        written.append({"id": run_id, "pipeline": pipeline, "host": host, "status": status, "streams": streams,
                        "tenant": tenant})
    monkeypatch.setenv("SLUICE_HOST", "host-b")
    running = store.start_run("orders", "orders")  # orders is running now, on host-b, under its lock
    lock = store.lock("orders")
    store.start_run("orders", "orders")  # (a second row: the lock names the newest)
    data = DashboardData(project, store)
    rows = {row.pipeline: row for row in data.pipelines()}
    assert sorted(rows) == sorted({"orders", "users@acme", "users@zeta", "never", *(w["pipeline"] for w in written)})
    for name in {w["pipeline"] for w in written}:
        last = [w for w in written if w["pipeline"] == name][-1]
        row = rows[name]
        finished = row.last_finished
        assert finished is not None and finished.id == last["id"]
        assert (finished.host, finished.status, finished.tenant) == (last["host"], last["status"], last["tenant"])
        assert [(s.stream, s.emitted, s.committed) for s in finished.streams] == [
            (s, e, c) for s, (e, c) in sorted(last["streams"].items())]
        assert finished.duration is not None and finished.duration >= 0
        assert (finished.error is not None) == (last["status"] == "failed")
    assert rows["orders"].last_run is not None and rows["orders"].last_run.status == "running"
    assert rows["orders"].last_run.id > running.id
    held = rows["orders"].running
    assert held is not None and held.host == "host-b" and held.run_id == rows["orders"].last_run.id
    assert rows["users@acme"].running is None
    backfill = store.lock("users@zeta-backfill")  # a run of users@zeta under another state id (--state-id)
    store.start_run("users@zeta", "users@zeta-backfill", "zeta")
    zeta = {row.pipeline: row for row in data.pipelines()}["users@zeta"].running
    assert zeta is not None and zeta.state_id == "users@zeta-backfill" and zeta.host == "host-b"
    backfill.release()
    assert (rows["users@acme"].tenant, rows["users@acme"].template) == ("acme", "users")
    assert rows["never"].last_run is None and rows["never"].state_id == "never-state"
    assert rows["gone"].in_project is False and rows["orders"].in_project is True
    due = rows["orders"].next_due
    assert rows["orders"].schedule == "*/15 * * * *" and due is not None
    assert 0 < due - time.time() <= 15 * 60 and time.localtime(due).tm_min % 15 == 0
    assert rows["never"].next_due is None
    lock.release()
    assert [r.to_dict()["pipeline"] for r in data.pipelines()] == sorted(rows)


def test_history_pages_newest_first_and_a_run_has_its_commands_and_log_tail(
        store: StateStore, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = []
    for i in range(7):  # runs of another pipeline between: ids and numbers differ
        _run(store, monkeypatch, "host-a", "other", "failed", {"z": (1, 0)})
        ids.append(_run(store, monkeypatch, f"host-{'ab'[i % 2]}", "p", "succeeded", {"a": (i, i)}))
    data = DashboardData(None, store)
    first = data.history("p", limit=3)
    assert [r.id for r in first] == ids[::-1][:3] and [r.number for r in first] == [7, 6, 5]
    second = data.history("p", limit=3, before=first[-1].id)
    assert [r.id for r in second] == ids[::-1][3:6]
    assert [r.id for r in data.history("p", limit=3, before=second[-1].id)] == ids[:1]
    assert [r.host for r in data.history("p")] == [f"host-{'ab'[i % 2]}" for i in range(6, -1, -1)]
    assert [r.records_committed for r in data.history("p")] == list(range(6, -1, -1))
    assert data.history("nothing") == []
    detail = data.run(ids[2])
    assert detail is not None
    assert detail.commands == [["tap-x", "--config", f"/run/{ids[2]}/tap.json"], ["target-y"]]
    assert detail.log_tail == [f"line {i} of run {ids[2]}" for i in range(3)]
    assert [s.to_dict() for s in detail.streams] == [{"stream": "a", "emitted": 2, "committed": 2}]
    assert detail.run.number == 3 and detail.to_dict()["run"]["id"] == ids[2]
    assert data.run(10**9) is None


def test_live_progress_written_from_another_thread_then_frozen_as_the_final_counts(
        store: StateStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLUICE_HOST", "host-a")
    started = store.start_run("p", "p")
    writer = store.progress_writer()
    assert writer is not None
    data = DashboardData(None, store)
    assert data.progress(started.id) == []
    samples = [[("items", 10, 4, 10.0), ("users", 3, 0, 3.0)], [("items", 25, 20, 15.0), ("users", 3, 3, 0.0)]]
    for rows in samples:  # the runner's timer writes from its own thread, on its own connection
        worker = threading.Thread(target=writer.write, args=(started.id, rows))
        worker.start()
        worker.join()
        got = data.progress(started.id)
        assert [(p.stream, p.records, p.committed, p.rate) for p in got] == rows
        assert all(abs(p.updated_at - time.time()) < 60 for p in got)
    writer.close()
    store.finish_run(started.id, "succeeded", 28, 28, None)
    store.record_run_end(started.id, {"items": (25, 25), "users": (3, 3)}, [])
    final = data.progress(started.id)
    assert [(p.stream, p.records, p.committed) for p in final] == [("items", 25, 25), ("users", 3, 3)]
    assert store.dash_progress(started.id) == []  # type: ignore[attr-defined]  # the live rows are gone


def test_states_with_their_generation(store: StateStore) -> None:
    store.set_state("b", {"bookmarks": {"x": {"replication_key_value": 5}}})
    store.set_state("a", {"bookmarks": {}})
    store.bump_generation("b")
    store.bump_generation("b")
    rows = DashboardData(None, store).states()
    assert [(r.state_id, r.value, r.generation) for r in rows] == [
        ("a", {"bookmarks": {}}, 0), ("b", {"bookmarks": {"x": {"replication_key_value": 5}}}, 2)]
    assert all(abs(r.updated_at - time.time()) < 60 for r in rows)


def test_open_dashboard_store_reads_the_projects_store(url: str | None, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    project = _project(tmp_path, url)
    with open_store(url, tmp_path) as store:
        _run(store, monkeypatch, "host-a", "orders", "succeeded", {"s": (1, 1)})
    with open_dashboard_store(project) as data:
        [orders] = [row for row in data.pipelines() if row.pipeline == "orders"]
        assert orders.last_run is not None and orders.last_run.host == "host-a"
        assert data.locks() == []


# -- stores from before the dashboard ----------------------------------------------------------
_OLD_SQLITE = """
create table sluice_runs (
    id integer primary key autoincrement, pipeline text not null, state_id text not null,
    started_at real not null, ended_at real, status text not null, records_emitted integer,
    records_committed integer, error text, host text not null, pid integer not null, run_number integer);
create index sluice_runs_pipeline on sluice_runs (pipeline, id);
"""
_OLD_POSTGRES = [
    """create table sluice_runs (
        id bigserial primary key, pipeline text not null, state_id text not null,
        started_at timestamptz not null default now(), ended_at timestamptz, status text not null,
        records_emitted bigint, records_committed bigint, error text, host text not null, pid integer not null,
        run_number bigint)""",
    "create index sluice_runs_pipeline on sluice_runs (pipeline, id)",
    "create unique index sluice_runs_number on sluice_runs (pipeline, run_number)",
    "create table sluice_locks (state_id text primary key, holder text not null, since timestamptz not null)",
    """alter table sluice_locks add column host text, add column pid integer, add column pipeline text,
        add column run_id bigint, add column backend_pid integer, add column lock_key bigint""",
]
_HISTORY = [("x", 10), ("x@acme", 11), ("y", 20), ("x@acme", 12)]


def test_a_store_from_before_the_dashboard_is_migrated_in_place(url: str | None, tmp_path: Path) -> None:
    if url is None:
        path = tmp_path / ".sluice" / "state.db"
        path.parent.mkdir(parents=True)
        db = sqlite3.connect(str(path))
        db.executescript(_OLD_SQLITE)
        for i, (pipeline, count) in enumerate(_HISTORY):
            db.execute("insert into sluice_runs (pipeline, state_id, started_at, ended_at, status, records_emitted, "
                       "records_committed, host, pid, run_number) values (?, ?, ?, ?, 'succeeded', ?, ?, 'h', 1, ?)",
                       (pipeline, pipeline, 1000.0 + i, 1001.0 + i, count, count, i + 1))
        db.commit()
        db.close()
    else:
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            for ddl in _OLD_POSTGRES:
                conn.execute(ddl)
            for i, (pipeline, count) in enumerate(_HISTORY):
                conn.execute("insert into sluice_runs (pipeline, state_id, ended_at, status, records_emitted, "
                             "records_committed, host, pid, run_number) values (%s, %s, now(), 'succeeded', %s, %s, "
                             "'h', 1, %s)", (pipeline, pipeline, count, count, i + 1))
    for _ in range(2):  # opening a migrated store again changes nothing
        with open_store(url, tmp_path) as store:
            data = DashboardData(None, store)
            rows = {row.pipeline: row for row in data.pipelines()}
            assert sorted(rows) == ["x", "x@acme", "y"]
            last = rows["x@acme"].last_run
            assert last is not None and (last.tenant, last.records_committed, last.streams) == ("acme", 12, [])
            assert rows["x"].last_run is not None and rows["x"].last_run.tenant is None
            detail = data.run(last.id)
            assert detail is not None and (detail.commands, detail.log_tail) == ([], [])
    with open_store(url, tmp_path) as store:  # and the new runs record everything
        started = store.start_run("x@acme", "x@acme", "acme")
        store.record_run_end(started.id, {"s": (1, 1)}, ["done"])
        detail = DashboardData(None, store).run(started.id)
        assert detail is not None and detail.log_tail == ["done"] and detail.run.number == 5


def test_log_tails_are_kept_for_the_newest_runs_of_each_pipeline(store: StateStore,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from runner.stores import dashboard

    monkeypatch.setattr(dashboard, "LOG_TAILS_KEPT", 2)
    ids = [_run(store, monkeypatch, "host-a", pipeline, "succeeded", {"s": (1, 1)})
           for pipeline in ("p", "q", "p", "p", "q", "p")]
    data = DashboardData(None, store)
    kept = {run_id: detail.log_tail for run_id in ids if (detail := data.run(run_id)) is not None}
    p_ids, q_ids = [ids[i] for i in (0, 2, 3, 5)], [ids[i] for i in (1, 4)]
    assert [bool(kept[i]) for i in p_ids] == [False, False, True, True]  # only p's newest two
    assert [bool(kept[i]) for i in q_ids] == [True, True]
    assert all((d := data.run(i)) is not None and d.commands for i in ids)  # the commands stay
    long = store.start_run("p", "p")
    store.record_run_end(long.id, {}, [f"{n} " + "x" * 5000 for n in range(500)])
    detail = data.run(long.id)
    assert detail is not None and len(detail.log_tail) == dashboard.LOG_TAIL_LINES
    assert detail.log_tail[-1].startswith("499 ") and all(len(line) == dashboard.MAX_LOG_LINE
                                                          for line in detail.log_tail)


def test_a_dead_runners_progress_is_not_shown_as_live(store: StateStore) -> None:
    started = store.start_run("p", "p")
    writer = store.progress_writer()
    assert writer is not None
    writer.write(started.id, [("a", 5, 0, 1.0)])
    writer.close()
    data = DashboardData(None, store)
    assert [(p.stream, p.records) for p in data.progress(started.id)] == [("a", 5)]
    lock = store.lock("p")  # the next run of p finds the dead runner's row still 'running'
    try:
        assert store.abandon_stale_runs("p") == 1
    finally:
        lock.release()
    assert data.progress(started.id) == []  # ended with no counts recorded: nothing live any more
    assert store.dash_progress(started.id) == []  # type: ignore[attr-defined]


def test_an_environments_row_finds_its_own_last_run_pages_back_past_other_environments(
        store: StateStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """dev's row of orders: its own run, found back past more than a page of prod's and the base project's
    runs of the same name; a run under another state id (--state-id) is its own too."""
    data: dict[str, Any] = {"connectors": [{"name": "t", "executable": "true"}, {"name": "d", "executable": "true"}],
                            "pipelines": [{"name": "orders", "tap": "t", "target": "d"}],
                            "environments": {"dev": {}, "prod": {}}}
    (tmp_path / "sluice.yml").write_text(yaml.safe_dump(data))
    monkeypatch.setattr("runner.ui.data.MAX_HISTORY", 3)

    def run(state_id: str, status: str = "succeeded") -> int:
        started = store.start_run("orders", state_id)
        if status != "running":
            store.finish_run(started.id, status, 1, 1, None)
        return started.id

    own = run("dev:orders", "failed")
    others = [run(state_id) for state_id in ["prod:orders", "orders"] * 4]
    dev = DashboardData(load_project(tmp_path / "sluice.yml", "dev"), store)
    [row] = dev.pipelines()
    assert row.last_run is not None and (row.last_run.id, row.last_run.state_id) == (own, "dev:orders")
    assert row.last_finished == row.last_run
    [prod] = DashboardData(load_project(tmp_path / "sluice.yml", "prod"), store).pipelines()
    assert prod.last_run is not None and prod.last_run.id == others[-2]
    backfill = run("orders-backfill", "running")  # dev's own, under another state id
    run("prod:orders")
    [row] = dev.pipelines()
    assert row.last_run is not None and row.last_run.id == backfill and row.last_run.status == "running"
    assert row.last_finished is not None and row.last_finished.id == own
