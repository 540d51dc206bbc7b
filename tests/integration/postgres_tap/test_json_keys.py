"""A jsonb column as the key a read resumes from: a primary key (FULL_TABLE) or a replication key
(INCREMENTAL). With json_as_object, a number key is emitted wrapped (``{"value": 3}``), and the
bookmark was that wrapped document: jsonb sorts every object after every number, so the next read
(``k >= '{"value": 3}'``) skipped every row. A key holding the JSON document null was bookmarked as
null and compared as SQL NULL: a resumed read matched no row. Then ACTIVATE_VERSION told the target
to delete the rows never read."""

from __future__ import annotations

from typing import Any

from tests.integration.postgres_tap.conftest import Src, last_state, records, tap, tap_killed_at

ROWS = 10_005  # past the first checkpoint (every 10,000 records)


def test_an_incremental_read_by_a_jsonb_key_as_objects_resumes_after_its_bookmark(src: Src) -> None:
    src.sql("CREATE TABLE jinc (id int PRIMARY KEY, k jsonb)")
    src.sql("INSERT INTO jinc VALUES (1, '1'), (2, '2'), (3, '3')")
    config = src.config(json_as_object=True)
    catalog = src.catalog(config, {"public-jinc": {"replication-method": "INCREMENTAL", "replication-key": "k"}})
    first = tap(config, catalog)
    assert [r["k"] for r in records(first)] == [{"value": 1}, {"value": 2}, {"value": 3}]
    assert last_state(first)["bookmarks"]["public-jinc"]["replication_key_value"] == 3
    src.sql("INSERT INTO jinc VALUES (4, '4'), (5, '{\"value\": 0}')")  # an object: after every number
    again = tap(config, catalog, last_state(first), src.tmp)
    assert [r["id"] for r in records(again)] == [3, 4, 5]  # from the bookmark on, as any incremental read
    old = {"bookmarks": {"public-jinc": {"replication_key": "k", "replication_key_value": {"value": 3}}}}
    assert [r["id"] for r in records(tap(config, catalog, old, src.tmp))] == [3, 4, 5]  # as an earlier version wrote it


def _resumed_ids(src: Src, config: Any, catalog: Any, stream: str, key: str) -> tuple[Any, list[int]]:
    """Kill the read at its first checkpoint; the checkpoint's key, and the ids the resumed read emits."""
    seen, state = tap_killed_at(["--config", str(config), "--catalog", str(catalog)],
                                lambda value: "last_pk_fetched" in value["bookmarks"].get(stream, {}))
    assert state is not None, "no checkpoint"
    before = {r["id"] for r in records(seen)}
    after = [r["id"] for r in records(tap(config, catalog, state, src.tmp))]
    assert before | set(after) == set(range(1, ROWS + 1)), "rows lost between the two reads"
    return state["bookmarks"][stream]["last_pk_fetched"][key], after


def test_a_full_table_read_by_a_jsonb_primary_key_as_objects_resumes_after_its_checkpoint(src: Src) -> None:
    src.sql("CREATE TABLE jfull (k jsonb PRIMARY KEY, id int)")
    src.sql(f"INSERT INTO jfull SELECT to_jsonb(g), g FROM generate_series(1, {ROWS}) g")
    config = src.config(json_as_object=True, max_parallel_reads=1)
    catalog = src.catalog(config, {"public-jfull": {"replication-method": "FULL_TABLE"}})
    checkpoint, after = _resumed_ids(src, config, catalog, "public-jfull", "k")
    assert checkpoint == 10_000 and after == list(range(10_001, ROWS + 1))


def test_a_full_table_read_resumed_at_a_json_null_key_reads_the_rest(src: Src) -> None:
    src.sql("CREATE TABLE jn (a jsonb, b int, id int, PRIMARY KEY (a, b))")
    src.sql(f"INSERT INTO jn SELECT 'null'::jsonb, g, g FROM generate_series(1, {ROWS - 5}) g")
    src.sql(f"INSERT INTO jn SELECT '1'::jsonb, g, {ROWS - 5} + g FROM generate_series(1, 5) g")
    config = src.config(max_parallel_reads=1)
    catalog = src.catalog(config, {"public-jn": {"replication-method": "FULL_TABLE"}})
    checkpoint, after = _resumed_ids(src, config, catalog, "public-jn", "a")
    assert checkpoint is None and after == list(range(10_001, ROWS + 1))
    # a view's declared jsonb key resumed at null: the JSON null (first in key order) or SQL NULL (last)
    src.sql("CREATE VIEW jnv AS SELECT * FROM jn")
    view = src.catalog(config, {"public-jnv": {"replication-method": "FULL_TABLE", "view-key-properties": ["a"]}})
    state = {"bookmarks": {"public-jnv": {"version": 1, "last_pk_fetched": {"a": None}}}}
    assert sorted(r["id"] for r in records(tap(config, view, state, src.tmp))) == list(range(1, ROWS + 1))
