"""A run: the source's ``read`` output translated into Singer lines.

The hot path: each line is decoded once by msgspec, a RECORD's ``data`` left as the raw bytes
the source wrote; consecutive records of one stream are joined and handed to the writer in one
call, which adds the Singer envelopes in bulk. Records are parsed again only for a stream whose
selection drops fields. A stream's SCHEMA is written before its first record.

A STATE is kept (opaque, :class:`AirbyteState`) and written as a Singer STATE right after the
records before it. The run ends with the state the source last emitted; when the source failed
(a TRACE error, a non-zero exit, a signal) no STATE follows its last one (records after it that the
writer already flushed, past its buffer, are on stdout: the next run sends them again).
"""

from __future__ import annotations

import logging
import re

from protocol import MessageWriter, ProtocolError, RecordCounter, dumps, loads
from taps.airbyte.client import SourceRun
from taps.airbyte.events import SourceEvents
from taps.airbyte.messages import AirbyteMessage, DecodeError, stream_id
from taps.airbyte.state import AirbyteState
from taps.airbyte.streams import StreamPlan

__all__ = ["Translation"]

log = logging.getLogger("sluice.airbyte")

_ROWS_PER_WRITE = 2048  # records joined per writer call (each adds two parts: data and a newline)

# A newline of a joined batch followed by anything but the ``{`` of the next record's data (the regex
# is about three times as fast as ``bytes.count(b"\n{")``).
_NOT_AN_OBJECT = re.compile(rb"\n[^{]")


def _utf8(data: bytes) -> bool:
    """Whether ``data`` is valid UTF-8 (msgspec does not check the bytes of a Raw value)."""
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


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
        self._first_line = 0  # the line of the first record of the batch being joined
        # a selected stream by its Airbyte name alone, where one has it: a source may write a stream's
        # records without the namespace its catalog gives it (or with one it lacks); they were skipped
        # as a stream not selected while its STATE moved past them
        names: dict[str, list[str]] = {}
        for sid, plan in plans.items():
            names.setdefault(str(plan.configured["stream"]["name"]), []).append(sid)
        self._by_name = {name: sids[0] for name, sids in names.items() if len(sids) == 1}

    def translate(self) -> None:
        """Read the source to its end; raise its error if it failed."""
        rows: list[bytes] = []
        append = rows.append
        current: str | None = None  # the Singer stream of ``rows``
        read: str | None = None  # the stream as the source named it
        flush = self._flush
        handle = self._control
        for message in self.run.messages():
            record = message.record
            if record is not None:
                name = record.stream if record.namespace is None else stream_id(record.stream, record.namespace)
                if name != read:
                    flush(current, rows)
                    read, current = name, self._open(name, record.stream)
                if current is not None:
                    if not rows:
                        self._first_line = self.run.line_number
                    append(record.data)  # type: ignore[arg-type]  # msgspec.Raw: a buffer, joined as is
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

    def _open(self, name: str, bare: str) -> str | None:
        """The Singer stream records of ``name`` (``bare``: without its namespace) are written to, its
        SCHEMA written before the first; None when the stream is not selected (they are skipped)."""
        if name not in self.plans:
            name = self._by_name.get(bare, name)
        if name in self._counters:
            return name
        plan = self.plans.get(name)
        if plan is None:
            if name not in self._skipped:
                self._skipped.add(name)
                log.warning("line %d: the source wrote records of stream '%s', which is not selected; skipped",
                            self.run.line_number, name)
            return None
        self.writer.write_message(plan.schema)
        self._counters[name] = RecordCounter(name, self.writer.flush)
        self._counts[name] = 0
        return name

    def _flush(self, name: str | None, rows: list[bytes]) -> None:
        if not rows or name is None:
            self.run.skipped_lines.clear()  # only lines within a batch are ever looked up
            return
        data = b"".join(rows)
        count = len(rows) // 2
        # Every record's data a JSON object in UTF-8, checked on the joined batch: a line holds no
        # newline, so each record starts right after one, and msgspec's Raw starts at the value.
        if (not data.startswith(b"{") or _NOT_AN_OBJECT.search(data, 0, len(data) - 1) is not None
                or not (data.isascii() or _utf8(data))):
            raise self._bad_record(name, rows)
        rows.clear()
        self.run.skipped_lines.clear()
        fields = self.plans[name].fields
        if fields is not None:
            data = b"".join(dumps({k: v for k, v in loads(line).items() if k in fields}) + b"\n"
                            for line in data.split(b"\n")[:-1])
        self.writer.write_records_json(name, data)
        total = self._counts[name] = self._counts[name] + count
        counter = self._counters[name]
        if total >= counter.check_at:
            counter.tick(total)

    def _bad_record(self, name: str, rows: list[bytes]) -> ProtocolError:
        """The error of the first record of ``rows`` whose data is not a JSON object in UTF-8, at its line.

        Such a record is not a valid Airbyte record; written on, it would not be a valid Singer one.
        """
        line = self._first_line
        skipped = set(self.run.skipped_lines)
        for raw in rows[0::2]:
            data = bytes(raw)
            if not data.startswith(b"{"):
                what = "no data" if not data else "data that is not a JSON object"
                break
            if not _utf8(data):
                what = "data that is not valid UTF-8"
                break
            line += 1
            while line in skipped:
                line += 1
        else:  # not reached: the batch check failed, so one of its records is bad
            what = "data that cannot be read"
        return ProtocolError(f"a RECORD of the Airbyte source {self.run.name} with {what}", line=line, stream=name)

    def _control(self, message: AirbyteMessage) -> None:
        if message.type == "RECORD":  # no ``record`` body: the record it stood for would be lost
            raise ProtocolError(f"a RECORD message of the Airbyte source {self.run.name} without a record",
                                line=self.run.line_number)
        if message.type == "STATE":
            if message.state:
                try:
                    what = self.state.update(bytes(message.state))
                except DecodeError as exc:  # it was "internal error: ValidationError: ...", naming nothing
                    raise ProtocolError(f"a STATE message of the Airbyte source {self.run.name} that cannot be "
                                        f"read: {exc}", line=self.run.line_number) from exc
                self.writer.write_state(self.state.to_value())
                log.debug("line %d: state of %s", self.run.line_number, what)
        else:
            self.events.handle(message)
