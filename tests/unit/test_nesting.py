"""Values and schemas nested up to the line limit: encoding, locating a too-deep line, validating."""

from __future__ import annotations

import io
import sys
from decimal import Decimal
from typing import Any

import pytest

from protocol import MessageReader, ProtocolError
from protocol._jsoncodec import MAX_DEPTH, deep_recursion, dumps, where_too_deep
from protocol._schema import RecordValidator


def nest(depth: int, leaf: Any) -> Any:
    for _ in range(depth):
        leaf = {"a": [leaf]}
    return leaf


def test_dumps_encodes_past_orjsons_255_levels_exactly() -> None:
    value = nest(500, {"big": 2**70, "d": Decimal("1.10"), "s": {1, 2} and {"x"}, "t": ("é", None)})
    expected = '{"a":[' * 500 + '{"big":1180591620717411303424,"d":1.10,"s":["x"],"t":["é",null]}' + "]}" * 500
    assert dumps(value) == expected.encode()


def test_dumps_still_refuses_what_json_cannot_hold() -> None:
    with pytest.raises(TypeError):
        dumps(nest(300, {1: "int key"}))
    with pytest.raises(TypeError):
        dumps(nest(300, object()))


@pytest.mark.parametrize(("line", "stream", "field"), [
    (b'{"type":"RECORD","stream":"s","record":{"id":1,"deep":' + b"[" * 2000, "s", "deep"),
    (b'{"record":{"x":{"deep":' + b'{"a":' * 2000 + b'1}},"stream":"late","type":"RECORD"}', None, "x"),
    (b'{"type":"STATE","value":' + b"[" * 2000, None, "value"),
    (b'{"type":"SCHEMA","stream":"we\\"ird","schema":' + b'{"p":' * 2000, 'we"ird', "schema"),
])
def test_where_too_deep_names_the_stream_and_field(line: bytes, stream: str | None, field: str) -> None:
    found_stream, found_field = where_too_deep(line)
    assert found_field == field
    if stream is not None:
        assert found_stream == stream


def test_reader_names_a_too_deep_line_and_reads_the_one_at_the_limit() -> None:
    schema = b'{"type":"SCHEMA","stream":"s","schema":{"properties":{"v":{}}}}\n'
    depth = MAX_DEPTH - 2  # below the message and its record
    at_limit = b'{"type":"RECORD","stream":"s","record":{"v":' + b"[" * depth + b"]" * depth + b"}}\n"
    past = at_limit.replace(b"[", b"[[", 1).replace(b"]", b"]]", 1)
    messages = list(MessageReader(io.BytesIO(schema + at_limit)))
    assert len(messages) == 2
    with pytest.raises(ProtocolError) as exc:
        list(MessageReader(io.BytesIO(schema + at_limit + past)))
    assert str(exc.value) == f"line 3, stream 's', field 'v': nested deeper than {MAX_DEPTH} levels " \
                             "(the limit for a Singer line)"


def deep_schema(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "string", "format": "date"}
    for _ in range(levels):
        node = {"type": "object", "properties": {"a": node}, "required": ["a"]}
    return {"type": "object", "properties": {"id": {"type": "integer"}, "v": node}}


def deep_record(levels: int, leaf: Any) -> dict[str, Any]:
    value = leaf
    for _ in range(levels):
        value = {"a": value}
    return {"id": 1, "v": value}


@pytest.mark.parametrize("levels", [100, 400])
def test_schemas_too_deep_for_compiled_code_still_validate(levels: int) -> None:
    validator = RecordValidator("s", deep_schema(levels), ["id"])
    validator(deep_record(levels, "2024-02-29"), 7)
    with pytest.raises(ProtocolError, match=r"line 7, stream 's', field 'v\.a\..*a': value '2023-02-29' is not a "
                                            r"valid date"):
        validator(deep_record(levels, "2023-02-29"), 7)
    with pytest.raises(ProtocolError, match=r"line 8, stream 's', field 'v\.a\.a.*': value 5 is not of type string"):
        validator(deep_record(levels, 5), 8)
    with pytest.raises(ProtocolError, match="line 9, stream 's', field 'id': key property missing"):
        validator({"v": deep_record(levels, "2024-02-29")["v"]}, 9)
    assert sys.getrecursionlimit() < 5000  # the room was given back


def test_deep_schemas_never_fetch_a_remote_ref() -> None:
    schema = deep_schema(100)
    schema["properties"]["r"] = {"$ref": "https://example.invalid/schema.json"}
    with pytest.raises(ProtocolError, match="remote \\$ref"):
        RecordValidator("s", schema)


def test_deep_recursion_gives_room_and_takes_it_back() -> None:
    before = sys.getrecursionlimit()
    with deep_recursion():
        assert sys.getrecursionlimit() >= 20 * MAX_DEPTH
    assert sys.getrecursionlimit() == before
