"""METRIC lines on stderr, in singer-sdk's format: ``METRIC: {"type":...,"metric":...}``."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import orjson

__all__ = ["METRICS_LOGGER", "REPORT_SECONDS", "RecordCounter", "emit_metric"]

METRICS_LOGGER = logging.getLogger("sluice.metrics")
REPORT_SECONDS = 1.0  # a stream's record_count grows on stderr about this often while it syncs
_MAX_STRIDE = 8192


def emit_metric(metric_type: str, metric: str, value: Any, tags: dict[str, Any] | None = None) -> None:
    point = {"type": metric_type, "metric": metric, "value": value, "tags": tags or {}}
    METRICS_LOGGER.info("METRIC: %s", orjson.dumps(point, default=str).decode())


class RecordCounter:
    """A stream's ``record_count`` counter, reported while the stream syncs and once at its end.

    Each METRIC line carries the records since the previous one (an increment, as singer-sdk's
    counters do), so a runner adding them up shows live progress and the same total. The sync
    loop keeps its own count and calls :meth:`tick` only when it reaches :attr:`check_at`: one
    integer comparison per record. The stride between clock reads adapts to the stream's pace
    (doubling while records come fast, halving while they come slowly), so a fast stream reads
    the clock a few times a second and a slow one at every record. ``flush`` (the writer's) runs
    before each report, so the records counted are on the pipe, not in a buffer.
    """

    __slots__ = ("_due", "_flush", "_last_check", "_stride", "check_at", "reported", "stream")

    def __init__(self, stream: str, flush: Callable[[], None] | None = None) -> None:
        self.stream = stream
        self._flush = flush
        self.reported = 0
        self.check_at = 1
        self._stride = 1
        self._last_check = time.monotonic()
        self._due = self._last_check + REPORT_SECONDS

    def tick(self, count: int) -> None:
        now = time.monotonic()
        if now >= self._due:
            if self._flush is not None:
                self._flush()
            self._emit(count)
            self._due = now + REPORT_SECONDS
        gap, self._last_check = now - self._last_check, now
        if gap < REPORT_SECONDS / 20:
            self._stride = min(self._stride * 2, _MAX_STRIDE)
        elif gap > REPORT_SECONDS / 5:
            self._stride = max(self._stride // 2, 1)
        self.check_at = count + self._stride

    def finish(self, count: int) -> None:
        """The last increment (0 included: a stream with nothing new still reports its count)."""
        self._emit(count)

    def _emit(self, count: int) -> None:
        emit_metric("counter", "record_count", count - self.reported, {"stream": self.stream})
        self.reported = count
