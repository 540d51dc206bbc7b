"""LOG_BASED: snapshot then changes, one slot for many tables, the slot advancing only to stored state,
and runs through `sluice` into target-postgres with a kill -9 between runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import psycopg
import yaml

from tests.conftest import exe, run
from tests.integration.postgres_tap.conftest import Src, last_state, messages, records, tap, tap_killed_at


def _changes(recs: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(r["id"], r.get("v"), r["_sdc_deleted_at"] is not None) for r in recs]


def test_changes_follow_the_snapshot_and_the_slot_advances_only_to_the_state_given_back(src: Src) -> None:
    src.sql("CREATE TABLE a (id int PRIMARY KEY, v text); CREATE TABLE b (id int PRIMARY KEY, v text)")
    src.sql("INSERT INTO a VALUES (1, 'one'), (2, 'two'), (3, 'three'); INSERT INTO b VALUES (1, 'x'), (2, 'y')")
    config = src.config()
    catalog = src.catalog(config, {"public-a": {"replication-method": "LOG_BASED"},
                                   "public-b": {"replication-method": "LOG_BASED"}})
    first = tap(config, catalog)
    assert [r["id"] for r in records(first, "public-a")] == [1, 2, 3]
    assert [r["id"] for r in records(first, "public-b")] == [1, 2]
    assert sorted(m["stream"] for m in first if m["type"] == "ACTIVATE_VERSION") == ["public-a", "public-b"]
    s1 = last_state(first)
    lsn1 = s1["bookmarks"]["public-a"]["lsn"]
    assert s1["bookmarks"]["public-b"]["lsn"] == lsn1
    slots = src.sql("SELECT slot_name, plugin FROM pg_replication_slots WHERE database = current_database()")
    assert slots == [(src.slot, "pgoutput")]  # many tables, one slot

    src.sql("INSERT INTO a VALUES (4, 'four'); UPDATE a SET v = 'uno' WHERE id = 1; DELETE FROM a WHERE id = 2")
    src.sql("UPDATE b SET id = 20 WHERE id = 2")  # a key change: the old key is deleted
    second = tap(config, catalog, s1, src.tmp)
    assert _changes(records(second, "public-a")) == [(4, "four", False), (1, "uno", False), (2, None, True)]
    assert _changes(records(second, "public-b")) == [(2, None, True), (20, "y", False)]
    assert not [m for m in second if m["type"] == "ACTIVATE_VERSION"]
    deleted = records(second, "public-a")[2]
    assert deleted["_sdc_deleted_at"].endswith("+00:00") and isinstance(deleted["_sdc_lsn"], int)
    s2 = last_state(second)
    assert s2["bookmarks"]["public-a"]["lsn"] > lsn1
    assert src.slot_position() == lsn1  # advanced to the state it was given, not to what it read

    # the runner never stored s2 (the run died before the target committed): nothing is lost
    again = tap(config, catalog, s1, src.tmp)
    assert records(again) == records(second)
    assert src.slot_position() == lsn1

    third = tap(config, catalog, s2, src.tmp)
    assert records(third) == []
    assert src.slot_position() == s2["bookmarks"]["public-a"]["lsn"]  # the WAL before it may be recycled


def _record_counts(stderr: bytes) -> dict[str, int]:
    """The record_count METRICs of a run added up per stream (each is an increment)."""
    counts: dict[str, int] = {}
    for line in stderr.decode().splitlines():
        if "METRIC: " in line:
            metric = json.loads(line.split("METRIC: ", 1)[1])
            if metric["metric"] == "record_count":
                stream = metric["tags"]["stream"]
                counts[stream] = counts.get(stream, 0) + metric["value"]
    return counts


def test_changes_are_counted_in_record_count_metrics(src: Src) -> None:
    """A runner's summary adds up record_count: the changes read from the slot count, per stream, as the
    snapshot's rows do (a key change is two records: the old key deleted, the new row)."""
    src.sql("CREATE TABLE a (id int PRIMARY KEY, v text); CREATE TABLE b (id int PRIMARY KEY, v text)")
    src.sql("INSERT INTO a VALUES (1, 'one'), (2, 'two'); INSERT INTO b VALUES (1, 'x')")
    config = src.config()
    catalog = src.catalog(config, {"public-a": {"replication-method": "LOG_BASED"},
                                   "public-b": {"replication-method": "LOG_BASED"}})
    args = [exe("tap-postgres"), "--config", str(config), "--catalog", str(catalog)]
    first = run(args)
    assert first.returncode == 0, first.stderr.decode()
    assert _record_counts(first.stderr) == {"public-a": 2, "public-b": 1}
    state = src.tmp / "state-counts.json"
    state.write_text(json.dumps(last_state(messages(first.stdout))))
    src.sql("INSERT INTO a SELECT g, 'n' FROM generate_series(3, 1502) g; UPDATE a SET v = 'uno' WHERE id = 1")
    src.sql("UPDATE b SET id = 10 WHERE id = 1")
    second = run([*args, "--state", str(state)])
    assert second.returncode == 0, second.stderr.decode()
    out = messages(second.stdout)
    assert len(records(out, "public-a")) == 1501 and len(records(out, "public-b")) == 2
    assert _record_counts(second.stderr) == {"public-a": 1501, "public-b": 2}


def test_a_truncate_makes_the_next_run_take_a_new_snapshot(src: Src) -> None:
    src.sql("CREATE TABLE a (id int PRIMARY KEY, v text); INSERT INTO a VALUES (1, 'one'), (2, 'two')")
    config = src.config()
    catalog = src.catalog(config, {"public-a": {"replication-method": "LOG_BASED"}})
    state = last_state(tap(config, catalog))
    src.sql("TRUNCATE a; INSERT INTO a VALUES (3, 'three')")
    after = tap(config, catalog, state, src.tmp)
    assert "snapshot_done" not in last_state(after)["bookmarks"]["public-a"]
    snapshot = tap(config, catalog, last_state(after), src.tmp)
    assert [r["id"] for r in records(snapshot)] == [3]  # the new snapshot; the TRUNCATE is not read again
    assert [m["stream"] for m in snapshot if m["type"] == "ACTIVATE_VERSION"] == ["public-a"]
    settled = tap(config, catalog, last_state(snapshot), src.tmp)
    assert records(settled) == [] and last_state(settled)["bookmarks"]["public-a"]["snapshot_done"] is True


def test_log_based_without_logical_prerequisites_is_one_line(src: Src) -> None:
    src.sql("CREATE VIEW v AS SELECT 1 AS id")
    config = src.config()
    catalog = src.catalog(config, {"public-v": {"replication-method": "LOG_BASED"}})
    done = run([exe("tap-postgres"), "--config", str(config), "--catalog", str(catalog)])
    assert done.returncode == 2 and done.stdout == b""
    errors = [ln for ln in done.stderr.decode().splitlines() if "ERROR" in ln]
    assert len(errors) == 1 and "public-v" in errors[0] and "LOG_BASED needs a table with a primary key" in errors[0]


# -- through the runner, into target-postgres ------------------------------------------------------


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _sluice(project: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    done = subprocess.run([exe("sluice"), *args], cwd=project, env=env, capture_output=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr.decode()
    return done


def _assert_target_matches_source(src: Src, deleted: set[int]) -> None:
    source = dict(src.sql("SELECT id, v FROM public.items"))
    loaded = {row[0]: row[1:] for row in src.sql("SELECT id, v, _sdc_deleted_at IS NOT NULL FROM dst.items")}
    live = {k: v for k, (v, gone) in loaded.items() if not gone}
    assert live == source  # every change landed, once per key
    assert {k for k, (_, gone) in loaded.items() if gone} == deleted - set(source)


def _kill_9_once_loading(project: Path, src: Src) -> int:
    """Start ``sluice run cdc``; once the target has committed rows of the new batch (ids over 150),
    SIGKILL the runner, the tap and the target. Returns how many of those rows had landed then."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    proc = subprocess.Popen([exe("sluice"), "run", "cdc"], cwd=project, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if src.sql("SELECT count(*) FROM dst.items WHERE id > 150")[0][0]:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it was killed"
    for pid in [proc.pid, *_descendants(proc.pid)]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()
    return int(src.sql("SELECT count(*) FROM dst.items WHERE id > 150")[0][0])


def test_cdc_runs_through_sluice_with_a_kill_9_between_runs(src: Src) -> None:
    src.sql("CREATE TABLE items (id int PRIMARY KEY, v text)")
    src.sql("INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 100) g")
    src.sql("CREATE TABLE refs (id int PRIMARY KEY, v text)")  # full table, versioned, in the same runs
    src.sql("INSERT INTO refs SELECT g, 'r' || g FROM generate_series(1, 20) g")
    config = src.config()
    catalog = src.catalog(config, {"public-items": {"replication-method": "LOG_BASED"},
                                   "public-refs": {"replication-method": "FULL_TABLE"}})
    project = src.tmp / "project"
    project.mkdir()
    (project / "sluice.yml").write_text(yaml.safe_dump({
        "connectors": [
            {"name": "tap-postgres", "executable": "tap-postgres", "config": json.loads(config.read_text()),
             "catalog": str(catalog)},
            {"name": "target-postgres", "executable": "target-postgres",
             "config": {"sqlalchemy_url": src.dsn, "default_target_schema": "dst", "batch_size_rows": 2000}},
        ],
        "pipelines": [{"name": "cdc", "tap": "tap-postgres", "target": "target-postgres"}],
    }))
    deleted: set[int] = set()
    _sluice(project, "run", "cdc")
    _assert_target_matches_source(src, deleted)

    src.sql("DELETE FROM refs WHERE id > 15; UPDATE refs SET v = 'changed' WHERE id = 1")
    src.sql("INSERT INTO items SELECT g, 'w' || g FROM generate_series(101, 150) g")
    src.sql("UPDATE items SET v = v || '!' WHERE id % 7 = 0; DELETE FROM items WHERE id % 10 = 0")
    deleted |= {i for i in range(1, 151) if i % 10 == 0}
    _sluice(project, "run", "cdc")
    _assert_target_matches_source(src, deleted)
    # ACTIVATE_VERSION: rows deleted at the source are marked deleted in the target
    refs = dict(src.sql("SELECT id, _sdc_deleted_at IS NOT NULL FROM dst.refs"))
    assert refs == {i: i > 15 for i in range(1, 21)}
    assert src.sql("SELECT v FROM dst.refs WHERE id = 1") == [("changed",)]

    # a big batch of changes in four transactions, and the run carrying them is killed -9 (runner, tap and
    # target) once the target has committed part of it. The target commits only at a STATE, and the tap
    # writes one at the first commit past 10,000 changes: after the first 15,000 inserts. The next
    # transaction updates a row held locked here, so the load stalls before its next commit: the kill
    # lands on a partial load whatever the machine's speed
    src.sql("INSERT INTO items SELECT g, 'x' || g FROM generate_series(151, 15150) g")
    src.sql("UPDATE items SET v = 'u' || id WHERE id % 3 = 0")
    src.sql("INSERT INTO items SELECT g, 'x' || g FROM generate_series(15151, 30150) g")
    src.sql("DELETE FROM items WHERE id % 11 = 0")
    deleted |= {i for i in range(1, 30151) if i % 11 == 0}
    with psycopg.connect(src.dsn) as blocker:
        blocker.execute("SELECT 1 FROM dst.items WHERE id = 3 FOR UPDATE")
        landed = _kill_9_once_loading(project, src)
        blocker.rollback()
    assert 0 < landed < 30000 and src.sql("SELECT v FROM dst.items WHERE id = 3") == [("v3",)]  # partial
    src.sql("UPDATE items SET v = 'z' || id WHERE id % 5 = 0; DELETE FROM items WHERE id BETWEEN 200 AND 210")
    deleted |= set(range(200, 211))
    _sluice(project, "run", "cdc")
    _assert_target_matches_source(src, deleted)
    _sluice(project, "run", "cdc")  # nothing new: still exact
    _assert_target_matches_source(src, deleted)


def test_unchanged_toasted_values_are_never_sent_as_null(src: Src) -> None:
    big = "SELECT string_agg(md5(g::text), '') FROM generate_series(1, 400) g"  # 12.8 kB, stored out of line
    src.sql(f"CREATE TABLE docs (id int PRIMARY KEY, n int, body text); INSERT INTO docs VALUES (1, 0, ({big}))")
    src.sql(f"CREATE TABLE full_docs (id int PRIMARY KEY, n int, body text); INSERT INTO full_docs VALUES "
            f"(1, 0, ({big})); ALTER TABLE full_docs REPLICA IDENTITY FULL")
    config = src.config()
    catalog = src.catalog(config, {"public-docs": {"replication-method": "LOG_BASED"},
                                   "public-full_docs": {"replication-method": "LOG_BASED"}})
    state = last_state(tap(config, catalog))
    src.sql("UPDATE docs SET n = 1; UPDATE full_docs SET n = 1")
    src.sql("INSERT INTO docs SELECT 2, 0, body FROM docs; UPDATE docs SET n = 2 WHERE id = 2; "
            "DELETE FROM docs WHERE id = 2")
    changes = tap(config, catalog, state, src.tmp)
    body = src.sql(big)[0][0]
    plain = records(changes, "public-docs")
    assert [(r["id"], r.get("n"), r.get("body") == body) for r in plain] == [
        (1, 1, True),  # not sent by PostgreSQL: read from the table
        (2, 0, True), (2, 2, False), (2, None, False)]  # deleted since: nothing to read, the field is left out
    assert "body" not in plain[2] and plain[3]["_sdc_deleted_at"] is not None
    [full] = records(changes, "public-full_docs")
    assert full["n"] == 1 and full["body"] == body  # REPLICA IDENTITY FULL: the old row supplies it


def test_an_interrupted_snapshot_resumes_and_no_change_made_meanwhile_is_lost(src: Src) -> None:
    src.sql("CREATE TABLE s (id int PRIMARY KEY, v text)")
    src.sql("INSERT INTO s SELECT g, 'v' || g FROM generate_series(1, 50000) g")
    config = src.config(max_parallel_reads=1)
    catalog = src.catalog(config, {"public-s": {"replication-method": "LOG_BASED"}})
    seen, state = tap_killed_at(["--config", str(config), "--catalog", str(catalog)],
                                lambda value: "last_pk_fetched" in value["bookmarks"].get("public-s", {}))
    emitted = records(seen)
    assert state is not None and "lsn" in state["bookmarks"]["public-s"]
    # changes on both sides of the interruption point, made while no run is active
    src.sql("UPDATE s SET v = 'early' WHERE id IN (1, 2); UPDATE s SET v = 'late' WHERE id IN (49999, 50000)")
    src.sql("DELETE FROM s WHERE id IN (3, 49998); INSERT INTO s VALUES (60000, 'new')")
    resumed = tap(config, catalog, state, src.tmp)
    emitted += records(resumed)
    final: dict[int, Any] = {}
    for record in emitted:  # what an upserting target ends with
        final[record["id"]] = None if record.get("_sdc_deleted_at") else record["v"]
    assert {k: v for k, v in final.items() if v is not None} == dict(src.sql("SELECT id, v FROM s"))
    assert final[3] is None and final[49998] is None
    assert last_state(resumed)["bookmarks"]["public-s"]["snapshot_done"] is True


def test_a_partitioned_table_is_one_stream_in_both_paths(src: Src) -> None:
    src.sql("CREATE TABLE m (id int, at date, v text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)")
    src.sql("CREATE TABLE m_2023 PARTITION OF m FOR VALUES FROM ('2023-01-01') TO ('2024-01-01')")
    src.sql("CREATE TABLE m_2024 PARTITION OF m FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')")
    src.sql("INSERT INTO m VALUES (1, '2023-05-01', 'a'), (2, '2024-05-01', 'b')")
    config = src.config()
    done = run([exe("tap-postgres"), "--config", str(config), "--discover"])
    assert [s["tap_stream_id"] for s in json.loads(done.stdout)["streams"]] == ["public-m"]  # no partitions
    catalog = src.catalog(config, {"public-m": {"replication-method": "LOG_BASED"}})
    first = tap(config, catalog)
    assert [r["id"] for r in records(first)] == [1, 2]
    src.sql("INSERT INTO m VALUES (3, '2023-06-01', 'c'), (4, '2024-06-01', 'd'); DELETE FROM m WHERE id = 1")
    second = tap(config, catalog, last_state(first), src.tmp)
    assert _changes(records(second, "public-m")) == [(3, "c", False), (4, "d", False), (1, None, True)]


def test_the_slot_advances_to_the_oldest_bookmark_when_streams_run_on_alternate_runs(src: Src) -> None:
    src.sql("CREATE TABLE a (id int PRIMARY KEY, v text); CREATE TABLE b (id int PRIMARY KEY, v text)")
    src.sql("INSERT INTO a VALUES (1, 'one'); INSERT INTO b VALUES (1, 'uno')")
    config = src.config()
    both = src.catalog(config, {"public-a": {"replication-method": "LOG_BASED"},
                                "public-b": {"replication-method": "LOG_BASED"}})
    only_a = src.catalog(config, {"public-a": {"replication-method": "LOG_BASED"}})
    only_b = src.catalog(config, {"public-b": {"replication-method": "LOG_BASED"}})
    s1 = last_state(tap(config, both))
    src.sql("INSERT INTO a VALUES (2, 'two'); INSERT INTO b VALUES (2, 'dos'); DELETE FROM b WHERE id = 1")
    run_a = tap(config, only_a, s1, src.tmp)  # b is not selected: its bookmark stays behind
    assert _changes(records(run_a)) == [(2, "two", False)]
    s2 = last_state(run_a)
    lsn_a, lsn_b = s2["bookmarks"]["public-a"]["lsn"], s2["bookmarks"]["public-b"]["lsn"]
    assert lsn_b == s1["bookmarks"]["public-b"]["lsn"] < lsn_a
    src.sql("INSERT INTO a VALUES (3, 'three'); INSERT INTO b VALUES (3, 'tres')")
    run_b = tap(config, only_b, s2, src.tmp)
    # b's changes made before a's bookmark are still read: none is lost
    assert _changes(records(run_b)) == [(2, "dos", False), (1, None, True), (3, "tres", False)]
    assert src.slot_position() == lsn_b  # the oldest bookmark, never a newer one
    s3 = last_state(run_b)
    assert s3["bookmarks"]["public-a"]["lsn"] == lsn_a
    run_both = tap(config, both, s3, src.tmp)
    # a's change made before b's newer bookmark is read: the slot stayed at a's, now the oldest
    assert _changes(records(run_both, "public-a")) == [(3, "three", False)] and records(run_both, "public-b") == []
    assert src.slot_position() == lsn_a


def test_log_based_reads_a_table_without_key_with_replica_identity_full_and_refuses_others(src: Src) -> None:
    src.sql("CREATE TABLE nk (a int, b text); ALTER TABLE nk REPLICA IDENTITY FULL")
    src.sql("INSERT INTO nk VALUES (1, 'x'), (1, 'x'), (2, NULL)")
    config = src.config()
    catalog = src.catalog(config, {"public-nk": {"replication-method": "LOG_BASED"}})
    first = tap(config, catalog)
    assert sorted(((r["a"], r["b"]) for r in records(first)), key=str) == [(1, "x"), (1, "x"), (2, None)]
    src.sql("UPDATE nk SET b = 'y' WHERE a = 2; DELETE FROM nk WHERE ctid = (SELECT min(ctid) FROM nk WHERE a = 1)")
    src.sql("INSERT INTO nk VALUES (3, 'z')")
    changes = [(r["a"], r["b"], r["_sdc_deleted_at"] is not None)
               for r in records(tap(config, catalog, last_state(first), src.tmp))]
    assert changes == [(2, "y", False), (1, "x", True), (3, "z", False)]  # a delete carries the whole old row

    src.sql("CREATE TABLE plain (a int, b text); CREATE TABLE by_nothing (a int); "
            "ALTER TABLE by_nothing REPLICA IDENTITY NOTHING")
    for name in ("plain", "by_nothing"):
        refused = src.catalog(config, {f"public-{name}": {"replication-method": "LOG_BASED"}})
        done = run([exe("tap-postgres"), "--config", str(config), "--catalog", str(refused)])
        assert done.returncode == 2 and done.stdout == b""
        errors = [ln for ln in done.stderr.decode().splitlines() if "ERROR" in ln]
        assert len(errors) == 1 and f"public-{name}" in errors[0], errors
        assert "LOG_BASED needs a table with a primary key or REPLICA IDENTITY FULL" in errors[0]
        assert f"ALTER TABLE public.{name} REPLICA IDENTITY FULL" in errors[0]
    publication = src.sql("SELECT tablename FROM pg_publication_tables WHERE pubname = %s", [src.slot])
    assert publication == [("nk",)]  # a refused table is never added (its updates would fail at the source)
