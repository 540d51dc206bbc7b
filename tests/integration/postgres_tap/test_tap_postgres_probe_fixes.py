"""tap-postgres defects a probe found: parallel key ranges read one snapshot; LOG_BASED changes carry
generated columns, survive renames and retypes (or fail in one line); json keys and NaN keys make
bookmarks the next run reads; a json value's raw tab is no NaN."""

from __future__ import annotations

import json
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from protocol import KeyRange
from taps.postgres.client import Source
from taps.postgres.discovery import load_tables
from taps.postgres.parallel import RangeReads, range_where
from taps.postgres.streams import StreamPlan, build_copy
from tests.conftest import exe, run
from tests.integration.postgres_tap.conftest import Src, last_state, messages, records, tap


def _run(config: Path, catalog: Path, state: dict[str, Any], tmp: Path) -> Any:
    path = tmp / f"state-{uuid.uuid4().hex[:6]}.json"
    path.write_text(json.dumps(state))
    return run([exe("tap-postgres"), "--config", str(config), "--catalog", str(catalog), "--state", str(path)])


def _log_based(src: Src, setup: str) -> tuple[Path, dict[str, Any]]:
    """Table ``t`` (created by ``setup``) as a LOG_BASED stream after its snapshot: config, state."""
    src.sql(setup)
    config = src.config()
    catalog = src.catalog(config, {"public-t": {"replication-method": "LOG_BASED"}})
    return config, last_state(tap(config, catalog))


# 4: FULL_TABLE key ranges


def test_key_range_readers_share_one_snapshot_so_a_row_moving_between_ranges_is_read(src: Src) -> None:
    src.sql("CREATE TABLE t (id int PRIMARY KEY, uid int UNIQUE); "
            "INSERT INTO t SELECT g, g FROM generate_series(1, 300) g")
    config = {"sqlalchemy_url": src.dsn}
    with Source(config) as source:
        [table] = load_tables(source, ["public"])
    plan = StreamPlan("t", table, list(table.columns.values()), ["id"], "FULL_TABLE")
    key = table.columns["id"]
    parts = [KeyRange(after=None, upto=100), KeyRange(after=100, upto=200), KeyRange(after=200, upto=None)]
    queries = [build_copy(plan, where=range_where(key, part), order=[key]) for part in parts]

    def open_source() -> Source:
        if threading.current_thread().name.endswith("-2"):  # the last range's reader starts late...
            time.sleep(1.0)  # ... after the first range's reader has begun its read
            src.sql("UPDATE t SET id = -250 WHERE id = 250")  # the row moves into the first range
        return Source(config)

    uids = []
    for _, rows, _, _ in RangeReads(open_source, queries, "reading t").batches():
        uids += [json.loads(line)["uid"] for line in rows.splitlines()]
    assert sorted(uids) == list(range(1, 301))  # one snapshot: the row once, at the key it had


# 1: generated columns


def test_log_based_changes_carry_stored_generated_columns(src: Src) -> None:
    config, state = _log_based(src, "CREATE TABLE t (id int PRIMARY KEY, price numeric, qty int, total numeric "
                                    "GENERATED ALWAYS AS (price * qty) STORED); INSERT INTO t VALUES (1, 2.5, 4)")
    catalog = src.catalog(config, {"public-t": {"replication-method": "LOG_BASED"}})
    src.sql("UPDATE t SET qty = 5 WHERE id = 1; INSERT INTO t VALUES (2, 10, 3)")
    changes = records(tap(config, catalog, state, src.tmp))
    assert [(r["id"], r["total"]) for r in changes] == [(1, Decimal("12.5")), (2, 30)]  # never sent: read


# 2: renames


def test_a_column_renamed_after_a_change_keeps_its_value_in_that_change(src: Src) -> None:
    config, state = _log_based(src, "CREATE TABLE t (id int PRIMARY KEY, v text, x int); "
                                    "INSERT INTO t VALUES (1, 'a', 1), (2, 'b', 2)")
    src.sql("UPDATE t SET v = 'a2', x = 10 WHERE id = 1; INSERT INTO t VALUES (3, 'c', 3)")
    # renamed, and a new column takes the old name: the logged 'v' is the column now named 'w'
    src.sql("ALTER TABLE t RENAME COLUMN v TO w; ALTER TABLE t ADD COLUMN v text DEFAULT 'new'")
    catalog = src.catalog(config, {"public-t": {"replication-method": "LOG_BASED"}})
    changes = records(tap(config, catalog, state, src.tmp))
    assert [(r["id"], r["w"], r["x"], r["v"]) for r in changes] == [(1, "a2", 10, "new"), (3, "c", 3, "new")]


def test_a_change_whose_columns_cannot_be_matched_fails_in_one_line(src: Src) -> None:
    config, state = _log_based(src, "CREATE TABLE t (id int PRIMARY KEY, v text, x int); "
                                    "INSERT INTO t VALUES (1, 'a', 1)")
    src.sql("UPDATE t SET v = 'a2' WHERE id = 1")
    src.sql("ALTER TABLE t DROP COLUMN x; ALTER TABLE t RENAME COLUMN v TO w")  # renamed and dropped: ambiguous
    catalog = src.catalog(config, {"public-t": {"replication-method": "LOG_BASED"}})
    done = _run(config, catalog, state, src.tmp)
    assert done.returncode == 1
    assert not records(messages(done.stdout))  # never a record without its 'w'
    err = done.stderr.decode()
    assert "stream 'public-t'" in err and "take a new snapshot" in err and "Traceback" not in err


# 3: type changes


def test_a_change_logged_before_an_incompatible_type_change_fails_naming_stream_and_column(src: Src) -> None:
    config, state = _log_based(src, "CREATE TABLE t (id int PRIMARY KEY, flag bool); INSERT INTO t VALUES (1, true)")
    catalog = src.catalog(config, {"public-t": {"replication-method": "LOG_BASED"}})
    src.sql("UPDATE t SET flag = false WHERE id = 1; ALTER TABLE t ALTER COLUMN flag TYPE int USING flag::int")
    done = _run(config, catalog, state, src.tmp)
    assert done.returncode == 1
    out = messages(done.stdout)
    assert not records(out) and all(m["value"] == state for m in out if m["type"] == "STATE")
    errors = [line for line in done.stderr.decode().splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "stream 'public-t': column 'flag'" in errors[0] and "new snapshot" in errors[0]


def test_timestamps_logged_before_a_timestamp_type_change_are_converted_as_logged(src: Src) -> None:
    config, state = _log_based(src, "CREATE TABLE t (id int PRIMARY KEY, a timestamptz, b timestamp)")
    catalog = src.catalog(config, {"public-t": {"replication-method": "LOG_BASED"}})
    src.sql("INSERT INTO t VALUES (2, '2024-06-01 12:00:00+00', '2024-06-01 12:00:00')")
    src.sql("ALTER TABLE t ALTER COLUMN a TYPE timestamp, ALTER COLUMN b TYPE timestamptz")
    src.sql("INSERT INTO t VALUES (3, '2024-06-01 12:00:00', '2024-06-01 12:00:00+00')")
    changes = records(tap(config, catalog, state, src.tmp))
    assert [(r["a"], r["b"]) for r in changes] == [("2024-06-01T12:00:00+00:00", "2024-06-01T12:00:00+00:00")] * 2


# 5: json keys


def test_jsonb_replication_and_primary_keys_read_their_own_bookmarks_back(src: Src) -> None:
    src.sql("""CREATE TABLE inc (id int PRIMARY KEY, k jsonb); INSERT INTO inc VALUES (1, '{"a": 1}'), (2, '"s"'),
               (3, '{"a": 2}'); CREATE TABLE pk (k jsonb PRIMARY KEY, v int);
               INSERT INTO pk SELECT jsonb_build_object('a', g), g FROM generate_series(1, 300) g""")
    config = src.config(max_parallel_reads=1)
    catalog = src.catalog(config, {"public-inc": {"replication-method": "INCREMENTAL", "replication-key": "k"}})
    first = last_state(tap(config, catalog))
    assert first["bookmarks"]["public-inc"]["replication_key_value"] == {"a": 2}
    src.sql("""INSERT INTO inc VALUES (4, '{"a": 3}'), (5, '{"a": 0}')""")
    assert [r["id"] for r in records(tap(config, catalog, first, src.tmp))] == [3, 4]
    catalog = src.catalog(config, {"public-pk": {"replication-method": "FULL_TABLE"}})
    resumed = tap(config, catalog, {"bookmarks": {"public-pk": {"version": 1, "last_pk_fetched": {"k": {"a": 150}}}}},
                  src.tmp)
    assert [r["v"] for r in records(resumed)] == list(range(151, 301))


# 6: NaN and Infinity keys


def test_incremental_bookmarks_advance_to_nan_and_infinity(src: Src) -> None:
    src.sql("CREATE TABLE f (id int PRIMARY KEY, k float8); INSERT INTO f VALUES (1, 1.5), (2, 'NaN'), (3, 2.5);"
            "CREATE TABLE n (id int PRIMARY KEY, k numeric); INSERT INTO n VALUES (1, 1.5), (2, 'Infinity')")
    config = src.config()
    catalog = src.catalog(config, {"public-f": {"replication-method": "INCREMENTAL", "replication-key": "k"},
                                   "public-n": {"replication-method": "INCREMENTAL", "replication-key": "k"}})
    first = tap(config, catalog)
    assert len(records(first)) == 5
    state = last_state(first)
    assert [state["bookmarks"][s]["replication_key_value"] for s in ("public-f", "public-n")] == ["NaN", "Infinity"]
    second = tap(config, catalog, state, src.tmp)
    # at or after the bookmark: the rows holding it again (as for any value), none before it
    assert [(m["stream"], m["record"]["id"]) for m in second if m["type"] == "RECORD"] == [("public-f", 2),
                                                                                          ("public-n", 2)]
    assert last_state(second) == state


# 7: a json value's raw tab


@pytest.mark.parametrize("method", ["FULL_TABLE", "LOG_BASED"])
def test_a_raw_tab_in_a_json_value_is_no_nan(src: Src, method: str) -> None:
    src.sql("""CREATE TABLE t (id int PRIMARY KEY, j json); INSERT INTO t VALUES (1, E'{"x":null\\t, "y":1}')""")
    config = src.config()
    catalog = src.catalog(config, {"public-t": {"replication-method": method}})
    done = run([exe("tap-postgres"), "--config", str(config), "--catalog", str(catalog)])
    assert done.returncode == 0, done.stderr.decode()
    assert [r["j"] for r in records(messages(done.stdout))] == [{"x": None, "y": 1}]
    assert "NaN" not in done.stderr.decode()
