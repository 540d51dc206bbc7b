"""Lines with long digit runs are rebuilt from their exact parse; the lines between them stay bulk.

A run of 16 or more digits (a number a float could round, or a sha256 hex digest that happens
to hold one) flags only its own line (protocol's ``long_digit_lines``); the oracle for the built
CSV is Python's csv reader compared with the records' exact values.
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
import uuid
from decimal import Decimal
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import loads, long_digit_lines, needs_exact_parse
from protocol._jsoncodec import loads_lines
from protocol._recordtype import compile_record_type
from targets.sql.rawrows import RawRows

SCHEMA: dict[str, Any] = {"type": "object", "properties": {
    "id": {"type": "integer"}, "n": {"type": ["null", "number"]}, "s": {"type": ["null", "string"]}}}
LONG = st.sampled_from(["12345678901234567.25", "0.1000000000000000055511151231257827", "123456789012345678901",
                        "1.5", "42", "null", "2.5e-400", "-1E-330", "4.9e-324", "1e-100", "3e+100"])
TEXT = st.sampled_from(["plain", "a\"quote\"\nline", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                        "1234567890123456", "x" * 20, "é☃"])


PIECES = st.lists(st.sampled_from([b"1", b"2.5", b"e", b"E", b"-", b"+", b"000", b"1234567890123456", b"x", b" "]),
                  max_size=12).map(b"".join)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b" ")) | PIECES, max_size=8))
def test_long_digit_lines_flags_exactly_the_lines_needs_exact_parse_flags(lines: list[bytes]) -> None:
    raw = b"\n".join(lines)
    assert long_digit_lines(raw) == [i for i, line in enumerate(raw.split(b"\n")) if needs_exact_parse(line)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(LONG, TEXT), min_size=1, max_size=8))
def test_a_run_with_long_digits_reads_back_exact(values: list[tuple[str, str]]) -> None:
    lines = [b'{"id":%d,"n":%s,"s":%s}' % (i, n.encode(), json.dumps(s).encode()) for i, (n, s) in enumerate(values)]
    records = list(msgspec.json.Decoder(compile_record_type(SCHEMA, ["id"])).decode_lines(b"\n".join(lines)))
    built = RawRows([("id", "id"), ("n", "n"), ("s", "s")], []).build(records, b"\n".join(lines), None)
    assert built is not None
    back = list(csv.reader(io.StringIO(built.decode(), newline="")))
    assert len(back) == len(values)
    for i, ((n, s), row) in enumerate(zip(values, back, strict=True)):
        assert row[0] == str(i) and row[2] == s
        assert row[1] == "null" if n == "null" else Decimal(row[1]) == Decimal(n)


def test_a_number_below_a_floats_range_is_parsed_exactly_not_read_as_zero() -> None:
    """orjson and msgspec read 2.5e-400 as 0.0 without a word; the screen sends it to the exact parse."""
    for text in (b'{"n":2.5e-400}', b'{"n":-1E-330}', b'{"n":1.5e-310}'):
        assert needs_exact_parse(text)
        assert long_digit_lines(b'{"n":1}\n' + text + b'\n{"n":2}') == [1]
    assert not needs_exact_parse(b'{"n":1.5e-30,"s":"e-100","t":"abc-123"}')


def _typed(value: Any) -> Any:
    """A value with its number types spelled out (Decimal("1.5") == 1.5 in Python)."""
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    return (type(value).__name__, repr(value))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(LONG, TEXT), min_size=1, max_size=8))
def test_loads_lines_reads_each_line_as_loads_does(values: list[tuple[str, str]]) -> None:
    """One orjson call for the run; only the doubted lines are read again exactly, so a line
    without a long digit run keeps its floats even when another line of the run has one."""
    lines = [b'{"id":%d,"n":%s,"s":%s}' % (i, n.encode(), json.dumps(s).encode()) for i, (n, s) in enumerate(values)]
    got = loads_lines(b"\n".join(lines))
    assert [_typed(v) for v in got] == [_typed(loads(line)) for line in lines]
    assert all(type(v["n"]) is float for v, line, (n, _) in zip(got, lines, values, strict=True)
               if n == "1.5" and not needs_exact_parse(line))


def test_loads_lines_reads_a_number_past_a_floats_range() -> None:
    assert loads_lines(b'{"n":1}\n{"n":1E400}') == [{"n": 1}, {"n": Decimal("1E400")}]


def test_uuids_are_not_taken_for_tiny_numbers() -> None:
    """A UUID holds "...3e-1234-..." in about one value of three: the screen sent every response body
    or line holding UUIDs to the slow exact parse (tap-linear spent half its time there)."""
    rng = random.Random(7)
    ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(2000)]
    assert sum(re.search(r"[0-9]e-[0-9]{3}", i) is not None for i in ids) > 50  # what the marks alone flag
    text = json.dumps({"nodes": [{"id": i, "team": {"id": i}} for i in ids]}).encode()
    assert not needs_exact_parse(text)
    assert long_digit_lines(text.replace(b"}, {", b"}\n{")) == []


TINY = st.sampled_from(["2.5e-400", "-1E-330", "4.9e-324", "1e-0400", "0.5e-999", "1.5e-310"])
AROUND = st.sampled_from(["", " ", "\t", "\r"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.uuids().map(str), max_size=6), TINY, AROUND, st.sampled_from(["object", "array", "bare"]))
def test_a_tiny_number_is_found_wherever_json_puts_it(ids: list[str], tiny: str, blank: str, shape: str) -> None:
    """Confirming the marks never loses a real number: one after UUIDs, before a separator, a blank, a
    closing bracket or the end of the text."""
    number = tiny + blank
    text = {"object": json.dumps({"ids": ids})[:-1] + ', "n": ' + number + "}",
            "array": json.dumps(ids)[:-1] + (", " if ids else "") + number + "]",
            "bare": number}[shape].encode()
    assert needs_exact_parse(text)
    assert long_digit_lines(b'{"n":1}\n' + text) == [1]
