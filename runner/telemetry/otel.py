"""A run's trace and metrics through the OpenTelemetry SDK (the extra ``otel``).

Imported only when runner/telemetry/config.py finds a signal configured. The trace of a run:

- ``sluice run PIPELINE``: the run span, a child of the runner's own ``TRACEPARENT`` when it
  has one (a traced orchestrator started it), with the pipeline, state id, run number, status
  and row totals as attributes; events ``state committed`` (throttled, see :meth:`state_committed`)
  and ``run failed`` / ``run interrupted``;
- one child span per connector process (``tap NAME``, ``mapper NAME``, ``target NAME``), from
  its start to its exit, with its exit code and the rows it reported per stream
  (``sluice.rows.STREAM``, the 100 streams with the most rows, ``sluice.streams.omitted`` the
  others; and ``sluice.rows`` in all); a ``connector failed`` event when it failed. The
  connector gets ``TRACEPARENT`` (and ``TRACESTATE``) naming its span.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.trace import Span, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from runner.telemetry.config import TelemetryConfig
from runner.telemetry.export import export_bounded

if TYPE_CHECKING:
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    from runner.outcome import Outcome, RunStatus
    from runner.sides import Side
    from runner.telemetry.metrics import RunMetrics

__all__ = ["EVENT_EVERY_SECONDS", "MAX_STREAM_ATTRIBUTES", "OtelRun"]

EVENT_EVERY_SECONDS = 60.0  # a "state committed" event at least this often while commits go on
MAX_STREAM_ATTRIBUTES = 100  # sluice.rows.STREAM attributes of a connector's span, at most
_PROPAGATOR = TraceContextTextMapPropagator()


class _Collect(SpanProcessor):
    """Keeps the run's finished spans for the export at its end."""

    def __init__(self) -> None:
        self.finished: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        self.finished.append(span)


class _Process:
    """What a runner process sets up once: resource, exporters, metrics."""

    def __init__(self, config: TelemetryConfig) -> None:
        logging.getLogger("opentelemetry").addHandler(logging.NullHandler())  # failures: one line in the run log
        resource = Resource.create()
        if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
            resource = resource.merge(Resource({"service.name": "sluice"}))
        self.resource = resource
        self.spans = OTLPSpanExporter(timeout=config.export_timeout) if config.traces else None
        self.metric_exporter: OTLPMetricExporter | None = None
        self.metrics: RunMetrics | None = None
        if config.metrics:  # the metrics SDK and its exporter: a third of the import time, only when asked for
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

            from runner.telemetry.metrics import RunMetrics

            self.metric_exporter = OTLPMetricExporter(timeout=config.export_timeout)
            self.metrics = RunMetrics(resource)


_PROCESS: dict[tuple[TelemetryConfig, tuple[tuple[str, str], ...]], _Process] = {}  # by config and OTEL_*


def _wall_ns(monotonic: float | None) -> int:
    """A ``time.monotonic()`` reading as nanoseconds since the epoch (now for None)."""
    now = time.time_ns()
    return now if monotonic is None else now - int((time.monotonic() - monotonic) * 1e9)


def _stream_rows(span: Span, counts: dict[str, int]) -> None:
    """``sluice.rows.STREAM`` for the :data:`MAX_STREAM_ATTRIBUTES` streams with the most rows (then by
    name); ``sluice.streams.omitted``: how many more streams the process reported."""
    shown = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:MAX_STREAM_ATTRIBUTES]
    for stream, rows in shown:
        span.set_attribute(f"sluice.rows.{stream}", rows)
    if len(counts) > len(shown):
        span.set_attribute("sluice.streams.omitted", len(counts) - len(shown))


def _carrier(environ: dict[str, str]) -> dict[str, str]:
    return {key.lower(): environ[key] for key in ("TRACEPARENT", "TRACESTATE") if environ.get(key)}


class OtelRun:
    """The telemetry of one run (runner/run.py's ``Telemetry``)."""

    def __init__(self, config: TelemetryConfig, attributes: dict[str, Any], begun_ns: int,
                 redact: Callable[[str], str], environ: dict[str, str]) -> None:
        self._config, self._redact = config, redact
        key = (config, tuple(sorted((k, v) for k, v in environ.items() if k.startswith("OTEL_"))))
        self._process = _PROCESS.get(key) or _PROCESS.setdefault(key, _Process(config))
        self._pipeline = str(attributes["sluice.pipeline"])
        self._begun_ns = begun_ns
        self._collect = _Collect()
        provider = TracerProvider(resource=self._process.resource, shutdown_on_exit=False)
        provider.add_span_processor(self._collect)
        self._tracer = provider.get_tracer("sluice.runner")
        self._run = self._tracer.start_span(f"sluice run {self._pipeline}", context=_PROPAGATOR.extract(
            _carrier(environ)), attributes=attributes, start_time=begun_ns)
        self._connectors: list[tuple[str, str, Span]] = []  # (role, name, span) in the order they were asked for
        self.commits = 0
        self._last_commit_ns = 0
        self._events = 0  # commits counted by the last "state committed" event
        self._last_event_ns = 0

    # -- hooks of runner/run.py ----------------------------------------------------------
    def connector_env(self, role: str, name: str) -> dict[str, str]:
        """Start the span of a connector process about to start; the variables that name it."""
        if self._process.spans is None:
            return {}
        span = self._tracer.start_span(f"{role} {name}", context=trace.set_span_in_context(self._run),
                                       attributes={"sluice.connector.role": role, "sluice.connector.name": name})
        self._connectors.append((role, name, span))
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(span))
        return {key.upper(): value for key, value in carrier.items()}

    def state_committed(self) -> None:
        """Count a stored STATE; an event for the 1st, 2nd, 4th, 8th ... commit, and at least
        one every :data:`EVENT_EVERY_SECONDS` (the last commit gets one at the end of the run)."""
        self.commits += 1
        now = time.time_ns()
        self._last_commit_ns = now
        power_of_two = self.commits & (self.commits - 1) == 0
        if power_of_two or now - self._last_event_ns >= EVENT_EVERY_SECONDS * 1e9:
            self._commit_event(now)

    def finish(self, status: RunStatus, error: str | None, outcome: Outcome | None) -> str | None:
        """End the spans, record the metrics, export; a line for the run's log, or None."""
        if self.commits > self._events:
            self._commit_event(self._last_commit_ns)
        sides = [] if outcome is None else [outcome.tap, *outcome.mappers, outcome.target]
        for role, name, span in self._connectors:
            side = next((s for s in sides if s.spec.role == role and s.spec.name == name), None)
            sides = [s for s in sides if s is not side]  # two mappers of one name: each its own span
            self._end_connector(span, side, outcome)
        self._end_run(status, error, outcome)
        jobs: list[tuple[str, Callable[[], bool]]] = []
        if self._process.spans is not None:
            spans, exporter = list(self._collect.finished), self._process.spans
            jobs.append(("trace", lambda: exporter.export(spans) is SpanExportResult.SUCCESS))
        if self._process.metrics is not None and self._process.metric_exporter is not None:
            self._record_metrics(status, outcome)
            from opentelemetry.sdk.metrics.export import MetricExportResult

            data, metric_exporter = self._process.metrics.collect(), self._process.metric_exporter
            if data is not None:
                jobs.append(("metrics", lambda: metric_exporter.export(data) is MetricExportResult.SUCCESS))
        notes = [f"telemetry: {problem}" for problem in self._config.problems]
        sent = export_bounded(jobs, self._config.export_timeout)
        return "\n".join([*notes, sent] if sent else notes) or None

    # -- inside --------------------------------------------------------------------------
    def _commit_event(self, at_ns: int) -> None:
        self._run.add_event("state committed", {"sluice.state.commits": self.commits}, timestamp=at_ns)
        self._events, self._last_event_ns = self.commits, at_ns

    def _end_connector(self, span: Span, side: Side | None, outcome: Outcome | None) -> None:
        if side is None:  # the run ended before this process was started or watched
            span.set_status(Status(StatusCode.ERROR, "not run"))
            span.end()
            return
        if side.stats.reported:
            _stream_rows(span, side.stats.counts)
        # the key attributes last: a span full (OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT, 128 by default) drops its oldest
        span.set_attribute("sluice.connector.role", side.spec.role)
        span.set_attribute("sluice.connector.name", side.spec.name)
        if side.rc is not None:
            span.set_attribute("sluice.connector.exit_code", side.rc)
        if side.stats.reported:
            span.set_attribute("sluice.rows", side.stats.total)
        culprit = outcome is not None and outcome.failed_side == side.spec.role and \
            outcome.failed_name == side.spec.name
        if culprit or side.failed_by_itself or side.start_error:
            reason = self._redact(side.failure_reason())
            span.add_event("connector failed", {"sluice.error": reason, "sluice.connector.exit_code": side.rc or 0})
            span.set_status(Status(StatusCode.ERROR, reason))
        span.end(end_time=_wall_ns(side.exited_at))

    def _end_run(self, status: RunStatus, error: str | None, outcome: Outcome | None) -> None:
        run = self._run
        run.set_attribute("sluice.run.status", str(status))
        run.set_attribute("sluice.state.commits", self.commits)
        if outcome is not None:
            for key, stats in (("sluice.rows.emitted", outcome.tap.stats), ("sluice.rows.committed",
                                                                            outcome.target.stats)):
                if stats.reported:
                    run.set_attribute(key, stats.total)
        if str(status) != "succeeded":
            name = "run interrupted" if str(status) == "interrupted" else "run failed"
            text = error or "unknown"
            run.add_event(name, {"sluice.error": text} if outcome is None or outcome.failed_side is None else
                          {"sluice.error": text, "sluice.failed_side": outcome.failed_side})
            run.set_status(Status(StatusCode.ERROR, text))
        run.end()

    def _record_metrics(self, status: RunStatus, outcome: Outcome | None) -> None:
        assert self._process.metrics is not None
        emitted = outcome.tap.stats.counts if outcome is not None else {}
        committed = outcome.target.stats.counts if outcome is not None else {}
        seconds = (time.time_ns() - self._begun_ns) / 1e9
        self._process.metrics.record(self._pipeline, str(status), seconds,
                                     outcome.failed_side if outcome is not None else None, emitted, committed)
