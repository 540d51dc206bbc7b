"""METRIC lines on stderr, in singer-sdk's format: ``METRIC: {"type":...,"metric":...}``."""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson

__all__ = ["METRICS_LOGGER", "RecordCounter", "emit", "timer"]

METRICS_LOGGER = logging.getLogger("sluice.metrics")


def emit(metric_type: str, metric: str, value: Any, tags: dict[str, Any] | None = None) -> None:
    point = {"type": metric_type, "metric": metric, "value": value, "tags": tags or {}}
    METRICS_LOGGER.info("METRIC: %s", orjson.dumps(point, default=str).decode())


class RecordCounter:
    """Counts records per stream; emits a counter METRIC at most every ``interval`` s."""

    def __init__(self, stream: str, interval: float = 60.0, **tags: Any) -> None:
        self.stream = stream
        self.interval = interval
        self.tags = {"stream": stream, **tags}
        self.total = 0
        self._pending = 0
        self._last = time.monotonic()

    def add(self, n: int = 1) -> None:
        self._pending += n
        self.total += n
        if self.interval >= 0 and time.monotonic() - self._last >= self.interval:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            emit("counter", "record_count", self._pending, self.tags)
        self._pending = 0
        self._last = time.monotonic()


class timer:
    """Emit a ``timer`` METRIC for the duration of the block."""

    def __init__(self, metric: str, **tags: Any) -> None:
        self.metric = metric
        self.tags = tags
        self.start = 0.0

    def __enter__(self) -> timer:
        self.start = time.monotonic()
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        status = "succeeded" if exc_type is None else "failed"
        emit("timer", self.metric, round(time.monotonic() - self.start, 6), {**self.tags, "status": status})
