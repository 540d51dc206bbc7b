"""The runner's metrics, one set per process: rows, run durations, runs and failures per pipeline.

Cumulative counters and a histogram, collected in memory and exported at the end of each run
(runner/telemetry/export.py). Every point carries ``sluice.pipeline``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import MetricsData
    from opentelemetry.sdk.resources import Resource

__all__ = ["RunMetrics"]


class RunMetrics:
    """``sluice.rows.emitted`` / ``sluice.rows.committed`` (per pipeline and stream),
    ``sluice.run.duration`` (s, per pipeline and status), ``sluice.runs`` (per pipeline and
    status) and ``sluice.run.failures`` (per pipeline and the side that failed)."""

    def __init__(self, resource: Resource) -> None:
        self._reader = InMemoryMetricReader()
        self._provider = MeterProvider(resource=resource, metric_readers=[self._reader], shutdown_on_exit=False)
        meter = self._provider.get_meter("sluice.runner")
        self._emitted = meter.create_counter("sluice.rows.emitted", unit="{row}",
                                             description="Records the tap reported emitting")
        self._committed = meter.create_counter("sluice.rows.committed", unit="{row}",
                                               description="Records the target reported committing")
        self._duration = meter.create_histogram("sluice.run.duration", unit="s", description="Duration of a run")
        self._runs = meter.create_counter("sluice.runs", unit="{run}", description="Runs that ended")
        self._failures = meter.create_counter("sluice.run.failures", unit="{run}", description="Runs that failed")

    def record(self, pipeline: str, status: str, seconds: float, failed_side: str | None,
               emitted: dict[str, int], committed: dict[str, int]) -> None:
        for counter, counts in ((self._emitted, emitted), (self._committed, committed)):
            for stream, rows in counts.items():
                counter.add(rows, {"sluice.pipeline": pipeline, "sluice.stream": stream})
        self._duration.record(seconds, {"sluice.pipeline": pipeline, "sluice.run.status": status})
        self._runs.add(1, {"sluice.pipeline": pipeline, "sluice.run.status": status})
        if status == "failed":
            self._failures.add(1, {"sluice.pipeline": pipeline, "sluice.failed_side": failed_side or "runner"})

    def collect(self) -> MetricsData | None:
        return self._reader.get_metrics_data()
