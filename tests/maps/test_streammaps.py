"""The StreamMaps API the connectors build on (protocol.maps), in process."""

from __future__ import annotations

import ast
import io
from decimal import Decimal
from typing import Any

import orjson
import pytest

from protocol import ConfigError, MessageWriter, ProtocolError, SchemaMessage
from protocol.maps import MAP_SETTINGS, StreamMaps
from protocol.maps._program import map_stream

SCHEMA = {"type": "object", "properties": {"id": {"type": "integer"}, "email": {"type": "string"},
                                           "n": {"type": "number"}}}


def _maps(config: dict[str, Any]) -> StreamMaps:
    maps = StreamMaps.from_config(config, program="test")
    assert maps is not None
    return maps


@pytest.mark.parametrize("config", [{}, {"stream_maps": {}}, {"stream_maps": None, "stream_map_config": {"a": 1}},
                                    {"flattening_enabled": False, "flattening_max_depth": 3},
                                    {"flattening_enabled": True, "flattening_max_depth": 0}])
def test_nothing_asked_for_is_none(config: dict[str, Any]) -> None:
    assert StreamMaps.from_config(config, program="test") is None


def test_map_settings_declare_the_four_settings() -> None:
    assert list(MAP_SETTINGS) == ["stream_maps", "stream_map_config", "flattening_enabled", "flattening_max_depth"]
    assert [MAP_SETTINGS[k]["type"] for k in MAP_SETTINGS] == ["object", "object", "boolean", "integer"]
    assert MAP_SETTINGS["flattening_enabled"]["default"] is False
    assert all(prop["description"] for prop in MAP_SETTINGS.values())


def test_output_streams_of_alias_copy_and_drop() -> None:
    maps = _maps({"stream_maps": {"a": {"__alias__": "b"}, "c": {"__source__": "a"}, "d": None, "__else__": None,
                                  "e*": {}}})
    for stream in ("a", "d", "x", "e1"):
        maps.schema(SchemaMessage(stream, SCHEMA, ["id"]))
    assert maps.streams("a") == ["b", "c"]
    assert maps.streams("d") == []
    assert maps.streams("x") == []  # not named, with "__else__": null
    assert maps.streams("e1") == ["e1"]
    assert [name for name, _ in maps.plan("a") or []] == ["b", "c"]
    assert maps.plan("never") is None


def test_an_alias_that_fails_on_a_stream_is_a_config_error_not_its_text() -> None:
    """Falling back to the text would write every stream the alias fails on into one stream named
    by it; an undefined name (the SDK's fallback) and text that is no expression still name it,
    and an entry's alias is not tried on a stream the entry does not match."""
    maps = _maps({"stream_maps": {"public-*": {"__alias__": "__stream_name__.split('-')[1]"},
                                  "x": {"__alias__": "orders v2"}, "y": {"__alias__": "orders_v2"}}})
    for stream in ("public-users", "x", "y"):
        maps.schema(SchemaMessage(stream, SCHEMA, ["id"]))
    assert maps.streams("x") == ["orders v2"]
    assert maps.streams("y") == ["orders_v2"]
    assert maps.streams("public-users") == ["users"]
    failing = _maps({"stream_maps": {"*": {"__alias__": "__stream_name__.split('-')[1]"}}})
    failing.schema(SchemaMessage("public-users", SCHEMA, ["id"]))
    with pytest.raises(ConfigError, match=r"the __alias__ \"__stream_name__.split\('-'\)\[1\]\" fails for "
                                          r"stream 'orders': IndexError: list index out of range"):
        failing.schema(SchemaMessage("orders", SCHEMA, ["id"]))


def test_a_record_before_its_schema_is_a_protocol_error() -> None:
    maps = _maps({"stream_maps": {"a": {"x": "1"}}})
    with pytest.raises(ProtocolError, match="line 4: RECORD for stream 'a' before its SCHEMA"):
        maps.record("a", {"id": 1}, 4)


def test_record_and_plan_agree_and_expressions_read_the_incoming_record() -> None:
    maps = _maps({"stream_maps": {"a": {"email": "sha256(email)", "domain": "email.split('@')[1]",
                                        "n": "n * 2", "__filter__": "id != 2"}}})
    [schema] = maps.schema(SchemaMessage("a", SCHEMA, ["id"]))
    assert schema.schema["properties"]["n"] == {"type": ["number", "null"]}
    record = {"id": 1, "email": "x@y.z", "n": 0.1}
    [(stream, out)] = maps.record("a", dict(record), 1)
    assert stream == "a" and out["domain"] == "y.z" and len(out["email"]) == 64
    assert str(out["n"]) == "0.2"  # the decimal the input held, doubled exactly (not 0.2000000000000000111)
    [(_, apply)] = maps.plan("a") or []
    assert apply(dict(record), 1) == out
    assert maps.record("a", {"id": 2, "email": "q@r.s", "n": 1}, 2) == []
    assert record == {"id": 1, "email": "x@y.z", "n": 0.1}  # the input is not changed


def test_each_expression_is_compiled_once_not_per_record(monkeypatch: pytest.MonkeyPatch) -> None:
    parses = []
    real = ast.parse

    def counting(source: str, *args: Any, **kwargs: Any) -> Any:
        parses.append(source)
        return real(source, *args, **kwargs)

    monkeypatch.setattr("protocol.maps._expr.ast.parse", counting)
    maps = _maps({"stream_maps": {"a": {"x": "id + 1", "__filter__": "id > 0"}}})
    maps.schema(SchemaMessage("a", SCHEMA, ["id"]))
    before = len(parses)
    for i in range(1, 500):
        maps.record("a", {"id": i, "email": "e", "n": 1}, i)
    # checked once with the config, compiled once with the SCHEMA, its names read once (exact decimals?)
    assert len(parses) == before <= 6


def _run(lines: list[bytes], config: dict[str, Any]) -> list[dict[str, Any]]:
    out = io.BytesIO()
    writer = MessageWriter(out)
    map_stream(io.BytesIO(b"\n".join(lines) + b"\n"), writer, StreamMaps.from_config(config, program="test"))
    writer.close()
    return [orjson.loads(line) for line in out.getvalue().splitlines()]


def test_the_fast_path_and_the_strict_reader_map_alike() -> None:
    schema = orjson.dumps({"type": "SCHEMA", "stream": "a", "schema": SCHEMA, "key_properties": ["id"]})
    plain = b'{"type":"RECORD","stream":"a","record":{"id":1,"email":"p@q.r","n":1.5},"version":3}'
    # a long digit run sends a line through the exact parser; time_extracted through the reader's messages
    long_digits = b'{"type":"RECORD","stream":"a","record":{"id":1,"email":"1234567890123456789@q.r","n":1.5}}'
    extracted = (b'{"type":"RECORD","stream":"a","record":{"id":1,"email":"p@q.r","n":1.5},'
                 b'"time_extracted":"2024-01-01T00:00:00Z"}')
    config = {"stream_maps": {"a": {"__alias__": "b", "email": "md5(email)", "twice": "n * 2"}}}
    out = _run([schema, plain, long_digits, extracted], config)
    records = [m for m in out if m["type"] == "RECORD"]
    assert [r["record"]["twice"] for r in records] == [3.0, 3.0, 3.0]
    assert records[0]["version"] == 3 and records[2]["time_extracted"] == "2024-01-01T00:00:00Z"
    assert records[0]["record"]["email"] == records[2]["record"]["email"] != records[1]["record"]["email"]
    assert {r["stream"] for r in records} == {"b"}


def test_a_tap_maps_its_own_decimals_as_they_are() -> None:
    """A target (decoded: its records come from JSON text) reads a stream exactly when a map may write
    a decimal as text, and writes a decimal that only passes through as its usual float; a tap maps its
    own values (tap-postgres's NUMERIC 2.50 is Decimal('2.50')) and writes them as they are."""
    schema = {"type": "object", "properties": {"id": {"type": "integer"}, "price": {"type": "number"}}}
    config = {"stream_maps": {"p": {"label": "str(price)"}}}
    for decoded, price in ((True, 2.5), (False, Decimal("2.50"))):
        maps = StreamMaps.from_config(config, program="t", decoded=decoded)
        assert maps is not None
        maps.schema(SchemaMessage("p", schema, ["id"]))
        assert maps.exact_streams == ({"p"} if decoded else set())
        [(_, out)] = maps.record("p", {"id": 1, "price": Decimal("2.50")}, 1)
        assert out == {"id": 1, "price": price, "label": "2.50"}
        assert out["price"].__class__ is price.__class__


# a.b.c is not in the schema (else flattening it would be a config error): records may still hold it
NESTED = {"type": "object", "properties": {
    "id": {"type": "integer"},
    "a": {"type": "object", "properties": {"b": {"type": "object", "properties": {"d": {"type": "string"}}}}},
    "a__b__c": {"type": "string"},
}}


@pytest.mark.parametrize(("record", "column", "paths"), [
    ({"id": 1, "a": {"b": {"c": "nested"}}, "a__b__c": "top"}, "a__b__c", "'a.b.c' and 'a__b__c'"),
    ({"id": 1, "a__b__c": "top", "a": {"b": {"c": "nested"}}}, "a__b__c", "'a__b__c' and 'a.b.c'"),
    ({"id": 1, "a": {"b__c": "x", "b": {"c": "y"}}}, "a__b__c", "'a.b__c' and 'a.b.c'"),
])
def test_flattening_two_values_into_one_column_names_it(record: dict[str, Any], column: str, paths: str) -> None:
    maps = _maps({"flattening_enabled": True, "flattening_max_depth": 2})
    maps.schema(SchemaMessage("s", NESTED, ["id"]))
    with pytest.raises(ProtocolError) as caught:
        maps.record("s", record, 9)
    assert str(caught.value) == (f"line 9, stream 's', field '{column}': flattening writes {paths} into the one "
                                 f"column '{column}'; one value would be lost (rename one with a stream map)")


def test_flattening_without_a_collision_keeps_every_value() -> None:
    """Empty, null and list values, a column the record lacks: no false alarm (the check counts writes)."""
    maps = _maps({"flattening_enabled": True, "flattening_max_depth": 2,
                  "stream_maps": {"s": {"a__b__c": None, "moved": "record.get('a__b__c')"}}})
    maps.schema(SchemaMessage("s", NESTED, ["id"]))
    cases: list[tuple[dict[str, Any], dict[str, Any]]] = [
        ({"id": 1, "a": {"b": {"c": "n"}}, "a__b__c": "t"}, {"id": 1, "a__b__c": "n", "moved": "t"}),
        ({"id": 2, "a": {}, "a__b__c": None}, {"id": 2, "moved": None}),
        ({"id": 3, "a": {"b": {}}}, {"id": 3, "moved": None}),
        ({"id": 4, "a": None, "x": [1, {"y": 2}]}, {"id": 4, "a": None, "x": '[1,{"y":2}]', "moved": None}),
    ]
    for record, want in cases:
        assert maps.record("s", record, 1) == [("s", want)]


def test_a_stream_several_entries_match_takes_the_last_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    maps = _maps({"stream_maps": {"users": {"email": None}, "u*": {"n": None}, "*": {"__alias__": "raw"},
                                  "other": {"email": None}}})
    for _ in range(2):
        [schema] = maps.schema(SchemaMessage("users", SCHEMA, ["id"]))
    assert schema.stream == "raw" and list(schema.schema["properties"]) == ["id", "email", "n"]
    assert maps.record("users", {"id": 1, "email": "e", "n": 1}, 3) == [("raw", {"id": 1, "email": "e", "n": 1})]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == ["stream 'users' matches the stream_maps entries 'users' and 'u*' and '*'; only the last, '*', "
                        "applies (as in singer-sdk) and the others are ignored for it: merge them into the last one, "
                        "or narrow the patterns so that one entry matches"]
    caplog.clear()
    maps.schema(SchemaMessage("other", SCHEMA, ["id"]))  # its own entry is last: applied, the pattern's is not
    assert maps.output_schema("other") == [{"type": "object", "properties": {"id": {"type": "integer"},
                                                                            "n": {"type": "number"}}}]
    assert [r.getMessage()[:68] for r in caplog.records] == [
        "stream 'other' matches the stream_maps entries '*' and 'other'; only"]
    maps.schema(SchemaMessage("alone", SCHEMA, ["id"]))  # one entry matches it: no warning
    # (its output, 'raw', merges with users': an INFO line, captured when an earlier test set INFO)
    assert len([r for r in caplog.records if r.levelname == "WARNING"]) == 1


def test_an_entry_a_later_one_replaces_is_still_checked() -> None:
    maps = _maps({"stream_maps": {"users": {"__else__": None}, "*": {"h": "1"}}})
    with pytest.raises(ConfigError) as caught:
        maps.schema(SchemaMessage("users", SCHEMA, ["id"]))
    assert "stream_maps.users: stream 'users': key properties ['id'] are not in the mapped schema" in str(caught.value)
    [schema] = maps.schema(SchemaMessage("orders", SCHEMA, ["id"]))  # matched by '*' only
    assert list(schema.schema["properties"]) == ["id", "email", "n", "h"]
