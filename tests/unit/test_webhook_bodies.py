"""tap-webhook's bodies: spliced into RECORD lines as received only when orjson (what our targets read
lines with) parses them there; anything else becomes a string. The oracle is orjson itself, body by
body, on generated JSON (pretty and compact), JSON with planted defects, and arbitrary bytes."""

from __future__ import annotations

import base64
import json
import sys

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import dumps
from taps.webhook.bodies import as_json, spliced

_SLOT = "@@slot@@"  # a leaf replaced by a raw token after encoding
# tokens in a value's place: numbers orjson refuses or keeps, strings it refuses (bad UTF-8, lone surrogates)
_TOKENS = [b"1e400", b"-1E+309", b"1e0309", b"1e-400", b"1e308", b"2e419", b'"\\ud800"', b'"\\udc00x"',
           b'"\xff"', b'"\xc0\x80"', b'"\xed\xa0\x80"', b'"\xf4\x90\x80\x80"', b'"\xe2\x80\xa8"', b'"\\u00e9"',
           b"123456789012345678901234567890", b"NaN"]

_json = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text() | st.just(_SLOT),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20)

# defects msgspec's scan lets through or that sit at the edge of orjson's grammar
_PLANTS = [b"1e400", b"-1E+309", b"1e0309", b"1e-400", b'"\\ud800"', b'"\\udc00x"', b"\xff", b"\xc0\x80",
           b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"NaN", b"Infinity", b"01", b"1.", b"\x00", b"\t", b"\n", b"\r",
           b'"\\u00e9"', b"[1,]", b"2e419", b"\xe2\x80\xa8"]


@st.composite
def bodies(draw: st.DrawFn, kinds: tuple[int, int] = (0, 3)) -> bytes:
    """0: JSON, raw tokens in some values' place; 1, 2: a token inserted or written over; 3: any bytes."""
    kind = draw(st.integers(*kinds))
    if kind == 3:
        return draw(st.binary(max_size=60))
    doc = draw(_json)
    raw = json.dumps(doc, indent=draw(st.sampled_from([None, 1, 2])), ensure_ascii=draw(st.booleans())).encode()
    slot = b'"' + _SLOT.encode() + b'"'
    while slot in raw:
        raw = raw.replace(slot, draw(st.sampled_from(_TOKENS)), 1)
    if kind == 0:
        return raw
    at = draw(st.integers(0, len(raw)))
    plant = draw(st.sampled_from(_PLANTS))
    if kind == 1:  # inserted
        return raw[:at] + plant + raw[at:]
    return raw[:at] + plant + raw[at + len(plant):]  # overwritten


def _reference(body: bytes) -> bytes | None:
    """The body's value if orjson parses it inside a line (two levels down), else None."""
    try:
        orjson.loads(body)
        orjson.loads(b"[[" + body + b"]]")
    except orjson.JSONDecodeError:
        return None
    return dumps(orjson.loads(body))


def _check(body: bytes, value: bytes) -> None:
    assert b"\n" not in value and b"\r" not in value
    parsed = orjson.loads(b'[{"body":' + value + b"}]")  # it holds in a line, two levels down
    expected = _reference(body)
    if expected is not None:
        assert dumps(parsed[0]["body"]) == expected
    else:
        try:
            text = body.decode()
        except UnicodeDecodeError:
            text = "base64:" + base64.b64encode(body).decode()
        assert parsed[0]["body"] == text


@settings(max_examples=250, deadline=None)
@given(st.one_of(st.lists(bodies(), min_size=1, max_size=6),
                 st.lists(bodies((0, 0)), min_size=1, max_size=3)))  # batches the fast path may take
def test_a_batch_splices_exactly_what_orjson_reads_and_strings_the_rest(batch: list[bytes]) -> None:
    values = spliced(batch)
    if values is None:  # the fast path: every body as it is
        assert all(_reference(b) is not None and b"\n" not in b and b"\r" not in b for b in batch)
        values = batch
    for body, value in zip(batch, values, strict=True):
        _check(body, value)
        assert as_json(body) == (body.replace(b"\r", b" ").replace(b"\n", b" ") if _reference(body) else value)


@pytest.mark.parametrize("body", [b'{"a": 1e400}', b'["\\ud800"]', b'{"a": "\xff"}', b'{"a":1} {"b":2}', b"",
                                  b"1],[2", b'{"x": 1e308, "sha": "2e419a"}'])
def test_planted_defects_next_to_good_bodies(body: bytes) -> None:
    good = b'{"ok": [1, 2, {"n": null}]}'
    values = spliced([good, body, good])
    assert values is not None or _reference(body) is not None
    for b, v in zip([good, body, good], values or [good, body, good], strict=True):
        _check(b, v)


def test_a_body_too_deep_for_a_line_is_a_string_even_if_orjson_parses_it_alone() -> None:
    for depth, spliceable in ((1022, True), (1023, False), (1024, False)):
        body = b"[" * depth + b"]" * depth
        values = spliced([body])
        value = body if values is None else values[0]
        assert (value == body) is spliceable, depth
        _check(body, value)


def test_a_raised_recursion_limit_does_not_let_deep_bodies_through() -> None:
    body = b"[" * 1023 + b"]" * 1023
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(5000)
    try:
        values = spliced([body])
    finally:
        sys.setrecursionlimit(old)
    assert values is not None and values[0].startswith(b'"')
