"""The chunked fast path: never looser than the reference reader, and the same messages."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol._chunks import ChunkReader
from protocol._errors import ProtocolError
from protocol._jsoncodec import dumps, loads
from protocol._lane import RecordRun
from protocol._reader import MessageReader
from protocol._recordtype import compile_record_type
from protocol._schema import _FORMATS, RecordValidator
from tests.unit.lanes import fast_lanes

# -- date-time and date: msgspec accepts only what our formats accept ----------------------

_digits = st.text("0123456789", min_size=1, max_size=3)


@st.composite
def date_time_like(draw: st.DrawFn) -> str:
    year = draw(st.sampled_from(["2023", "2024", "0000", "0001", "9999", "1900", "+2023", "20230", "23"]))
    month = draw(st.sampled_from(["01", "02", "12", "00", "13", "1", "W01"]))
    day = draw(st.sampled_from(["01", "28", "29", "30", "31", "00", "32", "1", "-1"]))
    sep = draw(st.sampled_from(["T", "t", " ", "_", "", "TT"]))
    hour = draw(st.sampled_from(["00", "09", "23", "24", "25", "9"]))
    minute = draw(st.sampled_from(["00", "59", "60", "5"]))
    second = draw(st.sampled_from([":00", ":59", ":60", ":61", "", ":5", ":00:00"]))
    fraction = draw(st.sampled_from(["", ".", ".5", ".123456", ".1234567", ".123456789012", ",5"]))
    zone = draw(st.sampled_from(
        ["", "Z", "z", "+00:00", "-00:00", "+02:00", "+0200", "+02", "+24:00", "+23:59", "+05:99",
         "-12:30", "+02:00:00", "+2:00", "UTC", "ZZ", " Z"]
    ))
    shape = draw(st.sampled_from(["full", "date", "week", "compact", "random"]))
    if shape == "date":
        return f"{year}-{month}-{day}"
    if shape == "week":
        return f"{year}-W01-1T{hour}:{minute}{second}{zone}"
    if shape == "compact":
        return f"{year}{month}{day}T{hour}{minute}{second.replace(':', '')}{zone}"
    if shape == "random":
        return draw(st.text("0123456789-:T tZz+.", max_size=30))
    return f"{year}-{month}-{day}{sep}{hour}:{minute}{second}{fraction}{zone}"


def _msgspec_accepts(kind: Any, text: str) -> bool:
    try:
        msgspec.json.decode(orjson.dumps(text), type=kind)
    except msgspec.ValidationError:
        return False
    return True


@settings(max_examples=3000, deadline=None)
@given(date_time_like())
def test_msgspec_date_time_is_never_looser_than_ours(text: str) -> None:
    import datetime

    if _msgspec_accepts(datetime.datetime, text):
        assert _FORMATS["date-time"](text), text
    if _msgspec_accepts(datetime.date, text):
        assert _FORMATS["date"](text), text


@pytest.mark.parametrize("text", [
    "2023-07-04T18:01:60Z", "2023-07-04T24:00:00Z", "2023-07-04T18:01Z", "2023-02-29T00:00:00Z",
    "2023-W01-1T00:00:00Z", "20230704T180141Z", "2023-07-04T18:01:41+24:00", "2023-07-04",
])
def test_date_times_both_refuse(text: str) -> None:
    import datetime

    assert not _msgspec_accepts(datetime.datetime, text)
    assert not _FORMATS["date-time"](text)


# -- random schemas and records: fast-accept implies full-accept ---------------------------

_SCALAR_TYPES = ["integer", "number", "string", "boolean"]


@st.composite
def property_schema(draw: st.DrawFn, depth: int = 0) -> dict[str, Any]:
    kind = draw(st.sampled_from(["scalar", "scalar", "scalar", "date-time", "date", "object", "array", "any"]))
    nullable = draw(st.booleans())
    extra = draw(st.sampled_from([{}, {"description": "d"}, {"title": "t", "default": 1}]))
    if kind == "any":
        return extra
    if kind in ("date-time", "date"):
        return {"type": ["string", "null"] if nullable else "string", "format": kind, **extra}
    if kind == "object" and depth < 2:
        sub = object_schema(draw, depth + 1)
        sub["type"] = ["object", "null"] if nullable else "object"
        return {**sub, **extra}
    if kind == "array" and depth < 2:
        return {"type": ["array", "null"] if nullable else "array", "items": draw(property_schema(depth + 1))}
    types = draw(st.lists(st.sampled_from(_SCALAR_TYPES), min_size=1, max_size=3, unique=True))
    if nullable:
        types.append("null")
    return {"type": types if len(types) > 1 or draw(st.booleans()) else types[0], **extra}


def object_schema(draw: st.DrawFn, depth: int = 0) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(["a", "b", "c", "d", "e f", "g.h"]), max_size=4, unique=True))
    props = {name: draw(property_schema(depth)) for name in names}
    required = draw(st.lists(st.sampled_from(names), unique=True)) if names else []
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    return schema


_json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["", "x", "2023-07-04T18:01:41Z", "2023-07-04", "2023-07-04 18:01:41.5+0200",
                     "2023-02-29", "2023-07-04T25:00:00Z", "2023-07-04T18:01:41.1234567z"]),
    st.text(max_size=5),
)
_json = st.recursive(
    _json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["a", "b", "c", "d", "e f", "g.h", "z"]), inner, max_size=4),
    ),
    max_leaves=12,
)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fast_accept_implies_full_accept(data: st.DataObject) -> None:
    schema = object_schema(data.draw)
    keys = data.draw(st.lists(st.sampled_from(sorted(schema["properties"]) or ["a"]), max_size=1, unique=True))
    keys = [k for k in keys if k in schema["properties"]]
    kind = compile_record_type(schema, keys)
    assert kind is not None, schema  # every construct drawn here maps
    record = data.draw(st.dictionaries(st.sampled_from(["a", "b", "c", "d", "e f", "g.h", "z"]), _json, max_size=6))
    raw = dumps(record)
    try:
        msgspec.json.decode(raw, type=kind)
    except msgspec.ValidationError:
        return
    RecordValidator("s", schema, keys)(loads(raw), 1)  # must not raise


@pytest.mark.parametrize("prop", [
    {"type": "integer", "minimum": 0}, {"type": "string", "pattern": "^a"}, {"enum": [1, 2]},
    {"anyOf": [{"type": "integer"}]}, {"$ref": "#/definitions/x"}, {"type": "string", "format": "email"},
    {"type": "string", "maxLength": 3}, {"type": "array", "items": [{"type": "integer"}]},
    {"type": "integer", "format": "date-time"}, {"type": []}, {"type": "object", "patternProperties": {}},
])
def test_constructs_without_an_exact_mapping_get_no_fast_path(prop: dict[str, Any]) -> None:
    assert compile_record_type({"type": "object", "properties": {"x": prop}}) is None


def test_required_fields_and_key_properties_are_required() -> None:
    kind = compile_record_type(
        {"type": "object", "properties": {"id": {"type": "integer"}, "n": {"type": "string"}}, "required": ["n"]},
        ["id"],
    )
    decoder = msgspec.json.Decoder(kind)
    decoder.decode(b'{"id": 1, "n": "x"}')
    for bad in (b'{"n": "x"}', b'{"id": 1}', b'{"id": 1, "n": "x", "other": 2}', b'{"id": 1.0, "n": "x"}'):
        with pytest.raises(msgspec.ValidationError):
            decoder.decode(bad)


# -- the batch reader yields what the line reader yields -----------------------------------

SCHEMA = orjson.dumps({"type": "SCHEMA", "stream": "s", "key_properties": ["id"], "schema": {
    "type": "object", "required": ["id"], "properties": {
        "id": {"type": "integer"}, "x": {"type": ["number", "null"]},
        "t": {"type": ["string", "null"], "format": "date-time"},
        "a": {"type": ["array", "null"], "items": {"type": "array", "items": {"type": "integer"}}},
        "o": {"type": ["array", "null"], "items": {"type": "object", "properties": {"k": {"type": "integer"}}}},
    }}})

FRAGMENTS = [
    b'{"type":"RECORD","stream":"s","record":{"id":1,"x":2.50}}',
    b'{"type":"RECORD","stream":"s","record":{"id":2,"t":"2023-07-04T18:01:41Z"}}',
    b'{"type":"RECORD","stream":"s","record":{"id":3,"t":"2023-07-04T25:01:41Z"}}',
    b'{"type":"RECORD","stream":"s","record":{"id":4.0}}',
    b'{"type":"RECORD","stream":"s","record":{"x":1}}',
    b'{"type":"RECORD","stream":"s","record":{"id":5,"zz":1}}',
    b'{"type":"RECORD","stream":"s","record":{"id":6,"zz":1e400}}',
    b'{"type":"RECORD","stream":"s","record":{"id":7,"x":1e400}}',
    b'{"type":"RECORD","stream":"s","record":{"id":8,"x":12345678901234567890.5}}',
    b'{"type":"RECORD","stream":"s","record":{"id":9,"a":[[1],[2]]}}',
    b'{"type":"RECORD","stream":"s","record":{"id":10,"o":[{"k":1},{"k":2}]}}',
    b'{"type":"RECORD","stream":"s","record":{"id":11,"o":[{"k":1}',
    b'{"k":2}]}},{"type":"RECORD","stream":"s","record":{"id":12}}',
    b'{"type":"RECORD","stream":"s","record":{"id":13,"a":[[1]',
    b'[2]]}}],[{"type":"RECORD","stream":"s","record":{"id":14}}',
    b'{"type":"RECORD","stream":"s","record":{"id":15}} {"type":"RECORD","stream":"s","record":{"id":16}}',
    b'{"type":"RECORD","stream":"s","record":{"id":17}},{"type":"RECORD","stream":"s","record":{"id":18}}',
    b'{"type":"RECORD","stream":"s","record":{"id":19},"record":{"id":"x"}}',
    b'{"type":"RECORD","stream":"s","record":{"id":"x"},"record":{"id":20}}',
    b'{"type":"RECORD","stream":"s","record":{"id":21},"version":1e400}',
    b'{"type":"RECORD","stream":"s","record":{"id":22},"extra":1}',
    b'{"type":"RECORD","stream":"s","record":{"id":23,"t":"\xff"}}',
    b'{"type":"RECORD","stream":"s","record":{"id":24,"t":"\\ud800"}}',
    b'{"type":"RECORD","stream":"s","record":{"id":25,"t":"caf\xc3\xa9"}}',
    b'{"type":"RECORD","stream":"s","record":null}',
    b'{"type":"RECORD","stream":"s"}',
    b'{"type":"RECORD","stream":"nope","record":{"id":26}}',
    b'{"type":"RECORD","stream":5,"record":{"id":27}}',
    b'{"type":"STATE","value":{"n":1}}',
    b'{"type":"STATE","value":1}',
    b'{"type":"ACTIVATE_VERSION","stream":"s","version":3}',
    SCHEMA,
    b"",
    b"   ",
    b"not json",
    b"[1]",
    b'{"type":"BOGUS"}',
    b'{"type": "RECORD", "stream": "s", "record": {"id": 28}}\r',
]


def _collect(items: Any) -> list[Any]:
    out: list[Any] = []
    try:
        for item in items:
            if isinstance(item, RecordRun):
                rows = bytes(item.records).split(b"\n")
                assert len(rows) == item.count
                out.extend(("RECORD", item.stream, loads(r), item.first_line + k) for k, r in enumerate(rows))
            elif item.type == "RECORD":
                out.append(("RECORD", item.stream, item.record, item.line))
            else:
                out.append((item.type, item.to_dict(), item.line))
    except ProtocolError as exc:
        out.append(("error", str(exc)))
    return out


def _normal(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value, default=lambda d: float(d) if isinstance(d, Decimal) else str(d)))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=30), st.sampled_from([1, 7, 64, 1 << 20]),
       st.booleans())
def test_batch_reader_matches_line_reader(fragments: list[bytes], chunk: int, final_newline: bool) -> None:
    data = b"\n".join([SCHEMA, *fragments]) + (b"\n" if final_newline else b"")
    reference = _collect(MessageReader(io.BytesIO(data)))
    reader = MessageReader(io.BytesIO(data))
    fast = _collect(ChunkReader(reader, io.BufferedReader(io.BytesIO(data)), fast_lanes(reader), chunk))
    assert _normal(fast) == _normal(reference)


def test_clean_records_come_as_raw_runs_with_exact_bytes() -> None:
    data = SCHEMA + b"\n" + b"".join(
        b'{"type":"RECORD","stream":"s","record":{"id":%d,"x":2.50}}\n' % i for i in range(100)
    )
    reader = MessageReader(io.BytesIO(data))
    items = list(ChunkReader(reader, io.BytesIO(data), fast_lanes(reader)))
    runs = [i for i in items if isinstance(i, RecordRun)]
    assert sum(r.count for r in runs) == 100
    assert bytes(runs[0].records).split(b"\n")[0] == b'{"id":0,"x":2.50}'
    assert runs[0].first_line == 2
    assert reader.line_number == 101


def test_long_line_error_is_the_same() -> None:
    data = SCHEMA + b"\n" + b'{"type":"STATE","value":{"k":"' + b"x" * 5000 + b'"}}\n'
    limit = len(SCHEMA) + 10

    def run(fast: bool) -> str:
        reader = MessageReader(io.BytesIO(data), max_line_bytes=limit)
        items = ChunkReader(reader, io.BytesIO(data), fast_lanes(reader), 64) if fast else reader
        with pytest.raises(ProtocolError) as exc:
            list(items)
        return str(exc.value)

    assert run(True) == run(False)


@pytest.mark.parametrize("lines", [
    [FRAGMENTS[11], FRAGMENTS[12]],  # one object over two lines, two on the next: misaligned by ","
    [FRAGMENTS[13], FRAGMENTS[14]],  # the same with arrays, as the "],[" wrapping would see it
    [FRAGMENTS[10], FRAGMENTS[11], FRAGMENTS[12]],
    [FRAGMENTS[9], FRAGMENTS[13], FRAGMENTS[14]],
    [FRAGMENTS[15], b""], [FRAGMENTS[16], b"   "], [FRAGMENTS[22]], [FRAGMENTS[23]], [FRAGMENTS[24]],
    [FRAGMENTS[6]], [FRAGMENTS[7]], [FRAGMENTS[18]], [FRAGMENTS[20]], [FRAGMENTS[21]],
])
@pytest.mark.parametrize("chunk", [5, 1 << 20])
def test_pathological_lines_match_line_reader(lines: list[bytes], chunk: int) -> None:
    clean = b'{"type":"RECORD","stream":"s","record":{"id":0}}'
    data = b"\n".join([SCHEMA, clean, *lines, clean]) + b"\n"
    reference = _collect(MessageReader(io.BytesIO(data)))
    reader = MessageReader(io.BytesIO(data))
    fast = _collect(ChunkReader(reader, io.BufferedReader(io.BytesIO(data)), fast_lanes(reader), chunk))
    assert _normal(fast) == _normal(reference)


# What each line of the mostly valid blocks must give, written out by hand: the record, or
# None (the line is refused: a bad date, or half an object split over two lines).
EXPECTED: dict[bytes, dict[str, Any] | None] = {
    FRAGMENTS[0]: {"id": 1, "x": Decimal("2.50")},
    FRAGMENTS[1]: {"id": 2, "t": "2023-07-04T18:01:41Z"},
    FRAGMENTS[2]: None,  # hour 25
    FRAGMENTS[5]: {"id": 5, "zz": 1},
    FRAGMENTS[8]: {"id": 8, "x": Decimal("12345678901234567890.5")},
    FRAGMENTS[9]: {"id": 9, "a": [[1], [2]]},
    FRAGMENTS[10]: {"id": 10, "o": [{"k": 1}, {"k": 2}]},
    FRAGMENTS[11]: None, FRAGMENTS[12]: None, FRAGMENTS[13]: None, FRAGMENTS[14]: None,
}


def _exact(value: Any) -> Any:
    """Numbers as Decimals of their shortest text (2.5 == 2.50; a float rounding shows)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float, Decimal)):
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if isinstance(value, dict):
        return {k: _exact(v) for k, v in value.items()}
    return [_exact(v) for v in value]


def _oracle(fragments: list[bytes]) -> list[Any]:
    """The records (stream, record, line) up to the first refused line, then ("error", line)."""
    out: list[Any] = []
    for n, line in enumerate(fragments, 2):  # the SCHEMA is line 1
        record = EXPECTED[line]
        if record is None:
            return [*out, ("error", n)]
        out.append(("RECORD", "s", _exact(record), n))
    return out


def _outcome(collected: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in collected:
        if item[0] == "RECORD":
            out.append(("RECORD", item[1], _exact(item[2]), item[3]))
        elif item[0] == "error":
            line = int(item[1].split(",")[0].split(":")[0].removeprefix("line "))
            out.append(("error", line))
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(list(EXPECTED)), max_size=12), st.sampled_from([64, 1 << 20]))
def test_mostly_valid_blocks_match_line_reader(fragments: list[bytes], chunk: int) -> None:
    data = b"\n".join([SCHEMA, *fragments]) + b"\n"
    reference = _collect(MessageReader(io.BytesIO(data)))
    reader = MessageReader(io.BytesIO(data))
    fast = _collect(ChunkReader(reader, io.BufferedReader(io.BytesIO(data)), fast_lanes(reader), chunk))
    assert _normal(fast) == _normal(reference)
    # and both are what the lines say, independently of either reader
    expected = _oracle(fragments)
    assert _outcome(fast) == expected
    assert _outcome(reference) == expected


# -- the schema check's shortcut: plainly valid implies valid for jsonschema ---------------

_keyword_values = st.one_of(
    st.sampled_from(["string", "integer", "strin", "", "date-time", "object", "null"]),
    st.lists(st.sampled_from(["string", "integer", "null", "strin", 1]), max_size=3),
    st.integers(), st.booleans(), st.none(), st.just({}),
    st.dictionaries(st.sampled_from(["a", "b"]), st.just({"type": "integer"}), max_size=2),
    st.lists(st.sampled_from(["a", "b"]), max_size=3),
)
_any_schema = st.recursive(
    st.dictionaries(
        st.sampled_from(["type", "properties", "required", "items", "additionalProperties", "format",
                         "description", "title", "$comment", "default", "enum", "minimum"]),
        _keyword_values, max_size=4,
    ),
    lambda inner: st.one_of(
        st.dictionaries(st.sampled_from(["properties"]), st.dictionaries(st.sampled_from(["a", "b"]), inner)),
        st.dictionaries(st.sampled_from(["items", "additionalProperties"]), inner | st.booleans()),
    ),
    max_leaves=8,
)


@settings(max_examples=1500, deadline=None)
@given(_any_schema)
def test_plainly_valid_schemas_are_valid(schema: dict[str, Any]) -> None:
    import jsonschema

    from protocol._schema import plainly_valid

    if plainly_valid(schema):
        jsonschema.Draft7Validator.check_schema(schema)  # must not raise


def test_common_schemas_skip_jsonschema() -> None:
    from protocol._schema import plainly_valid

    assert plainly_valid({"type": "object", "properties": {"a": {"type": ["string", "null"], "format": "date-time"},
                          "b": {"type": "array", "items": {"type": "integer"}}}, "required": ["a"]})
    assert not plainly_valid({"type": "strin"})
    assert not plainly_valid({"type": ["string", "string"]})
    assert not plainly_valid({"required": ["a", "a"]})
    assert not plainly_valid({"properties": {"a": 5}})


def test_lines_longer_than_a_read_are_carried_whole() -> None:
    big = b'{"type":"RECORD","stream":"s","record":{"id":1,"t":null,"x":2.50,"a":[[' + b"1," * 150_000 + b"1]]}}"
    small = b'{"type":"RECORD","stream":"s","record":{"id":2}}'
    data = b"\n".join([SCHEMA, small, big, small, big]) + b"\n" + big  # the last one without newline
    reference = _collect(MessageReader(io.BytesIO(data)))
    reader = MessageReader(io.BytesIO(data))
    items = list(ChunkReader(reader, io.BufferedReader(io.BytesIO(data)), fast_lanes(reader)))
    assert any(isinstance(i, RecordRun) and b"[[1,1," in bytes(i.records) for i in items)
    reader = MessageReader(io.BytesIO(data))
    fast = _collect(ChunkReader(reader, io.BufferedReader(io.BytesIO(data)), fast_lanes(reader)))
    assert _normal(fast) == _normal(reference)
    assert [row[-1] for row in fast] == [1, 2, 3, 4, 5, 6]
