"""METRIC lines on stderr, in singer-sdk's format: ``METRIC: {"type":...,"metric":...}``."""

from __future__ import annotations

import logging
from typing import Any

import orjson

__all__ = ["METRICS_LOGGER", "emit"]

METRICS_LOGGER = logging.getLogger("sluice.metrics")


def emit(metric_type: str, metric: str, value: Any, tags: dict[str, Any] | None = None) -> None:
    point = {"type": metric_type, "metric": metric, "value": value, "tags": tags or {}}
    METRICS_LOGGER.info("METRIC: %s", orjson.dumps(point, default=str).decode())
