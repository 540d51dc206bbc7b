"""The fast record lane's reader: whole chunks of lines decoded and validated at once.

:class:`ChunkReader` reads lines some 64 KiB at a time and decodes every line's envelope
in ONE msgspec call. A run of RECORD lines written compact, ``{"type":"RECORD","stream":S,"record":R}``
(as our taps and most producers write them), is not decoded for its envelopes at all: the records'
text is cut out of the lines by one ``bytes.replace`` of the common head, and the lines that end such
a run (STATE, SCHEMA, ...) are found by searching for their text (the reader alone on the bench
stream's 200,000 records, validation included: 0.23-0.31 -> 0.22 s). Consecutive RECORDs of one stream on
the fast lane (its :class:`protocol._lane.Lane`, chosen by the target when the stream's SCHEMA arrived, holds a
decoder) are validated in ONE more call and handed over as a :class:`protocol._lane.RecordRun`.
Everything else -- control messages, a chunk that does not decode, a run that fails the
fast check, a stream on the reference lane -- goes line by line through
:meth:`MessageReader.parse_line`, the reference path, so every accepted stream and every
error is exactly what the per-line reader gives. The fast checks are never looser than the
full ones; anything they reject is simply re-checked by the reference path. Records of a
producer writing spaced JSON (", " and ": ", detected on a run's first record) are made
compact with msgspec's formatter, which keeps every token's text (numbers stay exact).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from itertools import groupby
from operator import attrgetter, itemgetter
from typing import IO, Any

import msgspec

from protocol._lane import Lane, RecordRun
from protocol._lines import LINE_BLOCK_BYTES, line_blocks
from protocol._messages import Message
from protocol._reader import MessageReader

__all__ = ["CHUNK_BYTES", "ChunkReader"]

CHUNK_BYTES = LINE_BLOCK_BYTES

_NOTHING = msgspec.Raw(b"")


class Envelope(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """One Singer line's envelope. Unknown fields fail the decode (the chunk goes line by line).

    Only ``record`` is left raw: every other value is parsed (and thereby syntax- and
    range-checked) even though control lines are parsed again by the reference path.
    """

    type: str
    stream: str | None = None
    record: msgspec.Raw = _NOTHING
    value: Any = None
    schema: Any = None
    key_properties: Any = None
    bookmark_properties: Any = None
    version: Any = None
    time_extracted: Any = None
    encoding: Any = None
    manifest: Any = None


_LINES = msgspec.json.Decoder(list[Envelope])
_WRAPPED = msgspec.json.Decoder(list[tuple[Envelope]])
_OBJECTS = re.compile(rb"\}[ \t\r]*,[ \t\r]*\{")
_ARRAYS = re.compile(rb"\][ \t\r]*,[ \t\r]*\[")
# A record written with blanks between tokens (json.dumps' default ", " and ": "): such a
# producer's records are reformatted compact (token text, numbers included, unchanged).
_SPACED = re.compile(rb'[,:\[{] |\s[,:\]}]')
_format = msgspec.json.format
# a RECORD line as our taps and most producers write it, up to its record's first byte
_HEAD = b'{"type":"RECORD","stream":'
_NEXT_HEAD = b"\n" + _HEAD
_HEAD_OF = re.compile(rb'\{"type":"RECORD","stream":("(?:[^"\\\n]|\\.)*"),"record":')
# the lines that end a run of RECORDs (another stream's RECORD, or an unusual one, is found by _headed)
_CONTROLS = tuple(b'\n{"type":"%s"' % kind for kind in (b"STATE", b"SCHEMA", b"ACTIVATE_VERSION", b"BATCH"))
# a run of records shorter than this before the next control line: the block goes the envelopes' way
# (each cut-out run costs a few microseconds more than its records' share of one envelope decode)
_FEW_BYTES = 4096
# fewer lines than this per run of alike lines on average: the block goes line by line (a STATE after
# every record: 2.5 s for 200,000 records in runs of one, 1.1 s line by line)
_FEW_LINES = 4
_MANY_RUNS = 16
_FIRST = itemgetter(0)
_TYPE = attrgetter("type")
_STREAM = attrgetter("stream")
_RECORD = attrgetter("record")
_VERSION = attrgetter("version")
_EXTRACTED = attrgetter("time_extracted")


class ChunkReader:
    """Iterate typed messages and :class:`RecordRun` batches from a binary stream of Singer lines.

    ``lane_of(stream)`` is the stream's :class:`Lane` (None before its SCHEMA): only streams on
    the fast lane are handed over as runs. Shares ``reader``'s schema/validator state and line
    numbers.
    """

    def __init__(
        self,
        reader: MessageReader,
        source: IO[bytes],
        lane_of: Callable[[str], Lane | None],
        chunk_bytes: int = CHUNK_BYTES,
    ) -> None:
        self._reader = reader
        self._source = source
        self._lane_of = lane_of
        self._chunk = chunk_bytes

    def __iter__(self) -> Iterator[Message | RecordRun]:
        for data, cut in line_blocks(self._source, self._reader.max_line_bytes, self._chunk):
            if cut < 0:
                yield from self._one_by_one([data])  # the last line (no newline), or one too long: raises
            else:
                yield from self._block(data, 0, cut)

    def _block(self, data: bytes, start: int, cut: int) -> Iterator[Message | RecordRun]:
        """The complete lines data[start:cut] (cut is just after a newline; start is 0 or
        just after a newline): runs of compact RECORD lines cut out by their common head
        (:meth:`_headed`), everything else through the envelopes (:meth:`_enveloped`)."""
        if cut - start > self._reader.max_line_bytes or not _utf8(data, start, cut):
            yield from self._one_by_one(_split(data, start, cut))
            return
        controls = _Controls(data, cut)
        pos = start
        while pos < cut:
            if data.startswith(_HEAD, pos):
                end = controls.after(pos)
                if end - pos < _FEW_BYTES:  # records and control lines in turn: the envelopes, at once
                    yield from self._enveloped(data, pos, cut)
                    return
                run = self._headed(data, pos, end)
                if run is not None:
                    yield run
                    pos = end
                    continue
            else:
                found = data.find(_NEXT_HEAD, pos, cut)
                end = cut if found < 0 else found + 1
            yield from self._enveloped(data, pos, end)
            pos = end

    def _headed(self, data: bytes, pos: int, end: int) -> RecordRun | None:
        """The lines data[pos:end] as one run, when every one is exactly
        ``{"type":"RECORD","stream":S,"record":R}`` written compact, for one stream S on the fast
        lane, and the records R pass its decoder; else None (the envelopes decide).

        The records' text is the lines' with the head and the closing brace cut out, in one
        ``bytes.replace`` of ``}}`` newline head ``{``; that it cut at every line is checked by the
        length it removed. A line with any other key (a version, a time_extracted) leaves its
        record's text followed by more than one JSON value, which the decoder refuses. A record is
        an object: its text is the same as the envelope decoder's (which leaves no blank around it)."""
        head = _HEAD_OF.match(data, pos)
        if head is None or data[end - 3:end] != b"}}\n" or data[head.end()] != 0x7B:  # "{"
            return None
        try:
            stream = msgspec.json.decode(head[1], type=str)
        except msgspec.DecodeError:  # a bad escape: the reference path names the line
            return None
        lane = self._lane_of(stream)
        decoder = lane.decoder if lane is not None else None
        if decoder is None:
            return None
        prefix = head[0]
        body = data[pos + len(prefix):end - 2]
        joined = body.replace(b"}}\n" + prefix + b"{", b"}\n{")  # no blank can hide beside a cut
        try:
            values = decoder.decode_lines(joined)
        except (msgspec.DecodeError, RecursionError):
            return None
        count = len(values)
        if len(body) - len(joined) != (count - 1) * (len(prefix) + 1):
            return None
        first_end = joined.find(b"\n")
        if _SPACED.search(joined, 0, len(joined) if first_end < 0 else first_end) is not None:
            return None  # a producer writing spaced JSON: the envelopes' way makes its records compact
        reader = self._reader
        first = reader.line_number + 1
        reader.line_number += count
        return RecordRun(stream, joined, count, first, values, None, None)

    def _enveloped(self, data: bytes, pos: int, end: int) -> Iterator[Message | RecordRun]:
        """The lines data[pos:end] by their envelopes, decoded at once (or line by line)."""
        if pos or end != len(data):
            data = data[pos:end]
        envelopes = self._envelopes(data, 0, len(data))
        if envelopes is None:
            yield from self._one_by_one(_split(data, 0, len(data)))
        else:
            yield from self._fast(envelopes, data, 0, len(data))

    @staticmethod
    def _envelopes(data: bytes, start: int, cut: int) -> list[Envelope] | None:
        """Every line's envelope, in one call; None if any line is not exactly one envelope.

        The lines are decoded as ``[line1,line2,...]`` when no line holds "}" "," "{" (with
        optional blanks), which alone could make one line hold two objects; otherwise as
        ``[[line1],[line2],...]``, where only a line holding "]" "," "[" could make a
        sub-array straddle lines (such a chunk goes line by line). With that text absent,
        every top-level separator is one of ours: each element is exactly one line.
        """
        if data.find(b"}", start, cut) >= 0 and _OBJECTS.search(data, start, cut) is not None:
            if data.find(b"]", start, cut) >= 0 and _ARRAYS.search(data, start, cut) is not None:
                return None
            decoder: msgspec.json.Decoder[Any] = _WRAPPED
            separator, opening, closing = b"],[", b"[[", b"]]"
        else:
            separator, opening, closing, decoder = b" ,", b"[", b"]", _LINES
        joined = data.replace(b"\n", separator)
        grow = len(separator) - 1
        newlines = (len(joined) - len(data)) // grow  # none after cut - 1, the last one
        before = data.count(b"\n", 0, start) if start else 0  # newlines before start
        try:
            decoded = decoder.decode(b"".join((
                opening, memoryview(joined)[start + grow * before:cut - 1 + grow * (newlines - 1)], closing
            )))
        except (msgspec.DecodeError, RecursionError):  # msgspec recurses: a deep line goes line by line
            return None
        if len(decoded) != newlines - before:
            return None
        return decoded if decoder is _LINES else list(map(_FIRST, decoded))  # type: ignore[no-any-return]

    def _one_by_one(self, lines: list[bytes]) -> Iterator[Message]:
        reader = self._reader
        parse = reader.parse_line
        n = reader.line_number
        for line in lines:
            n += 1
            reader.line_number = n
            msg = parse(line, n)
            if msg is not None:
                yield msg

    def _fast(self, envelopes: list[Envelope], data: bytes, start: int, cut: int) -> Iterator[Message | RecordRun]:
        reader = self._reader
        lines: list[bytes] | None = None
        groups = list(_runs(envelopes))
        if len(groups) >= _MANY_RUNS and len(envelopes) < _FEW_LINES * len(groups):  # such short runs cost more
            yield from self._one_by_one(_split(data, start, cut))
            return
        i = 0
        for kind, stream, version, size in groups:
            j = i + size
            lane = self._lane_of(stream) if kind == "RECORD" and stream is not None else None
            decoder = lane.decoder if lane is not None else None
            if decoder is not None and stream is not None and (version is None or version.__class__ is int):
                joined = b"\n".join(map(_RECORD, envelopes[i:j]))
                try:
                    values = decoder.decode_lines(joined)
                    ok = len(values) == j - i
                    if ok and _SPACED.search(bytes(envelopes[i].record)) is not None:
                        # a producer writing spaced JSON: written compact, token text unchanged
                        joined = b"\n".join([_format(raw, indent=-1) for raw in map(_RECORD, envelopes[i:j])])
                except (msgspec.DecodeError, RecursionError):  # deep records: the reference path decides
                    ok = False
                extracted = list(map(_EXTRACTED, envelopes[i:j])) if ok else None
                if extracted is not None and extracted.count(None) == j - i:
                    extracted = None
                elif extracted is not None and not all(e is None or e.__class__ is str for e in extracted):
                    ok = False  # a time_extracted that is not a string: the reference path keeps it as parsed
                if ok:
                    first = reader.line_number + 1
                    reader.line_number += j - i
                    yield RecordRun(stream, joined, j - i, first, values, version, extracted)
                    i = j
                    continue
            if lines is None:  # every line at once: split again per group, a STATE after each record was quadratic
                lines = _split(data, start, cut)
            yield from self._one_by_one(lines[i:j])
            i = j


def _runs(envelopes: list[Envelope]) -> Iterator[tuple[str, str | None, Any, int]]:
    """(type, stream, version, how many) of each run of consecutive envelopes alike."""
    types = list(map(_TYPE, envelopes))
    streams = list(map(_STREAM, envelopes))
    versions = list(map(_VERSION, envelopes))
    count = len(types)
    if versions.count(None) != count:
        # a version that is not an int (bool included: True == 1) gets a key equal to nothing
        versions = [v if v is None or v.__class__ is int else object() for v in versions]
    if types.count(types[0]) == count and streams.count(streams[0]) == count and (
        versions.count(versions[0]) == count
    ):
        yield types[0], streams[0], versions[0], count  # the usual chunk: records of one stream
        return
    for (kind, stream, version), group in groupby(zip(types, streams, versions, strict=True)):
        yield kind, stream, version, len(list(group))


class _Controls:
    """Where the control lines (STATE, SCHEMA, ACTIVATE_VERSION, BATCH) of a block start, found
    as they are needed, each kind's text searched once per block."""

    def __init__(self, data: bytes, cut: int) -> None:
        self._data = data
        self._cut = cut
        self._next = [-1] * len(_CONTROLS)  # each kind's next newline before such a line (cut: none)

    def after(self, pos: int) -> int:
        """The start of the first control line after ``pos`` (the block's end if none)."""
        found = self._next
        for k, text in enumerate(_CONTROLS):
            if found[k] < pos:
                at = self._data.find(text, pos, self._cut)
                found[k] = self._cut if at < 0 else at
        return min(min(found) + 1, self._cut)


def _utf8(data: bytes, start: int, cut: int) -> bool:
    """msgspec does not check UTF-8 inside the values it skips; orjson refuses bad UTF-8."""
    if data.isascii():
        return True
    try:
        str(memoryview(data)[start:cut], "utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _split(data: bytes, start: int, cut: int, upto: int = -1) -> list[bytes]:
    """The lines of data[start:cut], newlines kept (cut is just after a newline); at least
    ``upto`` of them, or all."""
    lines = memoryview(data)[start:cut - 1].tobytes().split(b"\n", upto)
    if upto < 0 or len(lines) <= upto:
        return [line + b"\n" for line in lines]
    return [line + b"\n" for line in lines[:upto]]
