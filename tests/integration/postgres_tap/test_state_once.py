"""tap-postgres writes each STATE once: no STATE line repeats the one before it, the final one included."""

from __future__ import annotations

from typing import Any

import orjson

from tests.integration.postgres_tap.conftest import Src, last_state, records, tap


def state_lines(msgs: list[dict[str, Any]]) -> list[bytes]:
    return [orjson.dumps(m["value"], option=orjson.OPT_SORT_KEYS) for m in msgs if m["type"] == "STATE"]


def assert_each_state_once(msgs: list[dict[str, Any]]) -> None:
    states = state_lines(msgs)
    assert states, "no STATE emitted"
    repeats = [i for i in range(1, len(states)) if states[i] == states[i - 1]]
    assert not repeats, f"STATE {repeats} repeat(s) the one before: {[orjson.loads(s) for s in states]}"
    assert msgs[-1]["type"] == "STATE"


def test_full_table_incremental_and_log_based_runs_write_each_state_once(src: Src) -> None:
    # 10,000 rows: a checkpoint falls exactly on the last row, where the end of the stream writes another
    src.sql("CREATE TABLE full_t (id int PRIMARY KEY, v text); CREATE TABLE inc (id int PRIMARY KEY, at int);"
            "CREATE TABLE cdc (id int PRIMARY KEY, v text)")
    src.sql("INSERT INTO full_t SELECT g, g::text FROM generate_series(1, 10000) g;"
            "INSERT INTO inc SELECT g, g FROM generate_series(1, 10000) g; INSERT INTO cdc VALUES (1, 'a')")
    config = src.config()
    msgs = tap(config, src.catalog(config, {"public-full_t": {"replication-method": "FULL_TABLE"}}))
    assert len(records(msgs)) == 10000
    assert_each_state_once(msgs)
    catalog = src.catalog(config, {"public-inc": {"replication-method": "INCREMENTAL", "replication-key": "at"}})
    first = tap(config, catalog)
    assert len(records(first)) == 10000
    assert_each_state_once(first)
    again = tap(config, catalog, last_state(first), src.tmp)  # only the row at the bookmark again
    assert [r["id"] for r in records(again)] == [10000]
    assert_each_state_once(again)
    catalog = src.catalog(config, {"public-cdc": {"replication-method": "LOG_BASED"}})
    snapshot = tap(config, catalog)
    assert_each_state_once(snapshot)
    src.sql("INSERT INTO cdc VALUES (2, 'b')")
    changes = tap(config, catalog, last_state(snapshot), src.tmp)
    assert [r["id"] for r in records(changes)] == [2]
    assert_each_state_once(changes)


def test_a_keyless_full_table_read_writes_no_state_among_its_rows(src: Src) -> None:
    # without a key the read cannot resume mid-table: its checkpoints carry the value written before
    # the first row, and a target committing rows under one would get them twice after a kill
    src.sql("CREATE TABLE nokey (n int); INSERT INTO nokey SELECT g % 10 FROM generate_series(1, 25000) g")
    config = src.config()
    msgs = tap(config, src.catalog(config, {"public-nokey": {"replication-method": "FULL_TABLE"}}))
    assert len(records(msgs)) == 25000
    kinds = [m["type"] for m in msgs]
    first, last = kinds.index("RECORD"), len(kinds) - 1 - kinds[::-1].index("RECORD")
    assert "STATE" not in kinds[first:last]
    assert kinds[last + 1:] == ["ACTIVATE_VERSION", "STATE"]
    assert_each_state_once(msgs)
