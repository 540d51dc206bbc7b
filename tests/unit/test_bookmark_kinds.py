"""The typed bookmark kinds (protocol/_bookmarks.py) and ``state_value``: states written by
earlier runs, as literal JSON, load into the kinds and are written back byte for byte; a kind
touches only its own keys; malformed values read as unset, as the taps always treated them."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from protocol._bookmarks import FullTableBookmark, IncrementalBookmark, KeyRange, LogBasedBookmark
from protocol._state import Bookmarks, state_value

# STATE values as tap-postgres wrote them before the kinds existed (one per shape it writes)
OLD_FULL_TABLE = b'{"bookmarks":{"public-users":{"version":1733300000123,"last_pk_fetched":{"id":41,"region":"eu"}}}}'
OLD_KEY_RANGES = (b'{"bookmarks":{"public-wide":{"version":1733300000456,"key_ranges":['
                  b'{"after":null,"upto":500000,"last":120000},{"after":500000,"upto":1000000,"last":null},'
                  b'{"after":1000000,"upto":null,"last":1000017}]}}}')
OLD_INCREMENTAL = (b'{"bookmarks":{"public-orders":{"replication_key":"updated_at",'
                   b'"replication_key_value":"2024-03-01T10:00:00.123456+00:00"}},"currently_syncing":null}')
OLD_LOG_BASED = b'{"bookmarks":{"public-a":{"lsn":23744536,"snapshot_done":true},"public-b":{"lsn":23744000}}}'
# a LOG_BASED stream stopped inside its snapshot: the full-table bookmark beside the LSN
OLD_SNAPSHOT = b'{"bookmarks":{"public-s":{"lsn":23700000,"version":1733300000789,"last_pk_fetched":{"id":7}}}}'


def _roundtrip(raw: bytes, stream: str, kind: Any) -> bytes:
    b = Bookmarks(orjson.loads(raw))
    b.write(stream, b.read(stream, kind))
    return orjson.dumps(b.to_value())


@pytest.mark.parametrize(("raw", "stream", "kind"), [
    (OLD_FULL_TABLE, "public-users", FullTableBookmark),
    (OLD_KEY_RANGES, "public-wide", FullTableBookmark),
    (OLD_INCREMENTAL, "public-orders", IncrementalBookmark),
    (OLD_LOG_BASED, "public-a", LogBasedBookmark),
    (OLD_LOG_BASED, "public-b", LogBasedBookmark),
    (OLD_SNAPSHOT, "public-s", LogBasedBookmark),
    (OLD_SNAPSHOT, "public-s", FullTableBookmark),
])
def test_old_states_are_written_back_byte_for_byte(raw: bytes, stream: str, kind: Any) -> None:
    assert _roundtrip(raw, stream, kind) == raw


def test_old_states_read_into_their_fields() -> None:
    full = Bookmarks(orjson.loads(OLD_FULL_TABLE)).read("public-users", FullTableBookmark)
    assert full == FullTableBookmark(1733300000123, {"id": 41, "region": "eu"}, None)
    ranged = Bookmarks(orjson.loads(OLD_KEY_RANGES)).read("public-wide", FullTableBookmark)
    assert ranged.last_pk is None and ranged.key_ranges == (
        KeyRange(None, 500000, 120000), KeyRange(500000, 1000000, None), KeyRange(1000000, None, 1000017))
    assert [r.start for r in ranged.key_ranges] == [120000, 500000, 1000017]
    inc = Bookmarks(orjson.loads(OLD_INCREMENTAL)).read("public-orders", IncrementalBookmark)
    assert inc.value_for("updated_at") == "2024-03-01T10:00:00.123456+00:00"
    assert inc.value_for("created_at") is None  # a bookmark of another key does not apply
    log = Bookmarks(orjson.loads(OLD_LOG_BASED))
    assert log.read("public-a", LogBasedBookmark) == LogBasedBookmark(23744536, True)
    assert log.read("public-b", LogBasedBookmark) == LogBasedBookmark(23744000, False)
    snap = Bookmarks(orjson.loads(OLD_SNAPSHOT))
    assert snap.read("public-s", FullTableBookmark) == FullTableBookmark(1733300000789, {"id": 7})
    assert snap.read("public-s", LogBasedBookmark) == LogBasedBookmark(23700000, False)


def test_a_missing_stream_reads_as_the_empty_kind_and_writes_nothing_of_it() -> None:
    b = Bookmarks({})
    for kind in (FullTableBookmark, IncrementalBookmark, LogBasedBookmark):
        assert b.read("nope", kind) == kind()
        assert kind().to_dict() == {}


def test_writing_a_kind_keeps_the_other_keys_and_their_order() -> None:
    b = Bookmarks(orjson.loads(OLD_SNAPSHOT))
    b.write("public-s", FullTableBookmark())  # the snapshot finished: its bookmark goes, the LSN stays
    assert b.to_value() == {"bookmarks": {"public-s": {"lsn": 23700000}}}
    b.write("public-s", LogBasedBookmark(23700000, snapshot_done=True))
    b.write("public-s", FullTableBookmark(version=5))
    assert list(b.to_value()["bookmarks"]["public-s"].items()) == [
        ("lsn", 23700000), ("snapshot_done", True), ("version", 5)]
    b.write("public-s", LogBasedBookmark(23800000, snapshot_done=False))  # a TRUNCATE: a new snapshot next run
    assert list(b.to_value()["bookmarks"]["public-s"].items()) == [("lsn", 23800000), ("version", 5)]


def test_a_full_table_bookmark_moves_from_sequential_to_ranges_and_clears() -> None:
    b = Bookmarks(orjson.loads(OLD_FULL_TABLE))
    start = b.read("public-users", FullTableBookmark)
    b.write("public-users", FullTableBookmark(start.version, None, (KeyRange(None, 10), KeyRange(10, None, 12))))
    assert b.to_value()["bookmarks"]["public-users"] == {
        "version": 1733300000123,
        "key_ranges": [{"after": None, "upto": 10, "last": None}, {"after": 10, "upto": None, "last": 12}]}
    b.write("public-users", FullTableBookmark())
    assert b.to_value() == {"bookmarks": {"public-users": {}}}


def test_the_written_bookmark_is_a_copy() -> None:
    last_pk = {"id": 1}
    b = Bookmarks({})
    b.write("s", FullTableBookmark(1, last_pk))
    last_pk["id"] = 99
    assert b.to_value()["bookmarks"]["s"]["last_pk_fetched"] == {"id": 1}


@pytest.mark.parametrize(("entry", "expected"), [
    ({"version": "1733", "last_pk_fetched": [41], "key_ranges": {"after": 1}}, FullTableBookmark()),
    ({"version": 3, "key_ranges": []}, FullTableBookmark(3)),
    ({"version": 3, "key_ranges": [{"after": 1}, 7]}, FullTableBookmark(3)),
    ({"version": 3, "key_ranges": [{"upto": 9}]}, FullTableBookmark(3, None, (KeyRange(None, 9, None),))),
])
def test_malformed_full_table_values_read_as_unset(entry: dict[str, Any], expected: FullTableBookmark) -> None:
    assert FullTableBookmark.from_dict(entry) == expected


@pytest.mark.parametrize(("entry", "expected"), [
    ({"lsn": "23744536", "snapshot_done": True}, LogBasedBookmark(None, True)),
    ({"lsn": 5, "snapshot_done": 0}, LogBasedBookmark(5, False)),
    ({"lsn": None}, LogBasedBookmark()),
])
def test_malformed_log_based_values_read_as_unset(entry: dict[str, Any], expected: LogBasedBookmark) -> None:
    assert LogBasedBookmark.from_dict(entry) == expected


def test_an_incremental_bookmark_with_a_non_text_key_applies_to_no_key() -> None:
    inc = IncrementalBookmark.from_dict({"replication_key": 3, "replication_key_value": 10})
    assert inc.replication_key is None and inc.value_for("3") is None
    assert IncrementalBookmark("k", 0).value_for("k") == 0  # a falsy value is still a bookmark


@pytest.mark.parametrize(("data", "expected"), [
    ({"bookmarks": {"s": {"lsn": 1}}}, {"bookmarks": {"s": {"lsn": 1}}}),
    ({"type": "STATE", "value": {"bookmarks": {}}}, {"bookmarks": {}}),
    ({"type": "STATE", "value": []}, None),
    ({"type": "RECORD", "stream": "s", "record": {}}, None),
    ({"type": "SCHEMA", "stream": "s"}, None),
    ({"type": "something else", "bookmarks": {}}, {"type": "something else", "bookmarks": {}}),
    ([{"bookmarks": {}}], None),
    ("STATE", None),
    (None, None),
])
def test_state_value_unwraps_a_state_message_or_takes_a_bare_value(data: Any, expected: Any) -> None:
    assert state_value(data) == expected


@pytest.mark.parametrize("bookmark", [
    FullTableBookmark(1, {"id": 2}, (KeyRange(1, 2, 3),)),
    IncrementalBookmark("k", "v"),
    LogBasedBookmark(9, snapshot_done=True),
])
def test_a_kind_writes_exactly_the_keys_it_owns(bookmark: Any) -> None:
    assert tuple(bookmark.to_dict()) == bookmark.KEYS
    assert type(bookmark).from_dict(bookmark.to_dict()) == bookmark
