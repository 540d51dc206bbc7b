"""OpenTelemetry for runs: a trace and metrics per run, exported over OTLP/HTTP (the extra ``otel``).

Off unless the standard ``OTEL_*`` variables configure an exporter (runner/telemetry/config.py):
runner/run.py imports this package only when some ``OTEL_*`` variable is set, and the SDK is
imported only when an exporter is configured, so a runner without them starts as before.
What a run sends: runner/telemetry/otel.py (spans, events, attributes) and metrics.py; how the
end of a run is kept from waiting on a dead collector: export.py. User documentation:
docs/telemetry.md.

The hooks runner/run.py calls (:class:`Telemetry`): ``connector_env`` as each connector process
is about to start (its ``TRACEPARENT``), ``state_committed`` for each STATE stored, and ``finish``
once at the end of the run (ends the spans, exports; returns a line for the run's log or None).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from runner.telemetry.config import read_config

if TYPE_CHECKING:
    from runner.outcome import Outcome, RunStatus

__all__ = ["Telemetry", "start_run"]


class Telemetry(Protocol):
    def connector_env(self, role: str, name: str) -> dict[str, str]: ...

    def state_committed(self) -> None: ...

    def finish(self, status: RunStatus, error: str | None, outcome: Outcome | None) -> str | None: ...


class _Notes:
    """Nothing is exported, but the run's log says why (a variable sluice cannot honour)."""

    def __init__(self, notes: tuple[str, ...]) -> None:
        self._notes = notes

    def connector_env(self, role: str, name: str) -> dict[str, str]:
        return {}

    def state_committed(self) -> None:
        return None

    def finish(self, status: RunStatus, error: str | None, outcome: Outcome | None) -> str | None:
        return "\n".join(f"telemetry: {note}" for note in self._notes)


def start_run(pipeline: str, state_id: str, run: tuple[int, int], begun_ns: int,
              redact: Callable[[str], str]) -> Telemetry | None:
    """The telemetry of run ``(number, id)`` of ``pipeline`` that began at ``begun_ns`` (ns since
    the epoch); None when ``OTEL_*`` configure nothing."""
    config = read_config()
    if not config.enabled:
        return _Notes(config.problems) if config.problems else None
    try:
        from runner.telemetry.otel import OtelRun
    except ImportError as exc:
        return _Notes((f"OTEL_* configure an exporter, but the extra is not installed "
                       f"(pip install 'sluice[otel]'): {exc}",))
    attributes: dict[str, Any] = {"sluice.pipeline": pipeline, "sluice.state_id": state_id,
                                  "sluice.run.number": run[0], "sluice.run.id": run[1]}
    return OtelRun(config, attributes, begun_ns, redact, dict(os.environ))
