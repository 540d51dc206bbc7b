"""Arbitrary bytes into the reader: it may only ever raise our ProtocolError."""

from __future__ import annotations

import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol import MessageReader, ProtocolError

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


def consume(data: bytes) -> None:
    try:
        for _ in MessageReader(io.BytesIO(data), max_line_bytes=4096):
            pass
    except ProtocolError:
        pass


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_only_raise_protocol_error(data: bytes) -> None:
    consume(data)
    consume(SCHEMA + data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(message_like, max_size=6))
def test_message_shaped_json_only_raises_protocol_error(messages: list[dict[str, object]]) -> None:
    import json

    body = b"".join(json.dumps(m).encode() + b"\n" for m in messages)
    consume(SCHEMA + body)
