"""tap-postgres against the real server: discovery, FULL_TABLE (resume, versions), INCREMENTAL, --test."""

from __future__ import annotations

import json
from decimal import Decimal
from itertools import pairwise
from typing import Any

from tests.conftest import exe, run
from tests.integration.postgres_tap.conftest import Src, last_state, messages, records, tap, tap_killed_at


def test_discovery_types_keys_views_and_schema_filter(src: Src) -> None:
    src.sql("""
        CREATE TYPE mood AS ENUM ('sad', 'happy');
        CREATE TABLE t (id int PRIMARY KEY, n numeric(20,4), ts timestamptz, d date, u uuid, j jsonb,
                        a int[], b bytea, m mood, s text NOT NULL);
        CREATE TABLE pair (a int, b text, PRIMARY KEY (b, a));
        CREATE VIEW v AS SELECT id, s FROM t;
        CREATE SCHEMA other; CREATE TABLE other.hidden (id int);
    """)
    done = run([exe("tap-postgres"), "--config", str(src.config()), "--discover"])
    assert done.returncode == 0, done.stderr.decode()
    streams = {s["tap_stream_id"]: s for s in json.loads(done.stdout)["streams"]}
    assert set(streams) == {"public-t", "public-pair", "public-v"}  # filter_schemas: public only
    props = streams["public-t"]["schema"]["properties"]
    assert props["id"] == {"type": "integer"}
    assert props["n"] == {"type": ["null", "number"]}
    # RFC 3339, or PostgreSQL's text of what RFC 3339 cannot hold (infinity, BC, years past 9999)
    assert props["ts"]["anyOf"][0] == {"type": "string", "format": "date-time"}
    assert props["ts"]["anyOf"][1]["pattern"].startswith("^(-?infinity|") and props["ts"]["anyOf"][2] == {
        "type": "null"}
    assert props["d"]["anyOf"][0] == {"type": "string", "format": "date"} and props["u"]["format"] == "uuid"
    assert props["j"] == {"type": ["null", "object", "array", "string", "number", "boolean"]}
    # an int[] column holds arrays of any dimension: its items are integers or arrays
    assert props["a"] == {"type": ["null", "array"], "items": {"type": ["null", "integer", "array"]}}
    assert props["b"]["contentEncoding"] == "base16"
    assert props["m"]["enum"] == ["sad", "happy", None]
    assert props["s"] == {"type": "string"}
    assert streams["public-t"]["key_properties"] == ["id"]
    assert streams["public-pair"]["key_properties"] == ["b", "a"]
    root = {(m["breadcrumb"] and "x") or "": m["metadata"] for m in streams["public-v"]["metadata"]}[""]
    assert root["is-view"] is True and root["table-key-properties"] == []


def test_full_table_exact_values_and_activate_version(src: Src) -> None:
    src.sql("CREATE TABLE t (id int PRIMARY KEY, n numeric(40,20), tt timestamp, b bytea)")
    src.sql("INSERT INTO t VALUES (1, 12345678901234567890.12345678901234567890, '2024-02-29 23:59:59.5', "
            "'\\x00ff'), (2, NULL, NULL, NULL)")
    msgs = tap(src.config())
    recs = records(msgs, "public-t")
    assert recs[0]["n"] == Decimal("12345678901234567890.12345678901234567890")
    assert recs[0]["tt"] == "2024-02-29T23:59:59.5+00:00" and recs[0]["b"] == "00ff"
    assert recs[1] == {"id": 2, "n": None, "tt": None, "b": None}
    versions = {m["version"] for m in msgs if m["type"] == "RECORD"}
    activate = [m for m in msgs if m["type"] == "ACTIVATE_VERSION"]
    assert len(versions) == 1 and [a["version"] for a in activate] == list(versions)
    assert msgs.index(activate[0]) > max(i for i, m in enumerate(msgs) if m["type"] == "RECORD")
    assert last_state(msgs)["bookmarks"]["public-t"] == {}  # finished: nothing to resume


def test_full_table_resumes_after_the_last_key_of_a_killed_run(src: Src) -> None:
    src.sql("CREATE TABLE big (id int PRIMARY KEY, v text)")
    src.sql("INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, 60000) g")
    config = src.config()
    # the tap is killed after its first STATE holding a key
    seen, state = tap_killed_at(["--config", str(config)],
                                lambda value: "last_pk_fetched" in value["bookmarks"].get("public-big", {}))
    assert state is not None
    before = [r["id"] for r in records(seen)]
    last = state["bookmarks"]["public-big"]["last_pk_fetched"]["id"]
    assert before == list(range(1, last + 1))
    resumed = tap(config, state=state, tmp=src.tmp)
    after = [r["id"] for r in records(resumed)]
    assert after == list(range(last + 1, 60001))  # nothing lost, nothing repeated
    version = state["bookmarks"]["public-big"]["version"]
    assert {m["version"] for m in resumed if m["type"] == "RECORD"} == {version}
    assert [m["version"] for m in resumed if m["type"] == "ACTIVATE_VERSION"] == [version]


def test_incremental_reads_at_or_after_the_bookmark_in_key_order(src: Src) -> None:
    src.sql("CREATE TABLE ev (id int PRIMARY KEY, at timestamptz)")
    src.sql("INSERT INTO ev VALUES (1, '2024-01-03'), (2, '2024-01-01'), (3, NULL), (4, '2024-01-02')")
    config = src.config()
    catalog = src.catalog(config, {"public-ev": {"replication-method": "INCREMENTAL", "replication-key": "at"}})
    first = tap(config, catalog)
    assert [r["id"] for r in records(first)] == [3, 2, 4, 1]  # nulls first, then by key
    state = last_state(first)
    assert state["bookmarks"]["public-ev"] == {"replication_key": "at",
                                               "replication_key_value": "2024-01-03T00:00:00+00:00"}
    schema = next(m for m in first if m["type"] == "SCHEMA")
    assert schema["bookmark_properties"] == ["at"]
    src.sql("INSERT INTO ev VALUES (5, '2024-01-04'), (6, '2023-12-31')")
    second = tap(config, catalog, state, src.tmp)
    assert [r["id"] for r in records(second)] == [1, 5]  # >= the bookmark; the older row is not read
    assert last_state(second)["bookmarks"]["public-ev"]["replication_key_value"] == "2024-01-04T00:00:00+00:00"


def test_test_flag_reports_missing_privileges_in_one_line(src: Src) -> None:
    role = "tap_pg_" + src.slot[-8:]
    src.sql("CREATE TABLE open_t (id int); CREATE TABLE closed_t (id int)")
    src.sql(f"CREATE ROLE {role} LOGIN; GRANT SELECT ON open_t TO {role}")
    try:
        ok = run([exe("tap-postgres"), "--config", str(src.config()), "--test"])
        assert ok.returncode == 0, ok.stderr.decode()
        url = src.dsn.replace("postgres@", f"{role}@", 1)
        bad = run([exe("tap-postgres"), "--config", str(src.config(sqlalchemy_url=url)), "--test"])
        assert bad.returncode == 1
        lines = [ln for ln in bad.stderr.decode().splitlines() if "ERROR" in ln]
        assert len(lines) == 1 and f"user {role} lacks SELECT" in lines[0] and "closed_t" in lines[0], lines
        assert "open_t" not in lines[0]
        cdc = run([exe("tap-postgres"), "--config",
                   str(src.config(sqlalchemy_url=url, default_replication_method="LOG_BASED")), "--test"])
        assert cdc.returncode == 1 and "lacks the REPLICATION attribute" in cdc.stderr.decode()
    finally:
        src.sql(f"DROP OWNED BY {role}; DROP ROLE {role}")


def test_bad_password_and_unknown_database_are_one_fatal_line(src: Src) -> None:
    url = src.dsn.rsplit("/", 1)[0] + "/no_such_db_for_tap"
    done = run([exe("tap-postgres"), "--config", str(src.config(sqlalchemy_url=url)), "--discover"])
    assert done.returncode == 1 and done.stdout == b""
    errors = [ln for ln in done.stderr.decode().splitlines() if "ERROR" in ln]
    assert len(errors) == 1 and "cannot connect" in errors[0] and "no_such_db_for_tap" in errors[0]
    assert messages(done.stdout) == []


def test_large_table_is_read_in_key_ranges_at_once_and_resumes_every_range(src: Src) -> None:
    src.sql("CREATE TABLE wide (id bigint PRIMARY KEY, v text)")
    src.sql("INSERT INTO wide SELECT g, repeat(md5(g::text), 2) FROM generate_series(1, 100000) g")  # > 8 MB
    config = src.config(max_parallel_reads=3)

    def two_ranges_started(value: dict[str, Any]) -> bool:
        ranges = value["bookmarks"].get("public-wide", {}).get("key_ranges")
        return bool(ranges) and sum(r["last"] is not None for r in ranges) >= 2

    seen, state = tap_killed_at(["--config", str(config)], two_ranges_started)
    assert state is not None, "no STATE with key ranges"
    ranges = state["bookmarks"]["public-wide"]["key_ranges"]
    assert len(ranges) == 3 and ranges[0]["after"] is None and ranges[-1]["upto"] is None
    before = [r["id"] for r in records(seen)]
    resumed = tap(config, state=state, tmp=src.tmp)
    after = [r["id"] for r in records(resumed)]
    assert sorted(before + after) == list(range(1, 100001))  # every row once: nothing lost, nothing repeated
    version = state["bookmarks"]["public-wide"]["version"]
    assert [m["version"] for m in resumed if m["type"] == "ACTIVATE_VERSION"] == [version]
    assert last_state(resumed)["bookmarks"]["public-wide"] == {}
    # one connection: one range, in key order
    single = tap(src.config(max_parallel_reads=1))
    assert [r["id"] for r in records(single)] == list(range(1, 100001))


def test_nan_and_infinity_become_null_in_both_paths(src: Src) -> None:
    src.sql("CREATE TABLE f (id int PRIMARY KEY, n numeric, d float8)")
    src.sql("INSERT INTO f VALUES (1, 'NaN', 'NaN'), (2, 'Infinity', '-Infinity'), (3, 1.5, 2.5)")
    config = src.config()
    catalog = src.catalog(config, {"public-f": {"replication-method": "LOG_BASED"}})
    first = tap(config, catalog)
    assert [(r["n"], r["d"]) for r in records(first)] == [(None, None), (None, None), (Decimal("1.5"), 2.5)]
    src.sql("INSERT INTO f VALUES (4, '-Infinity', 'Infinity')")
    second = tap(config, catalog, last_state(first), src.tmp)
    assert [(r["id"], r["n"], r["d"]) for r in records(second)] == [(4, None, None)]


def test_an_error_in_the_middle_of_a_read_is_one_fatal_line(src: Src) -> None:
    # the view fails at its 3000th row, after blocks of rows were written: no ACTIVATE_VERSION,
    # no final STATE, and one line naming the table and the server's error
    src.sql("CREATE TABLE n (id int PRIMARY KEY)")
    src.sql("INSERT INTO n SELECT generate_series(1, 6000)")
    src.sql("CREATE VIEW bad AS SELECT id, 1 / (id - 3000) AS x FROM n")
    catalog = src.catalog(src.config(), {"public-bad": {"replication-method": "FULL_TABLE"}})
    done = run([exe("tap-postgres"), "--config", str(src.config()), "--catalog", str(catalog)])
    assert done.returncode == 1
    errors = [ln for ln in done.stderr.decode().splitlines() if "ERROR" in ln]
    assert len(errors) == 1 and "reading public.bad" in errors[0] and "division by zero" in errors[0], errors
    msgs = messages(done.stdout)
    assert 0 < len(records(msgs, "public-bad")) < 3000
    assert not [m for m in msgs if m["type"] == "ACTIVATE_VERSION"]


def _trailing_states(msgs: list[dict[str, Any]]) -> int:
    last_other = max((i for i, m in enumerate(msgs) if m["type"] != "STATE"), default=-1)
    return len(msgs) - 1 - last_other


def test_the_final_state_is_written_once_in_every_mode(src: Src) -> None:
    src.sql("CREATE TABLE a (id int PRIMARY KEY, at int); INSERT INTO a VALUES (1, 10), (2, 20)")
    src.sql("CREATE TABLE b (id int PRIMARY KEY, at int); INSERT INTO b VALUES (1, 10)")
    src.sql("CREATE TABLE c (id int PRIMARY KEY, at int); INSERT INTO c VALUES (1, 10)")
    config = src.config()
    modes = {"public-a": {"replication-method": "FULL_TABLE"},
             "public-b": {"replication-method": "INCREMENTAL", "replication-key": "at"},
             "public-c": {"replication-method": "LOG_BASED"}}
    catalogs = [src.catalog(config, {name: mode}) for name, mode in modes.items()] + [src.catalog(config, modes)]
    for catalog in catalogs:
        state = None
        for _ in range(2):  # a first run, then one from its state (incremental and log-based: nothing new)
            msgs = tap(config, catalog, state, src.tmp)
            assert _trailing_states(msgs) == 1, (catalog.read_text()[:80], [m["type"] for m in msgs])
            pairs = pairwise(msgs)
            assert not [a for a, b in pairs if a["type"] == b["type"] == "STATE" and a["value"] == b["value"]]
            state = last_state(msgs)
