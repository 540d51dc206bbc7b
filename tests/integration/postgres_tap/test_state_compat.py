"""States written by earlier versions of tap-postgres, given as literal JSON, resume where they say.

Unit tests (tests/unit/test_bookmark_kinds.py) prove the bookmark kinds write such states back
byte for byte; these prove the tap acts on them: the rows read, the version kept, the bookmark
it ends with.
"""

from __future__ import annotations

import json

from tests.integration.postgres_tap.conftest import Src, last_state, records, tap

# FULL_TABLE read in key ranges, killed mid-read: range 1 is at 20 of (.., 50], range 2 at 80 of (50, ..)
OLD_RANGES = json.loads('{"bookmarks": {"public-k": {"version": 1733300000123, "key_ranges": ['
                        '{"after": null, "upto": 50, "last": 20}, {"after": 50, "upto": null, "last": 80}]}}}')
OLD_SEQUENTIAL = json.loads('{"bookmarks": {"public-k": {"version": 1733300000456, "last_pk_fetched": {"id": 93}}}}')
OLD_INCREMENTAL = json.loads('{"bookmarks": {"public-k": {"replication_key": "u", "replication_key_value": 96}}}')


def _table(src: Src) -> None:
    src.sql("CREATE TABLE k (id int PRIMARY KEY, u int NOT NULL)")
    src.sql("INSERT INTO k SELECT g, g FROM generate_series(1, 100) g")


def test_an_old_key_ranges_state_resumes_every_range(src: Src) -> None:
    _table(src)
    config = src.config(max_parallel_reads=3)
    catalog = src.catalog(config, {"public-k": {"replication-method": "FULL_TABLE"}})
    msgs = tap(config, catalog, OLD_RANGES, src.tmp)
    assert sorted(r["id"] for r in records(msgs)) == [*range(21, 51), *range(81, 101)]
    assert [m["version"] for m in msgs if m["type"] == "ACTIVATE_VERSION"] == [1733300000123]
    assert all(m["version"] == 1733300000123 for m in msgs if m["type"] == "RECORD")
    assert last_state(msgs) == {"bookmarks": {"public-k": {}}}


def test_an_old_sequential_state_resumes_after_its_last_key(src: Src) -> None:
    _table(src)
    config = src.config(max_parallel_reads=1)
    catalog = src.catalog(config, {"public-k": {"replication-method": "FULL_TABLE"}})
    msgs = tap(config, catalog, OLD_SEQUENTIAL, src.tmp)
    assert [r["id"] for r in records(msgs)] == list(range(94, 101))
    assert [m["version"] for m in msgs if m["type"] == "ACTIVATE_VERSION"] == [1733300000456]
    assert last_state(msgs) == {"bookmarks": {"public-k": {}}}


def test_an_old_incremental_state_reads_from_its_value(src: Src) -> None:
    _table(src)
    config = src.config()
    catalog = src.catalog(config, {"public-k": {"replication-method": "INCREMENTAL", "replication-key": "u"}})
    msgs = tap(config, catalog, OLD_INCREMENTAL, src.tmp)
    assert [r["id"] for r in records(msgs)] == [96, 97, 98, 99, 100]
    assert last_state(msgs) == {"bookmarks": {"public-k": {"replication_key": "u", "replication_key_value": 100}}}
