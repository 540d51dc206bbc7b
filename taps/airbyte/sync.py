"""A run: the source's ``read`` output translated into Singer lines.

The hot path: each line is decoded once by msgspec, a RECORD's ``data`` left as the raw bytes
the source wrote; consecutive records of one stream are joined and handed to the writer in one
call, which adds the Singer envelopes in bulk. Records are parsed again only for a stream whose
selection drops fields. A stream's SCHEMA is written before its first record.

A STATE is kept (opaque, :class:`AirbyteState`) and written as a Singer STATE right after the
records before it. The run ends with the state the source last emitted; when the source failed
(a TRACE error, a non-zero exit, a signal) nothing is written after its last STATE.
"""

from __future__ import annotations

import logging

from protocol import MessageWriter, RecordCounter, dumps, loads
from taps.airbyte.client import SourceRun
from taps.airbyte.events import SourceEvents
from taps.airbyte.messages import AirbyteMessage, stream_id
from taps.airbyte.state import AirbyteState
from taps.airbyte.streams import StreamPlan

__all__ = ["Translation"]

log = logging.getLogger("sluice.airbyte")

_ROWS_PER_WRITE = 2048  # records joined per writer call (each adds two parts: data and a newline)


class Translation:
    """One ``read`` of the source, written as Singer messages."""

    def __init__(self, run: SourceRun, plans: dict[str, StreamPlan], state: AirbyteState,
                 writer: MessageWriter) -> None:
        self.run = run
        self.plans = plans
        self.state = state
        self.writer = writer
        self.events = SourceEvents(run)
        self._counters: dict[str, RecordCounter] = {}
        self._counts: dict[str, int] = {}
        self._skipped: set[str] = set()

    def translate(self) -> None:
        """Read the source to its end; raise its error if it failed."""
        rows: list[bytes] = []
        append = rows.append
        current: str | None = None  # the stream of ``rows``
        flush = self._flush
        handle = self._control
        for message in self.run.messages():
            record = message.record
            if record is not None:
                name = record.stream if record.namespace is None else stream_id(record.stream, record.namespace)
                if name != current:
                    flush(current, rows)
                    current = name if self._open(name) else None
                if current is not None:
                    append(record.data or b"{}")  # type: ignore[arg-type]  # msgspec.Raw: a buffer, joined as is
                    append(b"\n")
                    if len(rows) >= _ROWS_PER_WRITE:
                        flush(current, rows)
                continue
            flush(current, rows)
            handle(message)
        flush(current, rows)
        self.events.finish(self.run.wait())
        for name, counter in self._counters.items():
            counter.finish(self._counts[name])
        self.writer.write_state(self.state.to_value(), final=True)

    def _open(self, name: str) -> bool:
        """Whether records of ``name`` are written (its SCHEMA goes out before the first)."""
        if name in self._counters:
            return True
        plan = self.plans.get(name)
        if plan is None:
            if name not in self._skipped:
                self._skipped.add(name)
                log.warning("line %d: the source wrote records of stream '%s', which is not selected; skipped",
                            self.run.line_number, name)
            return False
        self.writer.write_message(plan.schema)
        self._counters[name] = RecordCounter(name, self.writer.flush)
        self._counts[name] = 0
        return True

    def _flush(self, name: str | None, rows: list[bytes]) -> None:
        if not rows or name is None:
            return
        data = b"".join(rows)
        count = len(rows) // 2
        rows.clear()
        fields = self.plans[name].fields
        if fields is not None:
            data = b"".join(dumps({k: v for k, v in loads(line).items() if k in fields}) + b"\n"
                            for line in data.split(b"\n")[:-1])
        self.writer.write_records_json(name, data)
        total = self._counts[name] = self._counts[name] + count
        counter = self._counters[name]
        if total >= counter.check_at:
            counter.tick(total)

    def _control(self, message: AirbyteMessage) -> None:
        if message.type == "STATE":
            if message.state:
                what = self.state.update(bytes(message.state))
                self.writer.write_state(self.state.to_value())
                log.debug("line %d: state of %s", self.run.line_number, what)
        else:
            self.events.handle(message)
