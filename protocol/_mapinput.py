"""Stream maps on the target side: the messages read, mapped before they reach the sinks.

With stream maps configured (see protocol/maps/), :class:`MappedInput` sits between the reader
and the target's message loop. The reader still reads and validates what arrives (the *input*
streams, their SCHEMAs, their records); the loop and the sinks see only the *output* streams:

- a SCHEMA becomes the mapped SCHEMAs of its output streams (none when the stream is dropped);
  the input stream's own record lane (protocol/_lane.py) is chosen here, for the chunked reader;
- a RECORD becomes its output RECORDs (none when filtered out or dropped), each checked against
  its output stream's mapped SCHEMA (as a target reading the mapper's output would check it);
- a fast-lane :class:`RecordRun` stays a run: its records are decoded in one call (exactly, from
  their bytes: only lines that may hold a number a float rounds are read again, and tiny exponents
  are searched for only where the run's decoded values hold a 0.0), mapped, encoded again and
  checked against the output stream's compiled type in one more call, so the sink still takes them
  in bulk. An output run encoded by orjson is ``faithful`` (its floats are Python's, written as the
  shortest text that reads back the same): the sink does not search it again. Records of an output
  stream not on the fast lane, or that its fast check refuses, go on as RECORD messages;
- an ACTIVATE_VERSION goes to every output stream; a BATCH's records are read from its files
  (validated against the input schema), mapped and go on as RECORD messages;
- STATE passes untouched.

Without maps this module is not loaded and the loop reads the reader's messages directly.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from protocol._batchfiles import batch_records
from protocol._errors import ProtocolError
from protocol._exactdecode import loads_decimals_lines
from protocol._jsoncodec import loads_run
from protocol._lane import Lane, RecordRun, choose_lane, json_lines
from protocol._messages import ActivateVersionMessage, BatchMessage, RecordMessage, SchemaMessage, StateMessage
from protocol._recordtype import TinyNumbers, number_fields
from protocol._schema import RecordValidator

if TYPE_CHECKING:
    from protocol._reader import MessageReader
    from protocol._target import Target
    from protocol.maps import StreamMaps

__all__ = ["MappedInput"]


class MappedInput:
    """Maps a target's input. ``lanes`` holds each *input* stream's lane (the chunked reader's
    ``lane_of``); the target's own ``lanes`` hold those of the output streams, chosen as usual
    when their mapped SCHEMAs reach the loop."""

    def __init__(self, target: Target, maps: StreamMaps, reader: MessageReader, fast_lanes: bool) -> None:
        self.target = target
        self.maps = maps
        self.reader = reader
        self.fast_lanes = fast_lanes
        self.lanes: dict[str, Lane] = {}
        self.tiny: dict[str, TinyNumbers] = {}  # per input stream on the fast lane
        self.checks: dict[str, RecordValidator] = {}  # per output stream: its mapped SCHEMA's validator
        reader.exact_streams = maps.exact_streams  # one set: the maps decide when a SCHEMA arrives
        self.encode_runs = False  # in a map worker: every output run as text (protocol/_mapruns.py)

    def messages(self, source: Iterable[Any], workers: int = 1, stream: Any = None) -> Iterator[Any]:
        """The mapped messages; with ``workers`` > 1, runs are mapped by that many processes
        (protocol/_mapruns.py); ``stream``: the input they are read from (a pipe's reads may wait)."""
        if workers < 2 or not self.fast_lanes:
            yield from self._messages(source)
            return
        from protocol._idle import may_wait
        from protocol._mapruns import RunPool

        pool = RunPool(self, workers, may_wait(stream))
        failed = True
        try:
            for msg in source:
                cls = msg.__class__
                if cls is RecordRun and pool.takes(msg):
                    yield from pool.submit(msg, self.tiny[msg.stream](msg.values))
                elif cls is StateMessage:
                    yield from pool.pass_on(msg)
                else:
                    yield from pool.drain()
                    if cls is SchemaMessage:
                        pool.schema(msg)
                    yield from self._messages((msg,))
                if pool.would_wait():
                    yield from pool.drain()
            yield from pool.drain()
            failed = False
        finally:
            pool.close(failed=failed)
            pool.report()

    def _messages(self, source: Iterable[Any]) -> Iterator[Any]:
        maps = self.maps
        record = maps.record
        for msg in source:
            cls = msg.__class__
            if cls is RecordMessage:
                for stream, out in record(msg.stream, msg.record, msg.line):
                    self._check(stream, out, msg.line)
                    yield RecordMessage(stream, out, msg.version, msg.time_extracted, msg.line)
            elif cls is RecordRun:
                yield from self.mapped_run(msg)
            elif cls is SchemaMessage:
                if self.fast_lanes:
                    self.lanes[msg.stream] = choose_lane(msg, self.target.raw_capable())
                    self.tiny[msg.stream] = TinyNumbers(number_fields(msg.schema))
                for mapped in maps.schema(msg):
                    mapped.line = msg.line
                    self._checker(mapped)
                    yield mapped
            elif cls is ActivateVersionMessage:
                for stream in maps.streams(msg.stream):
                    yield ActivateVersionMessage(stream, msg.version, msg.line)
            elif cls is BatchMessage:
                yield from self._batch(msg)
            else:
                yield msg

    def _checker(self, schema: SchemaMessage) -> None:
        """The check of an output stream's records against its mapped SCHEMA, as a target reading the
        mapper's output checks them (a map can make a value its SCHEMA does not allow: ``x / 2`` of
        an integer ``x``). Runs are checked by the output lane's type (:meth:`_output`)."""
        if not self.reader.validate_records:
            return
        try:
            self.checks[schema.stream] = RecordValidator(schema.stream, schema.schema, schema.key_properties)
        except ProtocolError as exc:
            raise ProtocolError(exc.detail, line=schema.line, stream=schema.stream) from exc

    def _check(self, stream: str, record: dict[str, Any], line: int | None) -> None:
        check = self.checks.get(stream)
        if check is not None:
            check(record, line)

    def _batch(self, msg: BatchMessage) -> Iterator[RecordMessage]:
        reader = self.reader
        validator = reader.validator(msg.stream) if reader.validate_records else None
        record = self.maps.record
        for values in batch_records(msg, validator, decimals=msg.stream in self.maps.exact_streams):
            for stream, out in record(msg.stream, values, msg.line):
                self._check(stream, out, msg.line)
                yield RecordMessage(stream, out, line=msg.line)

    def mapped_run(self, run: RecordRun, tiny: bool | None = None) -> Iterator[RecordMessage | RecordRun]:
        """One input run as output runs (one per output stream), or RECORDs where a run cannot be;
        ``tiny``: whether its text is searched for tiny exponents (None: asked of its values)."""
        stream = run.stream
        if stream in self.maps.exact_streams:  # a map may write a decimal as text: its digits as written
            records, exact = loads_decimals_lines(bytes(run.records)), True
        else:  # exact: the bytes, not the decoded values (a run's stream is on the fast lane: its SCHEMA set self.tiny)
            if tiny is None:
                tiny = self.tiny[stream](run.values)
            records, exact = loads_run(bytes(run.records), tiny=tiny)
        if run.extracted is not None:
            yield from self._stamped(run, records, exact)
            return
        # the usual run: each output stream's records in order, no per-record stamps
        plan = self.maps.plan(stream)
        assert plan is not None  # a run's stream is on a lane: its SCHEMA was mapped
        lines = range(run.first_line, run.first_line + len(records))
        if len(plan) == 1:
            name, apply = plan[0]
            outs = list(map(apply, records, lines))
            if None not in outs:  # one output per input record: their lines follow the run's
                yield from self._output(name, outs, None, run, exact)
                return
            kept = [(out, line) for out, line in zip(outs, lines, strict=True) if out is not None]
            if kept:  # none when the filter kept none
                yield from self._output(name, [k[0] for k in kept], None, run, exact, [k[1] for k in kept])
            return
        grouped: dict[str, tuple[list[dict[str, Any]], list[int]]] = {}
        for values, line in zip(records, lines, strict=True):
            for name, apply in plan:
                out = apply(values, line)
                if out is not None:
                    kept_outs, kept_lines = grouped.setdefault(name, ([], []))
                    kept_outs.append(out)
                    kept_lines.append(line)
        for name, (outs, out_lines) in grouped.items():
            yield from self._output(name, outs, None, run, exact, out_lines)

    def _stamped(self, run: RecordRun, records: list[dict[str, Any]], exact: bool
                 ) -> Iterator[RecordMessage | RecordRun]:
        """A run whose records carry time_extracted: each output record keeps its own."""
        assert run.extracted is not None
        outs: dict[str, tuple[list[dict[str, Any]], list[str | None], list[int]]] = {}
        record = self.maps.record
        for k, values in enumerate(records):
            for name, out in record(run.stream, values, run.first_line + k):
                kept, stamps, lines = outs.setdefault(name, ([], [], []))
                kept.append(out)
                stamps.append(run.extracted[k])
                lines.append(run.first_line + k)
        for name, (kept, stamps, lines) in outs.items():
            yield from self._output(name, kept, stamps, run, exact, lines)

    def _output(self, stream: str, records: list[dict[str, Any]], extracted: list[str | None] | None,
                run: RecordRun, exact: bool, lines: list[int] | None = None) -> Iterator[RecordMessage | RecordRun]:
        """The mapped records of one output stream as a run, when its lane's type takes them all;
        ``exact``: the input run held a number read exactly (a Decimal), which a float would round;
        ``lines``: each record's input line (None: one record per line of the run, in order)."""
        lane = self.target.lanes.get(stream)
        if lane is not None and lane.decoder is not None:
            # checked as Python objects: no text unless the sink reads it; in a map worker for a sink that
            # reads only the text, the same check, then the text (protocol/_mapruns.py)
            if not exact and (not self.encode_runs or not self.target.sink_class.run_values):
                values = _convert(lane, records)
                if values is not None and not self.encode_runs:
                    yield RecordRun.of_objects(stream, records, run.first_line, values, run.version, extracted,
                                               lines=lines)
                    return
                if values is not None:
                    encoded, faithful = json_lines(records)
                    yield RecordRun(stream, encoded, len(records), run.first_line, None, run.version, extracted,
                                    faithful=faithful, lines=lines, decoder=lane.decoder)
                    return
            encoded, faithful = json_lines(records)
            values = _decode(lane, encoded)
            if values is not None and len(values) == len(records):
                if self.encode_runs:  # a map worker's: the values are decoded again where a sink reads them
                    values = None
                yield RecordRun(stream, encoded, len(records), run.first_line, values, run.version, extracted,
                                faithful=faithful, lines=lines, decoder=lane.decoder)
                return
        for k, out in enumerate(records):
            line = run.first_line + k if lines is None else lines[k]
            self._check(stream, out, line)
            yield RecordMessage(stream, out, run.version, None if extracted is None else extracted[k], line)


def _convert(lane: Lane, records: list[dict[str, Any]]) -> list[Any] | None:
    """The output stream's check of mapped records: msgspec's conversion to the lane's type (the
    same rules as decoding their JSON text; a Decimal would become a float, so runs holding one
    are not converted), or None when it refuses them."""
    import msgspec

    try:
        return msgspec.convert(records, _many(lane.decoder.type))  # type: ignore[no-any-return]
    except (msgspec.ValidationError, RecursionError):
        return None


@functools.cache
def _many(kind: Any) -> Any:
    return list[kind]  # type: ignore[valid-type]


def _decode(lane: Lane, encoded: bytes) -> list[Any] | None:
    """The output stream's fast check: the decoded values, or None when it refuses the records."""
    import msgspec

    try:
        return lane.decoder.decode_lines(encoded)  # type: ignore[no-any-return]
    except (msgspec.DecodeError, RecursionError):
        return None
