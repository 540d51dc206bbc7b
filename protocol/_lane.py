"""The record lane of a stream, decided once, when its SCHEMA arrives.

A stream's records travel one of two lanes:

- the **reference lane**: line by line through :class:`protocol._reader.MessageReader`
  (orjson, the compiled validator); each record reaches its sink's ``add`` as a dict;
- the **fast lane**: the chunked reader (:mod:`protocol._chunks`) decodes and validates
  whole runs of a stream's consecutive records in one msgspec call, with a type compiled
  from the schema (:mod:`protocol._recordtype`), and hands the sink one :class:`RecordRun`
  holding both the exact bytes received and the decoded values.

The target chooses a stream's lane in :func:`choose_lane` when the stream's SCHEMA arrives
(again only when a changed SCHEMA arrives); nothing further down decides it again. A run
the fast check refuses is read again by the reference reader (in the chunked reader, so
errors are the reference path's own); a run the sink does not take in bulk is handed to
its ``add`` one record at a time by :meth:`RecordRun.messages` (in the target, the one
place a run falls back).

That fallback stays, as a safety net that our sinks do not reach: target-jsonl takes every
run, and the SQL sinks take every run of a stream on the fast lane (their bulk rows handle
escapes and long digit runs line by line inside the run, targets/sql/rawrows.py); an SQL
sink refuses a run only when its table no longer maps to bulk rows, which a stream's lane
(chosen from the same table plan) rules out. A sink of another target may refuse runs it
cannot build; :meth:`RecordRun.messages` then gives exactly the reference lane's records,
parsed again from the bytes (the decoded values are lossy, see there).

Off with ``SLUICE_FAST_PATH=0`` or ``"fast_path": false`` in the config (tests compare both).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

import orjson

from protocol._jsoncodec import dumps, loads
from protocol._messages import RecordMessage, SchemaMessage

__all__ = ["Bounds", "Lane", "RecordRun", "choose_lane", "fast_path_enabled", "json_lines"]


def fast_path_enabled(config: Mapping[str, Any]) -> bool:
    """Off with ``SLUICE_FAST_PATH=0`` in the environment or ``"fast_path": false`` in the config."""
    return os.environ.get("SLUICE_FAST_PATH", "1") != "0" and config.get("fast_path", True) is not False


class Lane:
    """One stream's lane: ``decoder`` (a msgspec decoder of the stream's record type) is set
    on the fast lane and None on the reference lane."""

    __slots__ = ("decoder", "stream")

    def __init__(self, stream: str, decoder: Any = None) -> None:
        self.stream = stream
        self.decoder = decoder

    @property
    def fast(self) -> bool:
        return self.decoder is not None

    def __repr__(self) -> str:
        return f"Lane({self.stream!r}, {'fast' if self.fast else 'reference'})"


class Bounds(NamedTuple):
    """The numbers a destination column holds: ``low < n < high`` (both exclusive, exact). ``what``
    names the column type for an error. A compiled record type refuses a number outside them as
    far as msgspec can tell (integers only within 64 bits): such a run leaves the fast lane, and
    the sink checks each record exactly (targets/sql/sink.py)."""

    low: int
    high: int
    what: str

    def holds(self, value: Any) -> bool:
        """Whether a number is within the bounds; a value that is no number (a record not validated,
        ``validate_records: false``) is not this check's to refuse: the destination's own check is."""
        try:
            return bool(self.low < value < self.high)
        except TypeError:
            return True


def choose_lane(schema: SchemaMessage, takes_runs: bool, bounds: Mapping[str, Bounds] | None = None) -> Lane:
    """The lane of ``schema``'s stream: fast when its sink takes runs (``takes_runs``) and the
    schema compiles to a msgspec type; the reference lane otherwise. ``bounds``: the numbers the
    sink's columns hold, per property (a record outside them leaves the fast lane)."""
    if not takes_runs:
        return Lane(schema.stream)
    from protocol._recordtype import compile_record_type  # msgspec: imported only where it is used

    kind = compile_record_type(schema.schema, schema.key_properties, bounds)
    if kind is None:
        return Lane(schema.stream)
    import msgspec

    return Lane(schema.stream, msgspec.json.Decoder(kind))


def json_lines(objects: list[Any]) -> tuple[bytes, bool]:
    """``objects`` as JSON lines joined by b"\\n", and whether orjson wrote them (each float as the
    shortest text that reads back the same float); else the exact encoder did (Decimals, integers
    beyond 64 bits, very deep values).

    Records (dicts) are written in one orjson call as a JSON array, whose n - 1 separators are each
    ``},{``; each ``},{`` becomes a newline, and when exactly n - 1 newlines result (orjson writes
    none of its own: a newline in a string is ``\\n``), none was inside a record (a third of the
    time of one call per record: each call's output buffer costs more than the record). Otherwise,
    one call per object."""
    if len(objects) > 1 and all(o.__class__ is dict for o in objects):
        try:
            text = orjson.dumps(objects)
        except TypeError:  # the exact encoder's, or one level too deep inside the array
            pass
        else:
            lines = text[1:-1].replace(b"},{", b"}\n{")
            if lines.count(b"\n") == len(objects) - 1:  # counting one byte: half the time of three
                return lines, True
    try:
        return b"\n".join(map(orjson.dumps, objects)), True
    except TypeError:
        return b"\n".join([dumps(r) for r in objects]), False


class RecordRun:
    """Consecutive validated RECORDs of one stream from the fast lane.

    ``records`` holds the ``count`` "record" values as the exact bytes received, joined by
    b"\\n" (no newline at the end); the first one was read from line ``first_line``.
    ``values`` holds the same records decoded (instances of the stream's compiled record
    type, in order), ``version`` the "version" of the RECORD messages (one run never
    mixes versions) and ``extracted`` their "time_extracted" strings in order (None when no
    record of the run has one); with a ``decoder`` and no ``values`` given, ``values`` are decoded from
    ``records`` when first read (stream maps' worker processes checked them: a sink that writes the
    text only, target-jsonl, never pays for them). ``faithful`` says that ``values`` hold every number exactly as
    ``records`` write it: true for a run encoded from Python values by orjson (stream maps on the
    target side, protocol/_mapinput.py), whose floats are written as the shortest text that reads
    back the same float; false for text received, where a digit run of 16 or more or a tiny
    exponent can be rounded by the decode, so a sink that writes ``values`` screens ``records``.
    A run made from Python objects (:meth:`of_objects`) encodes ``records`` when first read: a
    sink that writes ``values`` only (target-postgres) never pays for the text. ``lines``: each
    record's line, where they do not follow one another (stream maps' filter dropped some; see
    :meth:`line_of`).
    """

    __slots__ = ("_decoder", "_objects", "_records", "_values", "count", "extracted", "faithful", "first_line",
                 "lines", "stream", "version")

    def __init__(self, stream: str, records: bytes | memoryview, count: int, first_line: int,
                 values: list[Any] | None = None, version: int | None = None,
                 extracted: list[str | None] | None = None, *, faithful: bool = False,
                 lines: list[int] | None = None, decoder: Any = None) -> None:
        self.faithful = faithful
        self.lines = lines
        self.stream = stream
        self._records: bytes | memoryview | None = records
        self._objects: list[Any] | None = None
        self.count = count
        self.first_line = first_line
        self._decoder = decoder
        # None: decoded from the text when first read (with a decoder); no values and no decoder: none
        self._values: list[Any] | None = values if values is not None else None if decoder is not None else []
        self.version = version
        self.extracted = extracted

    @classmethod
    def of_objects(cls, stream: str, objects: list[Any], first_line: int, values: list[Any],
                   version: int | None = None, extracted: list[str | None] | None = None, *,
                   lines: list[int] | None = None) -> RecordRun:
        """A run of records that are Python objects (stream maps' output) and ``values``, their
        decoded form holding every number as the objects do (``faithful``): the text is written
        from ``objects`` when ``records`` is first read."""
        run = cls(stream, b"", len(objects), first_line, values, version, extracted, faithful=True, lines=lines)
        run._records, run._objects = None, objects
        return run

    @property
    def records(self) -> bytes | memoryview:
        records = self._records
        if records is None:
            assert self._objects is not None
            records = json_lines(self._objects)[0]
            self._records, self._objects = records, None
        return records

    @property
    def values(self) -> list[Any]:
        values = self._values
        if values is None:
            values = self._values = self._decoder.decode_lines(bytes(self.records)) if self.count else []
        return values

    def line_of(self, k: int) -> int:
        """The line of the run's record ``k`` (0-based)."""
        return self.first_line + k if self.lines is None else self.lines[k]

    def split(self, head: int) -> tuple[RecordRun, RecordRun]:
        """The first ``head`` records and the rest (0 < head < count)."""
        parts = bytes(self.records).split(b"\n", head)
        values, extracted, lines, decoder = self._values, self.extracted, self.lines, self._decoder
        first = RecordRun(self.stream, b"\n".join(parts[:head]), head, self.first_line,
                          None if values is None else values[:head], self.version,
                          None if extracted is None else extracted[:head], faithful=self.faithful,
                          lines=None if lines is None else lines[:head], decoder=decoder)
        return first, RecordRun(self.stream, parts[head], self.count - head, self.line_of(head),
                                None if values is None else values[head:], self.version,
                                None if extracted is None else extracted[head:], faithful=self.faithful,
                                lines=None if lines is None else lines[head:], decoder=decoder)

    def messages(self) -> Iterator[tuple[dict[str, Any], RecordMessage]]:
        """The run exactly as the reference lane gives it: each record parsed again from its
        bytes, with its message (line, version, time_extracted).

        The one fallback of the fast lane (see the module doc). It parses the bytes, not
        ``values``: the decoded values are not the reference lane's records (a number with a
        digit run a float rounds, an absent optional field decoded as None, date-times as
        ``datetime``); parsing the exact bytes again is the only lossless way back.
        """
        extracted = self.extracted
        for k, raw in enumerate(bytes(self.records).split(b"\n")):
            record = loads(raw)
            yield record, RecordMessage(self.stream, record, self.version,
                                        None if extracted is None else extracted[k], self.line_of(k))
