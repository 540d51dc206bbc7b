"""The target side of the kit: the message loop, sinks, and the delivery guarantee.

A target emits a STATE only after every record before it is durably committed: STATE messages
are held until a *drain* (every sink flushed and committed), and a drain happens when a sink's
batch is full, when a held STATE is older than ``state_flush_seconds``, before a schema change
or ACTIVATE_VERSION, and at the end.

Under `sluice` (see protocol/_exactly_once.py) a target that supports it is exactly-once: a
drain only *writes* (rows into the open transaction, bytes into the file), and commits happen
only at a STATE message, with that STATE's value stored in the same transaction (when
``state_flush_seconds`` passed or ``batch_size_rows`` records wait since the last commit), and
at the end: the records after the last STATE only if the runner says the tap exited 0.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import IO, Any, ClassVar

from protocol._batchfiles import batch_records
from protocol._errors import ProtocolError, TargetError, Terminated, TruncatedLineError, stop_description
from protocol._idle import idle_aware
from protocol._jsoncodec import deep_recursion
from protocol._lane import Bounds, Lane, RecordRun, choose_lane, fast_path_enabled
from protocol._mapwriter import stream_maps_from_config
from protocol._messages import (
    ActivateVersionMessage,
    BatchMessage,
    RecordMessage,
    SchemaMessage,
    StateMessage,
)
from protocol._metrics import emit_metric
from protocol._reader import MessageReader
from protocol._settings import setting
from protocol._settings_check import with_kit_settings
from protocol._signals import stop_held
from protocol._target_eo import ExactlyOnceMixin
from protocol._writer import MessageWriter

__all__ = ["Sink", "Target"]

log = logging.getLogger("sluice.target")

CHECK_EVERY = 4096


class Sink:
    """Receives one stream's records. Subclasses implement ``add`` and ``flush``. A sink is
    given its SCHEMA, its ``loader`` (where the records go: :meth:`Target.loader_for`) and the
    target's frozen ``settings``, nothing else; it never reaches back into the target.

    A sink that sets ``accepts_runs = True`` (read when its stream's SCHEMA arrives, see
    protocol/_lane.py) also implements :meth:`add_run`; the target then hands it runs of
    validated records (the fast lane).
    """

    accepts_runs: bool = False
    #: whether ``add_run`` reads ``run.values`` (false: only ``run.records``, the text). With stream
    #: maps, a sink that reads only the text gets its runs mapped on several processes by default
    #: (``map_workers``, protocol/_mapruns.py); one that reads the values would decode each again here.
    run_values: bool = True
    #: the numbers each property's column holds (read with ``accepts_runs``): a record with one
    #: outside them leaves the fast lane (protocol.Bounds), and the sink's ``add`` names it
    bounds: Mapping[str, Bounds] = MappingProxyType({})

    def __init__(self, schema: SchemaMessage, loader: Any, settings: Any) -> None:
        self.loader = loader
        self.settings = settings
        self.stream = schema.stream
        self.schema = schema.schema
        self.key_properties = schema.key_properties
        self.pending = 0  # records added since the last flush
        self.flushed = 0  # records flushed and not yet committed
        self.committed = 0

    def add(self, record: dict[str, Any], message: RecordMessage) -> None:
        raise NotImplementedError

    def add_run(self, run: RecordRun) -> bool:
        """Take a :class:`protocol._lane.RecordRun` in bulk: ``run.count`` validated records, as
        the exact JSON bytes received (``run.records``) and decoded (``run.values``). False: not
        this run; the target then hands its records to :meth:`add` one by one. The target counts
        them in ``pending`` either way.
        """
        return False

    def flush(self) -> None:
        """Make every added record durable. Called only by the target's drain."""
        raise NotImplementedError

    def update_schema(self, schema: SchemaMessage) -> None:
        """A new SCHEMA for this stream arrived (the sink was drained first)."""
        self.schema = schema.schema
        self.key_properties = schema.key_properties

    def activate_version(self, version: int) -> None:
        log.info("stream '%s': ACTIVATE_VERSION %s ignored by this target", self.stream, version)

    def checkpoint(self) -> None:
        """A held STATE is about to be emitted; every sink has flushed.

        Everything this sink flushed so far is now covered by that STATE. Sinks that can
        roll back (file targets truncate on :meth:`abort`) move their rollback point here,
        so a failure never leaves records after the last emitted STATE. Default: nothing.
        """

    def abort(self) -> None:
        """Drop and undo what was not committed (called by :meth:`Target.abort`). Default: nothing."""

    def close(self) -> None:
        """Release resources after a successful final drain."""


class Target(ExactlyOnceMixin):
    """Base of every target. Subclasses set ``name``, ``settings_schema`` and ``sink_class``,
    build :attr:`settings` from the validated config and give each sink its :meth:`loader_for`."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    settings_schema: ClassVar[dict[str, Any]] = {"type": "object", "properties": {}}
    capabilities: ClassVar[list[str]] = ["about", "stream-maps", "schema-flattening"]
    kind: ClassVar[str] = "target"
    sink_class: ClassVar[type[Sink]] = Sink
    settings: Any = None  #: one frozen object built from the validated config, handed to every sink

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.settings_schema = with_kit_settings(cls.settings_schema, target=True)  # in --about too

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = dict(config)
        self.sinks: dict[str, Sink] = {}
        schema = self.settings_schema  # the kit's settings are declared in every target's (with_kit_settings)
        self.batch_size_rows = int(setting(schema, self.config, "batch_size_rows"))
        self.state_flush_seconds = float(setting(schema, self.config, "state_flush_seconds"))
        self.validate_records = bool(setting(schema, self.config, "validate_records"))
        self._pending_state: dict[str, Any] | None = None
        self._state_since = 0.0
        self.lanes: dict[str, Lane] = {}  # each stream's record lane, chosen at its SCHEMA
        self._fast_lanes = False
        self.stream_maps = stream_maps_from_config(self.config, self.name)  # None: no maps asked for
        self.init_exactly_once()

    @classmethod
    def start_early(cls) -> None:
        """Begin work that needs no config while the config is read and checked (a no-op here;
        target-duckdb opens its engine's instance on a thread). Not called for ``--about``."""

    def test_connection(self) -> str:
        return "ok"

    def loader_for(self, schema: SchemaMessage) -> Any:
        """Where the records of ``schema``'s stream go, handed to its sink. Default: nothing."""
        return None

    def make_sink(self, schema: SchemaMessage) -> Sink:
        return self.sink_class(schema, self.loader_for(schema), self.settings)

    def abort(self) -> None:
        """Undo everything not committed: every sink's part, then the destination's open
        transaction (:meth:`rollback`). The one path of every failure, stop and rollback."""
        for sink in self.sinks.values():
            sink.abort()
        self.rollback()

    def rollback(self) -> None:
        """Roll back the destination's open transaction. Default: nothing (sinks undo their part)."""

    # -- the loop ---------------------------------------------------------------------

    def run(self, source: IO[bytes], out: MessageWriter) -> None:
        source = idle_aware(source, self)  # a held STATE goes out when the input falls idle
        reader = MessageReader(source, validate_records=self.validate_records)
        self._out = out
        self._reader = reader
        started = time.monotonic()
        messages: Iterable[Any] = reader
        self._fast_lanes = self.validate_records and self.raw_capable() and fast_path_enabled(self.config)
        mapped = None
        if self.stream_maps is not None:  # the loop sees the mapped streams (protocol/_mapinput.py)
            from protocol._mapinput import MappedInput

            mapped = MappedInput(self, self.stream_maps, reader, self._fast_lanes)
        if self._fast_lanes:
            from protocol._chunks import ChunkReader  # msgspec is imported only when it can be used

            messages = ChunkReader(reader, source, self.lanes.get if mapped is None else mapped.lanes.get)
        if mapped is not None:
            from protocol._mapruns import map_workers

            messages = mapped.messages(messages, map_workers(self.config, self.sink_class.run_values), source)
        stopped: Terminated | None = None
        try:
            if self.control is not None:
                self.start_exactly_once()
                self._committed_at = time.monotonic()
            try:
                self._consume(messages)
            except TruncatedLineError as exc:
                stopped = self._cut_by_a_stop(exc)
            if self.control is not None:
                self._finish_exactly_once()
            else:
                self.drain()
        except BaseException:
            self.abort()
            raise
        for sink in self.sinks.values():
            sink.close()
        if stopped is not None:
            raise stopped
        emit_metric("timer", "sync_duration", round(time.monotonic() - started, 6), {"status": "succeeded"})

    def _cut_by_a_stop(self, exc: TruncatedLineError) -> Terminated:
        """The input ended mid-line. Under `sluice`, a run the runner stopped (protocol/_exactly_once.py)
        cut that line: the target ends as the input's end, committing what a STATE covers, then says
        it was interrupted. Otherwise the line is bad input, as any other."""
        cause = self.control.stopped() if self.control is not None else None
        if cause is None:
            raise exc
        signum = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM}.get(cause, signal.SIGTERM)
        how = stop_description(signum) if cause in ("SIGINT", "SIGTERM") else (
            "stopped by its --timeout" if cause == "timeout" else f"stopped ({cause})")
        log.info("line %s: the input ended in the middle of a line: the tap was stopped", exc.line)
        return Terminated(signum, detail=f"the sluice run was {how}: the input ended at line {exc.line}, in the "
                                         f"middle of a line the stopped tap was writing; nothing after the "
                                         f"last STATE is committed")

    def _consume(self, messages: Iterable[Any]) -> None:
        """The message loop: every message to its sink, drains at their points (see the module doc)."""
        sinks = self.sinks
        batch = self.batch_size_rows
        since_check = 0
        for msg in messages:
            if msg.__class__ is RecordMessage:
                sink = sinks[msg.stream]
                sink.add(msg.record, msg)
                sink.pending += 1
                since_check += 1
                if sink.pending >= batch or since_check >= CHECK_EVERY:
                    since_check = self._after_records(sink, since_check)
            elif msg.__class__ is RecordRun:
                since_check = self._add_run(sinks[msg.stream], msg, since_check)
            elif msg.__class__ is StateMessage:
                if self._pending_state is None:
                    self._state_since = time.monotonic()
                self._pending_state = msg.value
                if self.control is not None:
                    self._at_state_boundary()
                else:
                    self._maybe_drain_for_state()
            elif msg.__class__ is SchemaMessage:
                self._on_schema(msg)
            elif msg.__class__ is ActivateVersionMessage:
                self.drain()
                self._sink_for(msg.stream, msg.line).activate_version(msg.version)
                if self.control is None:
                    self.commit()  # what the version deleted (exactly-once: with the next STATE)
            elif msg.__class__ is BatchMessage:
                self._on_batch(msg)

    def _after_records(self, sink: Sink, since_check: int) -> int:
        """The drain points after records were added (one lane or the other): a full batch drains;
        every CHECK_EVERY records a held STATE may be due. Returns the new ``since_check``."""
        if sink.pending >= self.batch_size_rows:
            self.drain()
            return since_check
        if since_check >= CHECK_EVERY:
            self._maybe_drain_for_state()
            return 0
        return since_check

    def _add_run(self, sink: Sink, run: RecordRun | None, since_check: int) -> int:
        """A fast-lane run, split where the sink's pending count reaches the batch size (the
        same drain points as record by record). A run the sink does not take in bulk goes to
        its ``add`` record by record: the one place a run falls back."""
        batch = self.batch_size_rows
        while run is not None:
            room = max(batch - sink.pending, 1)
            head, run = run.split(room) if run.count > room else (run, None)
            if not sink.add_run(head):
                add = sink.add
                for record, message in head.messages():
                    add(record, message)
            sink.pending += head.count
            since_check += head.count
            since_check = self._after_records(sink, since_check)
        return since_check

    def raw_capable(self) -> bool:
        """Whether any sink of this target may take runs (then the chunked reader is used)."""
        return self.sink_class.accepts_runs

    def _choose_lane(self, msg: SchemaMessage, sink: Sink) -> None:
        """Decide the stream's record lane, once per (changed) SCHEMA; see protocol/_lane.py."""
        if self._fast_lanes:
            self.lanes[msg.stream] = choose_lane(msg, sink.accepts_runs, sink.bounds)

    def _sink_for(self, stream: str, line: int) -> Sink:
        sink = self.sinks.get(stream)
        if sink is None:
            raise ProtocolError(f"message for stream '{stream}' before its SCHEMA", line=line, stream=stream)
        return sink

    def _on_schema(self, msg: SchemaMessage) -> None:
        sink = self.sinks.get(msg.stream)
        if sink is None:
            sink = self.sinks[msg.stream] = self.make_sink(msg)
            self._choose_lane(msg, sink)
            return
        with deep_recursion():  # a schema may nest 1,000 levels: == recurses down to the change
            same = sink.schema == msg.schema and sink.key_properties == msg.key_properties
        if same:
            return
        self.drain()
        sink.update_schema(msg)
        self._choose_lane(msg, sink)

    def _on_batch(self, msg: BatchMessage) -> None:
        sink = self._sink_for(msg.stream, msg.line)
        add = sink.add
        since_check = 0
        for record in batch_records(msg, self._reader.validator(msg.stream) if self.validate_records else None):
            add(record, RecordMessage(msg.stream, record, line=msg.line))
            sink.pending += 1
            since_check = self._after_records(sink, since_check + 1)  # batch_size_rows holds inside a BATCH too
        self.drain()

    def _maybe_drain_for_state(self) -> None:
        if (self.control is None and self._pending_state is not None
                and time.monotonic() - self._state_since >= self.state_flush_seconds):
            self.drain()

    def _flush_sinks(self) -> bool:
        """Write every sink's pending records out (not yet committed); True if any were."""
        flushed = [sink for sink in self.sinks.values() if sink.pending]
        for sink in flushed:
            try:
                sink.flush()
            except OSError as exc:
                raise TargetError(f"stream '{sink.stream}': cannot write: {exc}") from exc
            sink.flushed += sink.pending
            self._since_commit += sink.pending
            sink.pending = 0
        return bool(flushed)

    def _count_committed(self) -> None:
        for sink in self.sinks.values():
            if sink.flushed:
                emit_metric("counter", "record_count", sink.flushed, {"stream": sink.stream})
                sink.committed += sink.flushed
                sink.flushed = 0
        self._since_commit = 0

    def _emit_state(self) -> None:
        if self._pending_state is not None:
            for sink in self.sinks.values():
                sink.checkpoint()
            # Singer convention (singer-python, singer-sdk, and what Meltano stores): a target
            # echoes the bare state *value* as one JSON line, not a {"type": "STATE"} message.
            self._out.write_state_value(self._pending_state)
            self._pending_state = None

    def drain(self) -> None:
        """Flush every sink, commit, then emit the held STATE (if any).

        Exactly-once: only flush; the commit waits for a STATE boundary (see the module doc).
        """
        if self.control is not None:
            self._flush_sinks()
            return
        if not (self._flush_sinks() or any(sink.flushed for sink in self.sinks.values())):
            self._count_committed()
            self._emit_state()
            return
        # From the commit to its STATE, a SIGTERM/SIGINT waits (protocol/_signals.py): a commit
        # that went through is always followed by its STATE; a failed one reports its own error.
        with stop_held(self.commit_done()):
            try:
                self.commit()
            except OSError as exc:
                raise TargetError(f"cannot commit: {exc}") from exc
            self._count_committed()
            self._emit_state()

    def commit_done(self) -> str:
        """What a stop signal that waited for a commit says was done first."""
        if self._pending_state is not None:
            return "the commit in flight went through and the STATE it covers was emitted"
        return "the commit in flight went through (no STATE to emit)"

    def commit(self) -> None:
        """Make every flushed sink durable at once: by the drain before the STATE, and after an
        ACTIVATE_VERSION. Default: nothing (each sink's ``flush`` is durable by itself); targets
        whose sinks share one transaction (the SQL targets) commit it here."""
