"""Arbitrary bytes into the reader: it may only ever raise our ProtocolError, naming the line
where it stops, after yielding every valid message before that line."""

from __future__ import annotations

import io
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol import MessageReader, ProtocolError, RecordMessage, StateMessage

SCHEMA = (
    b'{"type":"SCHEMA","stream":"s","key_properties":["id"],'
    b'"schema":{"type":"object","properties":{"id":{"type":"integer"},"v":{"type":"string","format":"date-time"}}}}\n'
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=10,
)
message_like = st.fixed_dictionaries(
    {"type": st.sampled_from(["RECORD", "SCHEMA", "STATE", "ACTIVATE_VERSION", "BATCH", "X"])},
    optional={
        "stream": st.sampled_from(["s", "t", ""]) | json_values,
        "record": json_values,
        "schema": json_values,
        "value": json_values,
        "version": json_values,
        "key_properties": json_values,
        "encoding": json_values,
        "manifest": json_values,
    },
)


record_ids = st.integers(min_value=-(2**63), max_value=2**63 - 1)
date_times = st.sampled_from(["2024-02-29T10:00:00Z", "1999-12-31T23:59:59.5+02:00"])
valid_lines = st.lists(st.one_of(
    st.builds(lambda i, v: {"type": "RECORD", "stream": "s", "record": {"id": i, "v": v}}, record_ids, date_times),
    st.builds(lambda i: {"type": "RECORD", "stream": "s", "record": {"id": i}}, record_ids),
    st.builds(lambda n: {"type": "STATE", "value": {"n": n}}, st.integers(0, 99)),
), max_size=4)
# Lines a probe would send: fragments of JSON, blank lines, bad UTF-8, near-valid messages.
fragments = st.lists(st.one_of(
    st.binary(max_size=40),
    st.sampled_from([b"", b" ", b"\t", b"{", b"}", b"[]", b"null", b'{"type":"STATE","value":{}}',
                     b'{"type":"RECORD","stream":"s","record":{"id":1}}', b'{"type":"RECORD","stream":"s"}',
                     b'{"type":"STATE","value":{"x":"\xff"}}', b'{"type":"STATE","value":{"a":1,"a":2}}',
                     b'{"type":"RECORD","stream":"s","record":{"id":"1"}}', b'"\\ud800"']),
), max_size=8).map(b"\n".join)


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode() + b"\n"


def summary(msg: Any) -> tuple[Any, ...]:
    if isinstance(msg, RecordMessage):
        return ("RECORD", msg.stream, msg.record)
    if isinstance(msg, StateMessage):
        return ("STATE", msg.value)
    return (msg.type, getattr(msg, "stream", None))


def oracle(message: dict[str, Any]) -> tuple[Any, ...]:
    if message["type"] == "RECORD":
        return ("RECORD", message["stream"], message["record"])
    return ("STATE", message["value"])


def consume(data: bytes) -> tuple[list[Any], ProtocolError | None]:
    """What the reader yields before it stops, and the error it stops with (None: none)."""
    seen: list[Any] = []
    try:
        for msg in MessageReader(io.BytesIO(data), max_line_bytes=4096):
            seen.append(summary(msg))
    except ProtocolError as exc:
        return seen, exc
    return seen, None


def unparseable(line: bytes) -> bool:
    """Certainly not a message: stdlib json cannot even parse it (and it is not blank)."""
    if not line.strip():
        return False
    try:
        json.loads(line)
    except ValueError:
        return True
    return False


def blank(line: bytes) -> bool:
    return not line.strip()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_lines, st.one_of(st.binary(max_size=2048), fragments))
def test_arbitrary_bytes_stop_at_a_bad_line_after_yielding_every_line_before_it(
    prefix: list[dict[str, Any]], data: bytes
) -> None:
    stream = SCHEMA + b"".join(map(encode, prefix)) + data
    seen, error = consume(stream)
    lines = stream.split(b"\n")
    if lines[-1] == b"":
        lines.pop()  # the final newline ends the last line; it starts none
    before = len(prefix) + 1
    expected = [("SCHEMA", "s"), *map(oracle, prefix)]
    assert seen[:before] == expected
    first_bad = next((n for n, line in enumerate(lines, 1) if unparseable(line)), None)
    if error is None:
        assert first_bad is None, (first_bad, lines)
        assert len(seen) == sum(not blank(line) for line in lines)
        return
    assert error.line is not None and str(error).startswith(f"line {error.line}")
    assert before < error.line <= len(lines)
    if first_bad is not None:
        assert error.line <= first_bad
    # every line before the bad one was yielded (or was blank)
    assert len(seen) == sum(not blank(line) for line in lines[:error.line - 1])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_lines, message_like, st.lists(st.integers(0, 9), max_size=3))
def test_a_message_shaped_line_is_yielded_or_named(
    prefix: list[dict[str, Any]], probe: dict[str, Any], after: list[int]
) -> None:
    suffix = [{"type": "STATE", "value": {"after": n}} for n in after]  # valid whatever the probe did
    stream = SCHEMA + b"".join(map(encode, prefix)) + encode(probe) + b"".join(map(encode, suffix))
    seen, error = consume(stream)
    at = len(prefix) + 2
    assert seen[:at - 1] == [("SCHEMA", "s"), *map(oracle, prefix)]
    certainly_bad = probe["type"] == "X" or (probe["type"] == "RECORD" and probe.get("stream") in ("t", ""))
    if error is None:
        assert not certainly_bad, probe
        assert len(seen) == at + len(suffix)
        assert seen[at:] == list(map(oracle, suffix))
    else:
        assert error.line == at, (error, probe)
        assert str(error).startswith(f"line {at}")
        assert len(seen) == at - 1
