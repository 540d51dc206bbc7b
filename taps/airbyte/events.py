"""What a source says besides records and states: LOG lines, TRACE messages, CONTROL messages.

LOG becomes a log line on stderr at its level; a TRACE stream status or estimate an INFO line;
a TRACE error is kept and ends the run (after the source exits) as one error of our tree:
``config_error`` a :class:`ConfigError` (exit 2), ``transient_error`` a
:class:`RetryableSourceError`, any other a :class:`FatalSourceError` (exit 1), its line naming
the stream and the source's message. :func:`ask` runs a command whose answer is one message
(``spec``, ``check``, ``discover``).
"""

from __future__ import annotations

import logging

from protocol import ConfigError, FatalSourceError, RetryableSourceError, SluiceError
from taps.airbyte.client import SourceRun
from taps.airbyte.messages import AirbyteMessage, TraceError, stream_id
from taps.airbyte.settings import AirbyteSettings

__all__ = ["SourceEvents", "ask", "trace_error"]

log = logging.getLogger("sluice.airbyte")

_LEVELS = {"FATAL": logging.CRITICAL, "ERROR": logging.ERROR, "WARN": logging.WARNING, "WARNING": logging.WARNING,
           "INFO": logging.INFO, "DEBUG": logging.DEBUG, "TRACE": logging.DEBUG}


def trace_error(error: TraceError, source: str) -> SluiceError:
    """A TRACE error as one error of our tree."""
    descriptor = error.stream_descriptor
    where = f"stream '{stream_id(descriptor.name, descriptor.namespace)}': " if descriptor is not None else ""
    text = " ".join((error.message or error.internal_message or "no message").split())  # one line
    line = f"{where}the Airbyte source {source} failed: {text}"
    if error.failure_type == "config_error":
        return ConfigError(line)
    if error.failure_type == "transient_error":
        return RetryableSourceError(line)
    return FatalSourceError(line)


class SourceEvents:
    """The LOG, TRACE and CONTROL messages of one run of a source."""

    def __init__(self, run: SourceRun) -> None:
        self.run = run
        self.source_log = logging.getLogger(f"sluice.airbyte.{run.name}")
        self.errors: list[SluiceError] = []

    def handle(self, message: AirbyteMessage) -> None:
        """Log a message that is neither a RECORD nor a STATE (or keep its error)."""
        kind = message.type
        if kind == "LOG" and message.log is not None:
            entry = message.log
            self.source_log.log(_LEVELS.get(entry.level.upper(), logging.INFO), "%s", entry.message)
            if entry.stack_trace:
                self.source_log.debug("%s", entry.stack_trace)
        elif kind == "TRACE" and message.trace is not None:
            self._trace(message)
        elif kind == "CONTROL":
            log.warning("%s asked to change its config (CONTROL message); tap-airbyte does not rewrite its "
                        "config: update airbyte_config if the source needs the new values", self.run.name)
        else:
            log.debug("%s: %s message ignored", self.run.name, kind)

    def _trace(self, message: AirbyteMessage) -> None:
        trace = message.trace
        assert trace is not None
        if trace.error is not None:
            error = trace_error(trace.error, self.run.name)
            if trace.error.internal_message:
                log.debug("%s: %s", self.run.name, trace.error.internal_message)
            if self.errors:
                log.error("%s", error)  # the first one ends the run; later ones are logged as they come
            self.errors.append(error)
        elif trace.stream_status is not None:
            d = trace.stream_status.stream_descriptor
            log.info("stream '%s': %s", stream_id(d.name, d.namespace), trace.stream_status.status)
        elif trace.estimate is not None:
            e = trace.estimate
            rows = f"about {e.row_estimate} records" if e.row_estimate is not None else "no row estimate"
            what = f"stream '{stream_id(e.name, e.namespace)}'" if e.type.upper() == "STREAM" else "the sync"
            log.info("%s: %s", what, rows)
        else:
            log.debug("%s: TRACE %s", self.run.name, trace.type)

    def finish(self, code: int) -> None:
        """After the source exited with ``code``: raise its first error, or its death, if any."""
        if self.errors:
            if len(self.errors) > 1:
                log.error("%s reported %d errors; the first:", self.run.name, len(self.errors))
            raise self.errors[0]
        if code != 0:
            raise self.run.failed(code)


def ask(settings: AirbyteSettings, command: str, answer: str, files: dict[str, bytes]) -> AirbyteMessage:
    """Run ``command`` and return its first ``answer`` message (SPEC, CONNECTION_STATUS, CATALOG)."""
    found: AirbyteMessage | None = None
    with SourceRun(settings, command, files) as run:
        events = SourceEvents(run)
        for message in run.messages():
            if message.type == answer:
                found = found or message
            else:
                events.handle(message)
        events.finish(run.wait())
    if found is None:
        raise FatalSourceError(f"the Airbyte source {run.name} wrote no {answer} message for `{command}`")
    return found
