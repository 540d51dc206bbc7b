"""Runs of compact RECORD lines cut out by their common head (protocol/_chunks.py ``_headed``).

The chunk reader reads a run of lines ``{"type":"RECORD","stream":S,"record":R}`` written compact
without decoding their envelopes: one ``bytes.replace`` cuts the heads out. Whatever lines surround
them, the records, their text, lines, versions and errors are exactly those of the envelope way.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import protocol._chunks as chunks
from protocol._chunks import ChunkReader
from protocol._errors import ProtocolError
from protocol._jsoncodec import exact_loads
from protocol._lane import RecordRun
from protocol._reader import MessageReader
from tests.unit.lanes import fast_lanes


def _schema(stream: str) -> bytes:
    return orjson.dumps({"type": "SCHEMA", "stream": stream, "key_properties": ["id"], "schema": {
        "type": "object", "required": ["id"], "properties": {
            "id": {"type": "integer"}, "name": {"type": ["string", "null"]}, "x": {"type": ["number", "null"]},
            "o": {"type": ["object", "null"], "properties": {"k": {"type": "integer"}}}}}})


def _head(stream: bytes = b'"s"') -> bytes:
    return b'{"type":"RECORD","stream":' + stream + b',"record":'


# every kind of line that can stand beside a run: clean records, records the head's cut must
# not take (other keys, blanks, other streams, bad values), control lines and garbage
LINES = [
    _head() + b'{"id":1,"name":"a"}}',
    _head() + b'{"id":2,"x":2.50,"o":{"k":3}}}',
    _head() + b'{"id":3,"name":"}}\\n{\\"type\\":\\"RECORD\\""}}',
    _head() + b'{"id": 4, "name": "spaced"}}',
    _head() + b'{"id":5} }',
    _head() + b' {"id":6}}',
    _head() + b'{"id":7},"version":3}',
    _head() + b'{"id":8},"time_extracted":"2024-01-02T00:00:00Z"}',
    b'{"type":"RECORD","stream":"s","version":4,"record":{"id":9}}',
    _head() + b'{"id":"ten"}}',
    _head() + b'{"id":11}',
    _head() + b'{"id":12}}}',
    _head() + b'{"id":13},"record":{"id":14}}',
    _head() + b'{"id":15}} {"type":"RECORD","stream":"s","record":{"id":16}}',
    _head() + b'null}',
    _head() + b'}',
    _head(b'"t"') + b'{"id":17}}',
    _head(b'"\\u0073"') + b'{"id":18}}',
    _head(b'"u"') + b'{"id":19}}',
    _head(b'"\\q"') + b'{"id":22}}',
    _head(b'"\\ud800"') + b'{"id":23}}',
    b'{"type": "RECORD", "stream": "s", "record": {"id": 20}}',
    b'{"type":"STATE","value":{"n":1}}',
    b'{"type":"ACTIVATE_VERSION","stream":"s","version":5}',
    _schema("s"),
    b"",
    _head() + b'{"id":21}}\r',
    b"not json",
]
CLEAN = [LINES[0], LINES[1], LINES[2]]


def _flat(items: Iterable[Any]) -> tuple[list[Any], dict[int, tuple[bytes, bytes]]]:
    """Each record (stream, value as the reference parses it, line, version, time_extracted), each
    other message, the error that ended the input; and the text (its tokens: blanks between them
    are kept or dropped as the run's first record has them, either way) and decoded value of each
    record that came in a run, by line. (Where a block holds a line no envelope decode takes, the
    envelope way reads all of that block's lines one by one, the head's way only that line's run.)"""
    out: list[Any] = []
    texts: dict[int, tuple[bytes, bytes]] = {}
    try:
        for item in items:
            if isinstance(item, RecordRun):
                lines = bytes(item.records).split(b"\n")
                assert len(lines) == item.count == len(item.values)
                extracted = item.extracted or [None] * item.count
                for k, (text, value) in enumerate(zip(lines, item.values, strict=True)):
                    out.append(("RECORD", item.stream, exact_loads(text), item.first_line + k, item.version,
                                extracted[k]))
                    texts[item.first_line + k] = (msgspec.json.format(text, indent=-1), msgspec.json.encode(value))
            elif item.type == "RECORD":
                out.append(("RECORD", item.stream, item.record, item.line, item.version, item.time_extracted))
            else:
                out.append((item.type, item.to_dict(), item.line))
    except ProtocolError as exc:
        out.append(("error", str(exc)))
    return out, texts


def _read(data: bytes, chunk: int) -> tuple[list[Any], dict[int, tuple[bytes, bytes]]]:
    reader = MessageReader(io.BytesIO(data))
    return _flat(ChunkReader(reader, io.BufferedReader(io.BytesIO(data)), fast_lanes(reader), chunk))


def _enveloped_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reader as it was: no line has the head (every block goes through the envelopes)."""
    monkeypatch.setattr(chunks, "_HEAD", b"\x00never")
    monkeypatch.setattr(chunks, "_NEXT_HEAD", b"\n\x00never")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(LINES), max_size=25), st.sampled_from([1, 200, 1 << 20]))
def test_headed_runs_give_what_the_envelopes_give(lines: list[bytes], chunk: int) -> None:
    data = b"\n".join([_schema("s"), _schema("t"), *CLEAN, *lines, *CLEAN]) + b"\n"
    headed, headed_texts = _read(data, chunk)
    with pytest.MonkeyPatch.context() as patch:
        _enveloped_only(patch)
        enveloped, enveloped_texts = _read(data, chunk)
    assert headed == enveloped
    assert {line: headed_texts[line] for line in enveloped_texts} == enveloped_texts


def test_clean_records_between_states_skip_the_envelopes(monkeypatch: pytest.MonkeyPatch) -> None:
    state = b'{"type":"STATE","value":{"n":1}}'
    body = [_head() + b'{"id":%d,"name":"n%d"}}' % (i, i) if i % 200 else state for i in range(1, 2001)]
    data = b"\n".join([_schema("s"), *body]) + b"\n"
    decoded: list[bytes] = []
    envelopes = chunks.ChunkReader._envelopes

    def spy(block: bytes, start: int, cut: int) -> Any:
        decoded.append(block[start:cut])
        return envelopes(block, start, cut)

    monkeypatch.setattr(chunks.ChunkReader, "_envelopes", staticmethod(spy))
    got, texts = _read(data, 1 << 20)
    assert sorted(texts) == [g[3] for g in got if g[0] == "RECORD"] == [i + 1 for i in range(1, 2001) if i % 200]
    assert all(b'"RECORD"' not in text for text in decoded)  # only the SCHEMA and STATE lines were
    assert sum(text.count(b"\n") for text in decoded) == 1 + 10
