"""The run's telemetry hooks: OpenTelemetry (runner/telemetry/) when ``OTEL_*`` variables are set,
else a no-op. Kept apart from runner/telemetry/ so that a runner without them never imports it."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runner.isolation import Redactor
    from runner.outcome import Outcome, RunStatus
    from runner.telemetry import Telemetry

__all__ = ["NoTelemetry", "start_telemetry"]


class NoTelemetry:
    """A run's telemetry when OTEL_* configure none (runner/telemetry/)."""

    def connector_env(self, role: str, name: str) -> dict[str, str]:
        return {}

    def state_committed(self) -> None:
        return None

    def finish(self, status: RunStatus, error: str | None, outcome: Outcome | None) -> str | None:
        return None


def start_telemetry(pipeline: str, state_id: str, ids: tuple[int, int], begun_ns: int,
                    redactor: Redactor) -> Telemetry:
    if any(key.startswith("OTEL_") for key in os.environ):  # else runner/telemetry/ is not even imported
        from runner.telemetry import start_run

        return start_run(pipeline, state_id, ids, begun_ns, redactor) or NoTelemetry()
    return NoTelemetry()
