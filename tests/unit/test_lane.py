"""The record lane: chosen once per SCHEMA, one run-of-records interface, fallback per run."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import protocol._target as target_module
from protocol._chunks import ChunkReader
from protocol._lane import Lane, RecordRun, choose_lane, json_lines
from protocol._messages import RecordMessage, SchemaMessage
from protocol._reader import MessageReader
from protocol._target import Sink, Target
from protocol._writer import MessageWriter

PROPS = {"id": {"type": "integer"}, "name": {"type": ["string", "null"]}}


def _schema(props: dict[str, Any] = PROPS) -> bytes:
    return orjson.dumps({"type": "SCHEMA", "stream": "s", "schema": {"type": "object", "properties": props},
                         "key_properties": ["id"]})


def _records(start: int, count: int) -> list[bytes]:
    return [orjson.dumps({"type": "RECORD", "stream": "s", "record": {"id": i, "name": f"n{i}"}})
            for i in range(start, start + count)]


class _Sink(Sink):
    """Keeps every record in order, noting how each came: in bulk (a run) or one by one."""

    accepts_runs = True
    refuse: Any = staticmethod(lambda run: False)

    def __init__(self, schema: SchemaMessage, loader: Any, settings: Any) -> None:
        super().__init__(schema, loader, settings)
        self.got: list[tuple[str, dict[str, Any], int | None]] = []

    def add(self, record: dict[str, Any], message: RecordMessage) -> None:
        self.got.append(("one", record, message.line))

    def add_run(self, run: RecordRun) -> bool:
        if self.refuse(run):
            return False
        assert len(run.values) == run.count
        records = bytes(run.records).split(b"\n")
        self.got += [("run", orjson.loads(raw), run.first_line + k) for k, raw in enumerate(records)]
        return True

    def flush(self) -> None:
        pass


class _Target(Target):
    name = "target-lane-test"
    sink_class = _Sink


def _run(lines: list[bytes], **config: Any) -> _Target:
    target = _Target({"batch_size_rows": 1000, **config})
    target.run(io.BufferedReader(io.BytesIO(b"\n".join(lines) + b"\n")), MessageWriter(io.BytesIO()))
    return target


def test_the_lane_is_chosen_once_per_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    chosen: list[Lane] = []

    def counting(schema: SchemaMessage, takes_runs: bool, bounds: Any = None) -> Lane:
        chosen.append(choose_lane(schema, takes_runs, bounds))
        return chosen[-1]

    monkeypatch.setattr(target_module, "choose_lane", counting)
    changed = _schema({**PROPS, "x": {"type": "number"}})
    lines = [_schema(), *_records(0, 5000), _schema(), *_records(5000, 10), changed, *_records(5010, 3000)]
    target = _run(lines)
    assert len(chosen) == 2  # the first SCHEMA and the changed one; the same one sent again decides nothing
    assert all(lane.fast for lane in chosen) and chosen[0] is not chosen[1]
    assert target.lanes["s"] is chosen[1]
    got = target.sinks["s"].got  # type: ignore[attr-defined]
    assert [r["id"] for _, r, _ in got] == list(range(8010))
    assert {how for how, _, _ in got} == {"run"}


def test_a_schema_without_a_fast_type_takes_the_reference_lane() -> None:
    target = _run([_schema({"id": {"type": "integer"}, "name": {"type": "string", "pattern": "^n"}}),
                   *_records(0, 50)])
    assert not target.lanes["s"].fast
    got = target.sinks["s"].got  # type: ignore[attr-defined]
    assert [(how, r["id"], line) for how, r, line in got] == [("one", i, i + 2) for i in range(50)]


def test_a_sink_that_takes_no_runs_gets_the_reference_lane(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_Sink, "accepts_runs", False)
    target = _run([_schema(), *_records(0, 20)], fast_path=True)
    assert target.lanes == {}  # no sink of this target takes runs: the chunked reader is not used
    assert {how for how, _, _ in target.sinks["s"].got} == {"one"}  # type: ignore[attr-defined]


@pytest.mark.parametrize("batch", [7, 1000])
def test_a_refused_run_falls_back_record_by_record_in_order(monkeypatch: pytest.MonkeyPatch, batch: int) -> None:
    """Runs the sink refuses reach ``add`` one record at a time, with their lines, in order with the
    runs it takes; the drain points (split at the batch size) are the same for both."""
    monkeypatch.setattr(_Sink, "refuse", staticmethod(lambda run: run.first_line // 10 % 2 == 0))
    lines = [_schema()]
    for k in range(12):  # runs broken up by STATE lines, so that both kinds of run occur
        lines += [*_records(k * 9, 9), b'{"type":"STATE","value":{"k":%d}}' % k]
    target = _run(lines, batch_size_rows=batch)
    got = target.sinks["s"].got  # type: ignore[attr-defined]
    assert {how for how, _, _ in got} == {"one", "run"}
    assert [r["id"] for _, r, _ in got] == list(range(108))
    assert [r["name"] for _, r, _ in got] == [f"n{i}" for i in range(108)]
    expected_lines = [2 + (i // 9) * 10 + i % 9 for i in range(108)]
    assert [line for _, _, line in got] == expected_lines
    assert target.sinks["s"].committed == 108


def test_a_run_splits_and_gives_its_messages() -> None:
    run = RecordRun("s", b'{"id":1}\n{"id":2}\n{"id":3}', 3, 10, ["a", "b", "c"], 4)
    head, rest = run.split(1)
    assert (bytes(head.records), head.count, head.first_line, head.values) == (b'{"id":1}', 1, 10, ["a"])
    assert (bytes(rest.records), rest.count, rest.first_line, rest.values) == (b'{"id":2}\n{"id":3}', 2, 11, ["b", "c"])
    assert [(r, m.stream, m.version, m.line) for r, m in rest.messages()] == [
        ({"id": 2}, "s", 4, 11), ({"id": 3}, "s", 4, 12)]


def test_a_run_decodes_its_values_when_first_read() -> None:
    """A run a map worker made holds its text and its lane's decoder: ``values`` are decoded when a
    sink first reads them, split runs keep that, and a sink that reads only the text never pays."""
    lane = choose_lane(SchemaMessage("s", {"type": "object", "properties": PROPS}, ["id"]), True)
    text = b'{"id":1,"name":"a"}\n{"id":2,"name":null}\n{"id":3}'
    run = RecordRun("s", text, 3, 10, None, 4, faithful=True, decoder=lane.decoder)
    assert run._values is None
    head, rest = run.split(1)
    assert head._values is None and rest._values is None
    assert rest.values == lane.decoder.decode_lines(b'{"id":2,"name":null}\n{"id":3}')
    every = lane.decoder.decode_lines(text)
    assert run.values == every and head.values == every[:1] and len(every) == 3
    assert RecordRun("s", b"", 0, 1, None, decoder=lane.decoder).values == []
    assert RecordRun("s", b"", 0, 1).values == []


@pytest.mark.parametrize("records", [
    [{"id": 1, "s": "a},{b"}, {"id": 2}],  # the separator inside a string
    [{"id": 1, "l": [{"a": 1}, {"b": 2}]}, {"id": 2}],  # and between objects in a list
    [{"id": 1}, {"id": 2, "n": {"x": {}}}, {}],
    [{"id": 1, "big": 2**70}, {"id": 2}],  # the exact encoder's
    [{"id": 1, "d": Decimal("1.10")}],
    [{"s": "}\n{"}],
    [],
])
def test_json_lines_are_each_record_on_its_line(records: list[dict[str, Any]]) -> None:
    from protocol._jsoncodec import dumps

    text, faithful = json_lines(records)
    assert text == b"\n".join(dumps(r) for r in records)
    assert [json.loads(line) for line in text.split(b"\n")] == [json.loads(dumps(r)) for r in records] if records \
        else text == b""
    assert faithful == (not any("big" in r or "d" in r for r in records))  # orjson wrote them all


@given(st.lists(st.dictionaries(st.sampled_from(["a", "b", "c"]), st.recursive(
    st.none() | st.integers(-2**60, 2**60) | st.text(alphabet="{},[]\"ab\n"),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["x", "y"]), inner, max_size=2),
    max_leaves=6), max_size=3), max_size=8))
def test_json_lines_match_one_call_per_record(records: list[dict[str, Any]]) -> None:
    assert json_lines(records) == (b"\n".join(orjson.dumps(r) for r in records), True)


# -- the fallback: a refused run's records are exactly the reference lane's --------------------

_WIDE = {"id": {"type": "integer"}, "name": {"type": ["string", "null"]}, "amount": {"type": ["number", "null"]},
         "at": {"type": ["string", "null"], "format": "date-time"}}
_AMOUNTS = [b"2.50", b"7", b"0.10000000000000001", b"12345678901234567.891", b"1e3", b"-0.0", b"null"]
_NAMES = st.sampled_from(["Ada", 'say "hi"\n', "Zo\u00eb \u2603", "back\\slash", "nul\x00", "\U0001f600", ""])


@st.composite
def _record_lines(draw: st.DrawFn) -> list[bytes]:
    lines = []
    for i in range(draw(st.integers(1, 30))):
        body = b'{"id":%d' % i
        if draw(st.booleans()):  # an optional field left out: the decoded value says None
            body += b',"name":' + json.dumps(draw(_NAMES), ensure_ascii=draw(st.booleans())).encode()
        body += b',"amount":' + draw(st.sampled_from(_AMOUNTS))
        if draw(st.booleans()):
            at = draw(st.sampled_from([b"2024-02-29T10:00:00.123456+02:00", b"2023-07-04T18:01:41Z"]))
            body += b',"at":"' + at + b'"'
        head = b'{"type":"RECORD","stream":"s",'
        if draw(st.integers(0, 3)) == 0:
            head += b'"time_extracted":"2024-01-0%dT00:00:00Z",' % draw(st.integers(1, 9))
        lines.append(head + b'"record":' + body + b"}}")
    return lines


@settings(max_examples=200, deadline=None)
@given(_record_lines(), st.integers(1, 12))
def test_a_runs_messages_are_the_reference_lanes_records(lines: list[bytes], head: int) -> None:
    """Whatever the fast lane accepts, :meth:`RecordRun.messages` gives what the line-by-line
    reader gives: the same record dicts (exact numbers, absent fields absent, date-times as
    written), lines, versions and time_extracted, also after a split."""
    data = b"\n".join([_schema(_WIDE), *lines]) + b"\n"
    reference = [msg for msg in MessageReader(io.BytesIO(data)) if msg.__class__ is RecordMessage]
    reader = MessageReader(io.BytesIO(data))
    lanes: dict[str, Lane] = {}
    runs: list[RecordRun] = []
    for msg in ChunkReader(reader, io.BufferedReader(io.BytesIO(data)), lanes.get):
        if msg.__class__ is SchemaMessage:
            lanes["s"] = choose_lane(msg, True)
        else:
            assert msg.__class__ is RecordRun  # every record here is one the fast lane takes
            runs.append(msg)
    if runs and runs[0].count > head:
        runs[:1] = runs[0].split(head)
    got = [(r, m.stream, m.version, m.time_extracted, m.line) for run in runs for r, m in run.messages()]
    assert got == [(m.record, m.stream, m.version, m.time_extracted, m.line) for m in reference]


def test_the_decoded_values_are_not_the_reference_records() -> None:
    """Why the fallback parses the bytes again: the decoded values lose what the reference keeps."""
    line = (b'{"type":"RECORD","stream":"s","time_extracted":"2024-01-02T00:00:00Z",'
            b'"record":{"id":1,"amount":0.10000000000000001,"at":"2023-07-04T18:01:41Z"}}')
    data = _schema(_WIDE) + b"\n" + line + b"\n"
    lanes: dict[str, Lane] = {}
    out = list(ChunkReader(MessageReader(io.BytesIO(data)), io.BufferedReader(io.BytesIO(data)),
                           lambda s: lanes.setdefault(s, choose_lane(SchemaMessage("s", {"type": "object",
                                                                                      "properties": _WIDE}, []),
                                                                       True))))
    run = out[-1]
    assert isinstance(run, RecordRun)
    value = run.values[0]
    assert (value.f1, value.f2, value.f3.isoformat()) == (None, 0.1, "2023-07-04T18:01:41+00:00")  # lossy
    [(record, message)] = list(run.messages())
    assert record == {"id": 1, "amount": Decimal("0.10000000000000001"), "at": "2023-07-04T18:01:41Z"}
    assert (message.time_extracted, message.line) == ("2024-01-02T00:00:00Z", 2)
