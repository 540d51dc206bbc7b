"""tap-airbyte's translations that need no source program: the opaque state and the catalog plans."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from protocol import CatalogEntry, ConfigError, Metadata
from taps.airbyte.state import AirbyteState
from taps.airbyte.streams import AirbyteStream, nullable, plan_stream
from taps.airbyte.tap import TapAirbyte

TAP = TapAirbyte({"executable": sys.executable})  # never run: discovery input is given

USERS = b'{"type": "STREAM", "stream": {"stream_descriptor": {"name": "users"}, "stream_state": {"n": 1.0}}}'
ORDERS = b'{"type":"STREAM","stream":{"stream_descriptor":{"name":"orders","namespace":"shop"},"stream_state":{}}}'
GLOBAL = b'{"type":"GLOBAL","global":{"shared_state":{"lsn":12345678901234567890},"stream_states":[]}}'


def test_latest_state_per_stream_and_global_round_trips_through_json_byte_for_byte() -> None:
    state = AirbyteState({"bookmarks": {"other": {"x": 1}}, "kept": True})
    assert state.state_file() is None
    assert state.update(USERS.replace(b"1.0", b"0.5")) == "stream 'users'"
    assert state.update(ORDERS) == "stream 'shop-orders'"
    assert state.update(USERS) == "stream 'users'"  # the latest one wins, in its first place
    assert state.update(GLOBAL) == "all streams"
    value = state.to_value()
    assert value["kept"] is True and value["bookmarks"]["other"] == {"x": 1}
    again = AirbyteState(json.loads(json.dumps(value)))  # through any JSON store
    assert again.state_file() == b"[" + USERS + b"," + ORDERS + b"," + GLOBAL + b"]"
    assert again.state_file(frozenset({"users"})) == b"[" + ORDERS + b"," + GLOBAL + b"]"


def test_a_legacy_only_state_hands_back_its_data() -> None:
    state = AirbyteState()
    assert state.update(b'{"data": {"cursor": "2024-01-01", "n": 10.50}}') == "the source (legacy state)"
    assert AirbyteState(state.to_value()).state_file() == b'{"cursor": "2024-01-01", "n": 10.50}'


def test_a_state_stored_as_an_object_with_exact_numbers_is_handed_back_exactly() -> None:
    """A hand-written state (an object, not the text) read exactly: a 22-digit cursor is a Decimal, an
    id past 64 bits an int; both were refused by the plain encoder (an internal error)."""
    from protocol import loads

    message = ('{"type":"STREAM","stream":{"stream_descriptor":{"name":"users"},"stream_state":'
               '{"cursor":1234567890123456789012.125,"id":123456789012345678901234567890}}}')
    state = AirbyteState(loads('{"bookmarks":{"users":{"airbyte_state":' + message + "}}}"))
    assert state.state_file() == b"[" + message.encode() + b"]"


@pytest.mark.parametrize("value, problem", [
    ({"bookmarks": {"users": {"airbyte_state": 7}}}, "bookmarks.users.airbyte_state must be the JSON text"),
    ({"airbyte_global_state": "{not json"}, "airbyte_global_state is not an Airbyte state message"),
])
def test_a_broken_stored_state_is_a_config_error(value: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        AirbyteState(value)


def _entry(airbyte: dict[str, Any], **md: Any) -> CatalogEntry:
    stream = AirbyteStream(TAP, airbyte)
    entry = stream.catalog_entry()
    data = entry.to_dict()
    data["metadata"] = Metadata.from_list(data["metadata"]).to_list()
    for key, value in md.items():
        data["metadata"][0]["metadata"][key.replace("_", "-")] = value
    return CatalogEntry.from_dict(data)


def test_plans_follow_sync_modes_cursors_and_keys() -> None:
    schema = {"type": "object", "properties": {"id": {"type": "integer"}, "at": {"type": "string"}}}
    only_incremental = {"name": "log", "json_schema": schema, "supported_sync_modes": ["incremental"],
                        "source_defined_cursor": True, "default_cursor_field": ["at"]}
    entry = _entry(only_incremental)
    assert entry.metadata.get((), "forced-replication-method") == "INCREMENTAL"
    plan = plan_stream(entry, only_incremental)
    assert (plan.configured["sync_mode"], plan.configured["destination_sync_mode"]) == ("incremental", "append")
    assert plan.configured["cursor_field"] == ["at"] and plan.schema.bookmark_properties == ["at"]

    user_cursor = {"name": "t", "json_schema": schema, "supported_sync_modes": ["full_refresh", "incremental"],
                   "source_defined_primary_key": [["id"]]}
    assert _entry(user_cursor).metadata.get((), "replication-method") == "FULL_TABLE"  # no cursor: full by default
    with pytest.raises(ConfigError, match="stream 't': INCREMENTAL needs a replication-key"):
        plan_stream(_entry(user_cursor, replication_method="INCREMENTAL"), user_cursor)
    plan = plan_stream(_entry(user_cursor, replication_method="INCREMENTAL", replication_key="at"), user_cursor)
    assert plan.configured["cursor_field"] == ["at"] and plan.configured["destination_sync_mode"] == "append_dedup"


def test_nested_keys_give_no_key_properties_and_every_other_field_is_nullable() -> None:
    nested = {"name": "n", "supported_sync_modes": ["full_refresh"], "source_defined_primary_key": [["a", "b"]],
              "json_schema": {"type": "object", "properties": {"a": {"type": "object", "properties": {
                  "b": {"type": "integer"}}}, "tags": {"type": "array", "items": {"type": "object", "properties": {
                      "k": {"type": ["string"]}}}}}}}
    stream = AirbyteStream(TAP, nested)
    assert stream.primary_keys == []
    props = stream.schema["properties"]
    assert props["a"]["type"] == ["null", "object"] and props["a"]["properties"]["b"]["type"] == ["null", "integer"]
    assert props["tags"]["items"]["properties"]["k"]["type"] == ["null", "string"]
    assert nullable({"properties": {"id": {"type": "integer"}}}, frozenset({"id"}))["properties"]["id"] == {
        "type": "integer"}


def test_fields_typed_by_branches_and_array_items_are_nullable_too() -> None:
    """Only a "type" was made nullable: a property typed by anyOf/oneOf, and the items of an array,
    stayed non-null, and a target refused the source's records holding null there."""
    from protocol._schema import RecordValidator

    schema = nullable({"type": "object", "properties": {
        "id": {"type": "integer"},
        "u": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        "o": {"oneOf": [{"type": "object", "properties": {"x": {"anyOf": [{"type": "string"}]}}}]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "grid": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}}}}, frozenset({"id"}))
    check = RecordValidator("s", schema, ["id"])
    check({"id": 1, "u": None, "o": {"x": None}, "tags": ["a", None], "grid": [[1, None], None]}, 1)
    check({"id": 2, "u": "a", "o": None, "tags": None, "grid": None}, 2)
    assert schema["properties"]["id"] == {"type": "integer"}  # the key stays as it is
