"""The buffered writer: flushes on STATE and at close; a closed pipe is a clear error."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from decimal import Decimal

import orjson
import pytest

from protocol import (
    ActivateVersionMessage,
    BatchMessage,
    DownstreamClosed,
    Message,
    MessageWriter,
    RecordMessage,
    SchemaMessage,
    StateMessage,
)


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


def _trace(out: io.BytesIO) -> list[object]:
    """Each line as the STATE's id, or the message type."""
    lines = [orjson.loads(line) for line in out.getvalue().splitlines()]
    return [m["value"]["bookmarks"]["s"]["id"] if m["type"] == "STATE" else m["type"] for m in lines]


def test_a_checkpoint_equal_to_the_last_state_written_is_not_written_again() -> None:
    out = io.BytesIO()
    w = MessageWriter(out)
    first = {"bookmarks": {"s": {"id": 1}}}
    w.write_state(first)
    w.write_state({"bookmarks": {"s": {"id": 1}}})  # unchanged: nothing new to commit
    w.write_record("s", {"id": 2})
    # records since, but the same resume point: a rerun from it sends record 2 again, so it must
    # not be what a target commits record 2 under (a keyless full-table read checkpoints this way)
    w.write_state({"bookmarks": {"s": {"id": 1}}})
    w.write_state({"bookmarks": {"s": {"id": 2}}})
    w.write_state(first)  # changed back: written
    w.close()
    assert _trace(out) == [1, "RECORD", 2, 1]


def test_the_final_state_is_written_when_anything_was_written_since_the_last_one() -> None:
    state = {"bookmarks": {"s": {"id": 1}}}
    out = io.BytesIO()
    w = MessageWriter(out)
    w.write_state(state)
    w.write_state(state, final=True)  # nothing since: the line just written would repeat
    assert _trace(out) == [1]
    w.write_schema("t", {"type": "object"})
    w.write_state(state, final=True)  # the output ends with its STATE, even after a stream with no records
    assert _trace(out) == [1, "SCHEMA", 1]
    w.write_record("s", {"id": 1})
    w.write_state(state)  # a checkpoint that did not move
    w.write_state(state, final=True)  # the run's end: the output ends with a STATE after the record
    w.write_state(state, final=True)
    w.write_activate_version("s", 7)
    w.write_state(state, final=True)
    assert _trace(out) == [1, "SCHEMA", 1, "RECORD", 1, "ACTIVATE_VERSION", 1]


def test_the_final_state_counts_records_a_full_buffer_already_flushed() -> None:
    state = {"bookmarks": {"s": {"id": 1}}}
    out = CountingBytesIO()
    w = MessageWriter(out, buffer_bytes=100)
    w.write_state(state)
    for i in range(20):
        w.write_record("s", {"id": i, "pad": "x" * 20})
    w.flush()  # as a full buffer does: the records left, nothing is pending
    assert out.writes > 2
    w.write_state(state, final=True)
    assert _trace(out)[-2:] == ["RECORD", 1]
    writes = out.writes
    w.write_record("s", {"id": 99})
    w.write_state({"bookmarks": {"s": {"id": 99}}}, final=True)
    assert out.writes == writes + 1  # a STATE leaves in one write with the records before it


def test_a_checkpoint_equal_to_the_state_the_run_started_from_is_skipped() -> None:
    start = {"bookmarks": {"s": {"id": 1}}}
    out = io.BytesIO()
    w = MessageWriter(out)
    w.resume_from(start)
    assert out.getvalue() == b""
    w.write_record("s", {"id": 1})
    w.write_state({"bookmarks": {"s": {"id": 1}}})  # did not move: a rerun sends record 1 again
    w.write_state(start, final=True)
    w.write_state({"bookmarks": {"s": {"id": 2}}})
    assert _trace(out) == ["RECORD", 1, 2]
    nothing = io.BytesIO()
    idle = MessageWriter(nothing)
    idle.resume_from(start)
    idle.write_state(start, final=True)  # a run that wrote nothing still ends with its STATE
    assert _trace(nothing) == [1]


def _written(action: Callable[[MessageWriter], None]) -> bytes:
    out = io.BytesIO()
    w = MessageWriter(out)
    action(w)
    w.close()
    return out.getvalue()


SCHEMA = {"type": "object", "properties": {"id": {"type": "integer"}, "at": {"type": "string"}}}
# values chosen to catch an encoder that differs: non-ASCII, an escape, a long exact number, nesting
STATE_VALUE = {"bookmarks": {"é\"s": {"replication_key_value": Decimal("1234567890.1234567890123"),
                                      "ids": [1, 2**70], "at": "2024-01-01T00:00:00+01:00"}}}


@pytest.mark.parametrize("message", [
    SchemaMessage("s", SCHEMA, ["id"], ["at"]),
    SchemaMessage("s", SCHEMA),
    SchemaMessage("é\n", SCHEMA, ["id", "at"]),
    ActivateVersionMessage("s", 1701234567890),
    BatchMessage("s", {"format": "jsonl", "compression": "gzip"}, ["file:///tmp/a.jsonl.gz"]),
])
def test_control_messages_leave_as_their_own_type_encodes_them(message: Message) -> None:
    line = _written(lambda w: w.write_message(message))
    assert line == message.encode()
    assert orjson.loads(line) == message.to_dict()


def test_the_typed_control_paths_write_what_the_message_types_encode() -> None:
    schema = SchemaMessage("s", SCHEMA, ["id"], ["at"])
    assert _written(lambda w: w.write_schema("s", SCHEMA, ["id"], ["at"])) == schema.encode()
    assert _written(lambda w: w.write_schema("s", SCHEMA)) == SchemaMessage("s", SCHEMA).encode()
    activate = ActivateVersionMessage("s", 7)
    assert _written(lambda w: w.write_activate_version("s", 7)) == activate.encode()
    state = StateMessage(STATE_VALUE)
    assert _written(lambda w: w.write_state(STATE_VALUE)) == state.encode()
    assert _written(lambda w: w.write_message(state)) == state.encode()
    assert _written(lambda w: (w.write_message(state), w.write_message(state))) == state.encode()  # a repeat


@pytest.mark.parametrize(("version", "extracted"), [(None, None), (3, None), (None, "2024-01-01T00:00:00Z"),
                                                  (3, "2024-01-01T00:00:00Z")])
def test_the_hand_built_record_paths_match_the_record_type(version: int | None, extracted: str | None) -> None:
    record = {"id": 2**70, "n": Decimal("0.10"), "s": 'a"b\nc é', "nested": {"l": [1, None]}}
    want = RecordMessage("é", record, version, extracted).encode()
    assert _written(lambda w: w.write_record("é", record, version=version, time_extracted=extracted)) == want
    if extracted is None:
        rows = b'{"id":1}\n{"s":"a\\nb"}\n'
        want = b"".join(RecordMessage("s", orjson.loads(r), version).encode() for r in rows.splitlines())
        assert _written(lambda w: w.write_records_json("s", rows, version=version)) == want


def test_golden_bytes() -> None:
    def run(w: MessageWriter) -> None:
        w.write_schema("users", {"type": "object", "properties": {"id": {"type": "integer"}}}, ["id"], ["id"])
        w.write_schema("t", {})
        w.write_record("users", {"id": 1, "name": "Zoë \"Z\""})
        w.write_record("users", {"id": 2}, version=5, time_extracted="2024-01-01T00:00:00Z")
        w.write_records_json("t", b'{"a":1.50}\n{"a":2}\n', version=5)
        w.write_activate_version("users", 5)
        w.write_message(BatchMessage("t", {"format": "jsonl"}, ["file:///b.jsonl"]))
        w.write_state({"bookmarks": {"users": {"replication_key_value": Decimal("12345678901234567.5")}}})
        w.write_state_value({"bookmarks": {}})

    assert _written(run) == (
        b'{"type":"SCHEMA","stream":"users","schema":{"type":"object","properties":{"id":{"type":"integer"}}},'
        b'"key_properties":["id"],"bookmark_properties":["id"]}\n'
        b'{"type":"SCHEMA","stream":"t","schema":{},"key_properties":[]}\n'
        b'{"type":"RECORD","stream":"users","record":{"id":1,"name":"Zo\xc3\xab \\"Z\\""}}\n'
        b'{"type":"RECORD","stream":"users","record":{"id":2},"version":5,"time_extracted":"2024-01-01T00:00:00Z"}\n'
        b'{"type":"RECORD","stream":"t","record":{"a":1.50},"version":5}\n'
        b'{"type":"RECORD","stream":"t","record":{"a":2},"version":5}\n'
        b'{"type":"ACTIVATE_VERSION","stream":"users","version":5}\n'
        b'{"type":"BATCH","stream":"t","encoding":{"format":"jsonl"},"manifest":["file:///b.jsonl"]}\n'
        b'{"type":"STATE","value":{"bookmarks":{"users":{"replication_key_value":12345678901234567.5}}}}\n'
        b'{"bookmarks":{}}\n'
    )
