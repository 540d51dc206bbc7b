"""The generated fast-accept check is never looser than the full validator."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any

import fastjsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol._fastcheck import compile_fast_check, is_date_time
from protocol._schema import _FORMATS

simple_types = st.sampled_from(["string", "integer", "number", "boolean", "null"])
prop_schema = st.one_of(
    st.builds(lambda t: {"type": t}, simple_types),
    st.builds(lambda ts: {"type": sorted(set(ts))}, st.lists(simple_types, min_size=1, max_size=3)),
    st.sampled_from([
        {"type": "string", "format": "date-time"},
        {"type": ["null", "string"], "format": "date-time"},
        {"type": "string", "format": "date"},
        {"type": "object", "properties": {"x": {"type": "integer"}}},
        {"type": "array", "items": {"type": "string"}},
        {"type": "string", "maxLength": 3},
        {"type": "string", "enum": ["a", "b"]},
        {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
    ]),
)
names = st.sampled_from(["id", "a", "b", "c'\"", "ü"])
schemas = st.builds(
    lambda props, req: {"type": "object", "properties": props, "required": sorted({r for r in req if r in props})},
    st.dictionaries(names, prop_schema, max_size=5),
    st.lists(names, max_size=2),
)
values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
    st.decimals(allow_nan=False, allow_infinity=False), st.text(max_size=5),
    st.sampled_from(["2024-02-29T10:00:00Z", "2023-02-29T10:00:00Z", "2024-01-01", "2024-13-01",
                     "2024-01-01T10:00:00.123456+02:00", "2024-01-01 10:00:00", "20240101T100000"]),
    st.lists(st.text(max_size=2), max_size=2), st.dictionaries(st.sampled_from(["x"]), st.integers(), max_size=1),
)
records = st.dictionaries(names, values, max_size=6)

# Valid values first, near misses after (half of the draws each).
_DATE_TIMES = (["2024-02-29T10:00:00Z", "2024-01-01T10:00:00.123456+02:00"],
               ["2023-02-29T10:00:00Z", "2024-01-01 10:00:00", "20240101T100000", "2024-01-01", "2024-01-01T25:00:00Z"])
_DATES = (["2024-02-29", "1999-12-31"], ["2023-02-29", "2024-13-01", "2024-1-01", "20240101", "2024-01-01T00:00:00Z"])
_OF_TYPE: dict[str, st.SearchStrategy[Any]] = {
    "string": st.text(max_size=5),
    "integer": st.integers(),
    "number": st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                        st.decimals(allow_nan=False, allow_infinity=False)),
    "boolean": st.booleans(),
    "null": st.none(),
}


def value_for(prop: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values a property mostly accepts, with the near misses that tell a check from a looser one."""
    if "anyOf" in prop:
        return st.one_of(st.none(), *map(st.sampled_from, _DATE_TIMES))
    kinds = [prop["type"]] if isinstance(prop["type"], str) else prop["type"]
    fmt = prop.get("format")
    if fmt is not None:
        formatted = st.one_of(*map(st.sampled_from, _DATE_TIMES if fmt == "date-time" else _DATES))
        return st.one_of(formatted, st.none()) if "null" in kinds else formatted
    if "enum" in prop:
        return st.sampled_from(["a", "b", "a", "b", "c", ""])
    if kinds == ["object"]:
        return st.dictionaries(st.sampled_from(["x", "y"]), st.one_of(st.integers(), st.text(max_size=1)), max_size=2)
    if kinds == ["array"]:
        return st.lists(st.one_of(st.text(max_size=2), st.integers()), max_size=3)
    return st.one_of([_OF_TYPE[k] for k in kinds])


@st.composite
def cases(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """A schema, a record shaped by it (each field mostly of its type, sometimes anything,
    sometimes absent) and key properties mostly among its properties."""
    schema = draw(schemas)
    props = schema["properties"]
    names_of = st.sampled_from(sorted(props)) if props else names
    keys = draw(st.lists(st.one_of(names_of, names_of, names_of, names), max_size=2))
    record: dict[str, Any] = {}
    for name, prop in props.items():
        needed = name in schema["required"] or name in keys
        if draw(st.integers(0, 9)) < (9 if needed else 6):
            record[name] = draw(value_for(prop) if draw(st.integers(0, 9)) < 9 else values)
    if draw(st.integers(0, 3)) == 0:
        record.update(draw(st.dictionaries(names, values, max_size=1)))  # an extra field, or one overwritten
    return schema, record, keys


def full_accepts(schema: dict[str, Any], record: Any) -> bool:
    try:
        fastjsonschema.compile(schema, formats=_FORMATS)(record)
    except fastjsonschema.JsonSchemaValueException:
        return False
    return True


def test_fast_accept_implies_full_accept() -> None:
    seen = {"examples": 0, "checked": 0}

    @settings(max_examples=600, deadline=None)
    @given(cases())
    def fast_accept_implies_full_accept(case: tuple[dict[str, Any], dict[str, Any], list[str]]) -> None:
        schema, record, keys = case
        check = compile_fast_check(schema, also_required=tuple(keys), formats=_FORMATS)
        assert check is not None
        seen["examples"] += 1
        if check(record):
            seen["checked"] += 1
            assert full_accepts(schema, record), (schema, record)
            assert all(k in record for k in keys)

    fast_accept_implies_full_accept()
    print(f"fast check accepted {seen['checked']} of {seen['examples']} examples")
    # The generators reach the check they are written for in about half the examples (the
    # old ones, random records against random schemas, in about 7%).
    assert seen["checked"] >= seen["examples"] * 0.4, seen


def test_common_records_take_the_fast_path() -> None:
    schema = {"type": "object", "required": ["id"], "properties": {
        "id": {"type": "integer"}, "amount": {"type": ["null", "number"]},
        "at": {"type": "string", "format": "date-time"}, "day": {"type": "string", "format": "date"},
        "tags": {"type": "array", "items": {"type": "string"}}}}
    check = compile_fast_check(schema)
    assert check is not None
    assert check({"id": 1, "amount": Decimal("1.10"), "at": "2024-01-01T00:00:00Z", "day": "2024-01-01", "tags": ["x"]})
    assert check({"id": 1})
    assert not check({"id": True})
    assert not check({"id": 1, "at": "2024-02-30T00:00:00Z"})
    assert not check({"id": 1, "tags": [1]})
    assert not check({"amount": 1})


@pytest.mark.parametrize("schema", [
    {"type": "object", "properties": {"a": {"$ref": "#/definitions/x"}}, "definitions": {"x": {"type": "string"}}},
    {"type": "object", "properties": {}, "additionalProperties": False},
    {"type": ["object", "null"], "properties": {}},
    {"type": "object", "properties": {}, "patternProperties": {"^x": {"type": "string"}}},
])
def test_unsupported_shapes_have_no_fast_path(schema: dict[str, Any]) -> None:
    assert compile_fast_check(schema) is None


def test_an_any_of_with_a_plain_branch_is_accepted_without_its_sub_validator() -> None:
    calls: list[str] = []

    def date_time(value: str) -> bool:  # the full validator's format check: counts its calls
        calls.append(value)
        return value.startswith("2024")

    prop = {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "string", "pattern": "^-?infinity$"},
                      {"type": "null"}]}
    check = compile_fast_check({"type": "object", "properties": {"t": prop}}, formats={"date-time": date_time})
    assert check is not None
    assert check({"t": "2024-01-02T03:04:05+00:00"}) and check({"t": None}) and check({})
    assert calls == []  # a plain branch took them: no sub-validator ran
    assert check({"t": "infinity"})  # the pattern branch, through the sub-validator
    assert not check({"t": "infinityx"}) and not check({"t": 5}) and not check({"t": "2025-13-01T00:00:00+00:00"})


# -- one date-time check for the three validators -------------------------------------------

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[+-](?:[01]\d|2[0-3]):?[0-5]\d|[zZ])?")


def _date_time_oracle(value: str) -> bool:
    """RFC 3339 by a full regular expression, then the calendar (written apart from the kit's check)."""
    if _RFC3339.fullmatch(value) is None:
        return False
    try:
        datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
    except ValueError:
        return False
    return True


_NEAR = ["2024-01-02T03:04:05Z", "2024-01-02t03:04:05z", "2024-01-02 03:04:05", "2024-01-02T03:04:05,5",
         "2024-01-02T03:04:05+05", "2024-01-02T03:04:05+05:30:00", "2024-01-02T03:04+05:00",
         "2024-01-02T03:04:05.123456789Z", "2024-01-02T03:04:05.+05:00", "2024-02-30T03:04:05Z",
         "2024-01-02T03:04:05+0530", "2024-01-02T03:04:05Zz", "2024-01-02T03:04:05 ", "2024-01-02X03:04:05",
         "٢٠٢٤-01-02T03:04:05Z", "2024-01-02T03:04:0\u0665Z", "2024-01-02T03:04:05.\u0661Z", "+024-01-02T03:04:05Z",
         "2024-01-02T03:04:05+00:60", "2024-01-02T03:04:05-23:59", "2024-01-02T03:04:05+0099"]


@settings(max_examples=2000, deadline=None)
@given(st.one_of(st.sampled_from(_NEAR), st.text("0123456789-:Tt zZ+.,", max_size=32),
                 st.builds(lambda a, b: a[:19] + b, st.sampled_from(_NEAR), st.text("0123456789:+-.zZ,", max_size=9))))
def test_one_date_time_check_is_rfc3339(value: str) -> None:
    assert is_date_time(value) == _date_time_oracle(value), value
    assert _FORMATS["date-time"] is is_date_time


@pytest.mark.parametrize("value", ["2024-01-02T03:04:05,5", "2024-01-02T03:04:05+05", "2024-01-02T03:04:05+05:30:00",
                                   "2024-01-02T03:04+05:00"])
def test_fast_check_refuses_the_date_times_the_validator_refuses(value: str) -> None:
    """ISO 8601 forms that are not RFC 3339: the fast check once said 'certainly valid' to them."""
    schema = {"type": "object", "properties": {"at": {"type": "string", "format": "date-time"}}}
    check = compile_fast_check(schema, formats=_FORMATS)
    assert check is not None
    assert check({"at": value}) is False
    with pytest.raises(fastjsonschema.JsonSchemaValueException):
        fastjsonschema.compile(schema, formats=_FORMATS)({"at": value})


@pytest.mark.parametrize(("fmt", "value"), [("date-time", "2024-01-01T00:00:00+00:60"),
                                            ("date-time", "2024-01-01T00:00:00-01:75"),
                                            ("date-time", "2024-01-01T00:00:00+0060"), ("time", "03:04:05+00:60"),
                                            ("time", "03:04:05-0199")])
def test_an_offset_minute_past_59_is_no_offset(fmt: str, value: str) -> None:
    """RFC 3339's time-minute is 00-59: fromisoformat reads +00:60 as +01:00, and a target stored it so."""
    schema = {"type": "object", "properties": {"at": {"type": "string", "format": fmt}}}
    with pytest.raises(fastjsonschema.JsonSchemaValueException):
        fastjsonschema.compile(schema, formats=_FORMATS)({"at": value})
    check = compile_fast_check(schema, formats=_FORMATS)
    assert check is None or check({"at": value}) is False
    valid = value.replace("60", "59").replace("75", "45").replace("99", "59")
    fastjsonschema.compile(schema, formats=_FORMATS)({"at": valid})
