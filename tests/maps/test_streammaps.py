"""The StreamMaps API the connectors build on (protocol.maps), in process."""

from __future__ import annotations

import ast
import io
from decimal import Decimal
from typing import Any

import orjson
import pytest

from protocol import MessageWriter, ProtocolError, SchemaMessage
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
