"""The buffered writer: flushes on STATE and at close; a closed pipe is a clear error."""

from __future__ import annotations

import io
import os
from decimal import Decimal

import orjson
import pytest

from protocol import DownstreamClosed, MessageWriter


class CountingBytesIO(io.BytesIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.writes += 1
        return super().write(data)


def test_records_are_buffered_until_state() -> None:
    out = CountingBytesIO()
    w = MessageWriter(out)
    w.write_schema("s", {"type": "object", "properties": {"id": {"type": "integer"}}}, ["id"])
    for i in range(100):
        w.write_record("s", {"id": i})
    assert out.getvalue() == b""  # nothing written yet: buffered
    w.write_state({"bookmarks": {"s": {"id": 99}}})
    lines = out.getvalue().splitlines()
    assert len(lines) == 102 and out.writes == 1
    assert orjson.loads(lines[-1]) == {"type": "STATE", "value": {"bookmarks": {"s": {"id": 99}}}}
    assert orjson.loads(lines[1]) == {"type": "RECORD", "stream": "s", "record": {"id": 0}}


def test_buffer_flushes_when_full_and_on_close() -> None:
    out = CountingBytesIO()
    w = MessageWriter(out, buffer_bytes=1000)
    for i in range(200):
        w.write_record("s", {"id": i, "pad": "x" * 20})
    assert 0 < out.writes < 200
    w.close()
    assert len(out.getvalue().splitlines()) == 200


def test_record_extras_and_decimals() -> None:
    out = io.BytesIO()
    w = MessageWriter(out)
    amount = Decimal("12345678901234567890.123")
    w.write_record("s", {"amount": amount}, version=7, time_extracted="2024-01-01T00:00:00Z")
    w.close()
    line = out.getvalue()
    assert b'"amount":12345678901234567890.123' in line
    assert orjson.loads(line) == {
        "type": "RECORD", "stream": "s", "record": {"amount": 1.2345678901234567e19},
        "version": 7, "time_extracted": "2024-01-01T00:00:00Z",
    }


def test_stream_names_are_json_escaped() -> None:
    out = io.BytesIO()
    w = MessageWriter(out)
    w.write_record('we"ird\nname', {"id": 1})
    w.close()
    assert orjson.loads(out.getvalue())["stream"] == 'we"ird\nname'


def test_closed_pipe_raises_downstream_closed() -> None:
    r, wfd = os.pipe()
    os.close(r)
    with os.fdopen(wfd, "wb") as stream:
        w = MessageWriter(stream)
        w.write_record("s", {"id": 1})
        with pytest.raises(DownstreamClosed):
            w.write_state({})
        w.write_record("s", {"id": 2})
        with pytest.raises(DownstreamClosed):
            w.flush()
        # the half-written buffer must not raise again when the file object closes
        stream.close()
    assert stream.closed


def test_a_state_equal_to_the_last_one_written_is_not_written_again() -> None:
    out = io.BytesIO()
    w = MessageWriter(out)
    first = {"bookmarks": {"s": {"id": 1}}}
    w.write_state(first)
    w.write_state({"bookmarks": {"s": {"id": 1}}})  # unchanged: nothing new to commit
    w.write_record("s", {"id": 2})
    w.write_state({"bookmarks": {"s": {"id": 1}}})  # records since, but the same resume point
    w.write_state({"bookmarks": {"s": {"id": 2}}})
    w.write_state(first)  # changed back: written
    w.close()
    lines = [orjson.loads(line) for line in out.getvalue().splitlines()]
    assert [m["value"]["bookmarks"]["s"]["id"] if m["type"] == "STATE" else "R" for m in lines] == [1, "R", 2, 1]
