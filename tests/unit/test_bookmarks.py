"""The bookmarks API at its edges: empty and malformed states, clearing, copies, and the
comparison of values of different types (mutants of protocol/_state.py that the older tests let
through; see tests/mutation/)."""

from __future__ import annotations

from typing import Any

import pytest

from protocol import Bookmarks, ConfigError
from protocol._state import bookmark_order


@pytest.mark.parametrize("value", [None, {}])
def test_no_state_gives_empty_bookmarks(value: dict[str, Any] | None) -> None:
    b = Bookmarks(value)
    assert b.to_value() == {"bookmarks": {}}
    assert b.streams() == []
    b.set("s", "k", 1)
    assert b.to_value() == {"bookmarks": {"s": {"k": 1}}}


@pytest.mark.parametrize("bad", [None, "x", [1], 3])
def test_malformed_bookmarks_are_replaced_and_other_keys_kept(bad: Any) -> None:
    b = Bookmarks({"bookmarks": bad, "currently_syncing": "s"})
    assert b.to_value() == {"bookmarks": {}, "currently_syncing": "s"}


def test_get_returns_the_default_for_a_missing_stream_or_key() -> None:
    b = Bookmarks({"bookmarks": {"s": {"k": 0}}})
    assert b.get("s", "k", 7) == 0
    assert b.get("s", "other", 7) == 7
    assert b.get("missing", "k", 7) == 7
    assert b.get("missing", "k") is None


def test_clear_one_key_or_a_whole_stream_and_missing_ones_quietly() -> None:
    b = Bookmarks({"bookmarks": {"s": {"a": 1, "b": 2}, "t": {"a": 3}}})
    b.clear("s", "a")
    assert b.to_value() == {"bookmarks": {"s": {"b": 2}, "t": {"a": 3}}}
    b.clear("s", "not-there")
    b.clear("missing", "a")
    b.clear("missing")
    assert b.to_value() == {"bookmarks": {"s": {"b": 2}, "t": {"a": 3}}}
    b.clear("t")
    assert b.to_value() == {"bookmarks": {"s": {"b": 2}}}


def test_to_value_is_a_deep_copy() -> None:
    b = Bookmarks({"bookmarks": {"s": {"replication_key_value": 1}}})
    out = b.to_value()
    out["bookmarks"]["s"]["replication_key_value"] = 99
    assert b.replication_value("s") == 1


def test_an_equal_value_does_not_rename_the_replication_key() -> None:
    b = Bookmarks({"bookmarks": {"s": {"replication_key": "updated_at", "replication_key_value": 5}}})
    b.advance("s", "other_key", 5)
    assert b.to_value()["bookmarks"]["s"] == {"replication_key": "updated_at", "replication_key_value": 5}


@pytest.mark.parametrize(("current", "value", "moves"), [
    (5, "3", False),   # "3" < "5" as text
    (5, "7", True),    # "7" > "5" as text (and "7" < "None": a comparison with None would not move)
    ("2024-01-02", 2023, False),  # "2023" < "2024-01-02" as text
    (3, 4.5, True),    # numbers compare as numbers
    (10, 9, False),
])
def test_values_of_different_types_compare_as_text(current: Any, value: Any, moves: bool) -> None:
    b = Bookmarks({"bookmarks": {"s": {"replication_key": "k", "replication_key_value": current}}})
    b.advance("s", "k", value)
    assert b.replication_value("s") == (value if moves else current)


@pytest.mark.parametrize(("prop", "current", "value", "moves"), [
    # date-times as instants: 08:00-05:00 is 13:00Z; as text "2024-01-01T08" < "2024-01-01T10"
    ({"type": ["string", "null"], "format": "date-time"}, "2024-01-01T10:00:00Z", "2024-01-01T08:00:00-05:00", True),
    ({"type": "string", "format": "date-time"}, "2024-01-01T14:00:00+01:00", "2024-01-01T13:30:00Z", True),
    ({"type": "string", "format": "date-time"}, "2024-01-01T13:30:00Z", "2024-01-01T14:00:00+01:00", False),
    # numbers as numbers, whatever their JSON type: as text "9" > "10" and 11 vs "9" compared "11" < "9"
    ({"type": "integer"}, "9", "10", True),
    ({"type": ["integer", "null"]}, "9", 11, True),
    ({"type": "number"}, 12, "9.5", False),
    # a string without format as text
    ({"type": "string"}, "9", "10", False),
])
def test_a_bookmark_compares_by_its_schema_type(prop: dict[str, Any], current: Any, value: Any, moves: bool) -> None:
    b = Bookmarks({"bookmarks": {"s": {"replication_key": "k", "replication_key_value": current}}})
    b.advance("s", "k", value, bookmark_order(prop))
    assert b.replication_value("s") == (value if moves else current)  # kept as it came, text included


@pytest.mark.parametrize("prop", [None, {}, {"type": ["integer", "string"]}, {"type": "boolean"}, {"type": "object"}])
def test_no_single_comparable_type_leaves_values_as_they_are(prop: Any) -> None:
    assert bookmark_order(prop) is None


def test_a_saved_bookmark_not_of_the_key_type_is_a_config_error_naming_the_stream() -> None:
    b = Bookmarks({"bookmarks": {"s": {"replication_key": "k", "replication_key_value": "yesterday"}}})
    with pytest.raises(ConfigError, match="state: stream 's': replication_key_value 'yesterday' is not of"):
        b.advance("s", "k", "2024-01-01T00:00:00Z", bookmark_order({"type": "string", "format": "date-time"}))
