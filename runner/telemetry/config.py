"""Whether a run reports to OpenTelemetry, read from the standard ``OTEL_*`` variables (stdlib only).

Telemetry is on for a signal (traces, metrics) when its exporter is named
(``OTEL_TRACES_EXPORTER=otlp``) or, with no exporter named, when an OTLP endpoint is set
(``OTEL_EXPORTER_OTLP_ENDPOINT`` or the signal's own ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` /
``OTEL_EXPORTER_OTLP_METRICS_ENDPOINT``). ``none`` turns a signal off; ``OTEL_SDK_DISABLED=true``
turns both off. Only OTLP over HTTP (protobuf) is exported: another exporter or protocol is
refused with a note in the run's log, never an error of the run.

``SLUICE_OTEL_EXPORT_TIMEOUT`` (seconds, default 2, at most 30) bounds the export at the end of
a run: the longest a collector that is down or does not answer can delay the run's end.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["DEFAULT_EXPORT_TIMEOUT", "MAX_EXPORT_TIMEOUT", "TelemetryConfig", "read_config"]

DEFAULT_EXPORT_TIMEOUT = 2.0
MAX_EXPORT_TIMEOUT = 30.0
_SUPPORTED_PROTOCOLS = ("http/protobuf", "")


@dataclass(frozen=True)
class TelemetryConfig:
    traces: bool
    metrics: bool
    export_timeout: float
    problems: tuple[str, ...] = ()  # why a configured signal is not exported: for the run's log

    @property
    def enabled(self) -> bool:
        return self.traces or self.metrics


def _signal(environ: Mapping[str, str], kind: str, problems: list[str]) -> bool:
    """Whether ``kind`` ("traces" or "metrics") is configured, and exportable over OTLP/HTTP."""
    upper = kind.upper()
    named = environ.get(f"OTEL_{upper}_EXPORTER", "").strip().lower()
    if named:
        wanted = [name.strip() for name in named.split(",") if name.strip() and name.strip() != "none"]
        if not wanted:
            return False
        if wanted != ["otlp"]:
            problems.append(f"OTEL_{upper}_EXPORTER={named}: sluice exports {kind} over OTLP only (otlp or none)")
            return False
    elif not (environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get(f"OTEL_EXPORTER_OTLP_{upper}_ENDPOINT")):
        return False
    protocol = (environ.get(f"OTEL_EXPORTER_OTLP_{upper}_PROTOCOL")
                or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "")).strip().lower()
    if protocol not in _SUPPORTED_PROTOCOLS:
        problems.append(f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol}: sluice exports {kind} over http/protobuf only")
        return False
    return True


def _timeout(environ: Mapping[str, str], problems: list[str]) -> float:
    raw = environ.get("SLUICE_OTEL_EXPORT_TIMEOUT", "").strip()
    if not raw:
        return DEFAULT_EXPORT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= MAX_EXPORT_TIMEOUT:
        problems.append(f"SLUICE_OTEL_EXPORT_TIMEOUT={raw}: not a number of seconds in (0, {MAX_EXPORT_TIMEOUT:g}]; "
                        f"using {DEFAULT_EXPORT_TIMEOUT:g}")
        return DEFAULT_EXPORT_TIMEOUT
    return value


def read_config(environ: Mapping[str, str] | None = None) -> TelemetryConfig:
    """What the environment asks for (``os.environ`` unless given)."""
    environ = os.environ if environ is None else environ
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return TelemetryConfig(False, False, DEFAULT_EXPORT_TIMEOUT)
    problems: list[str] = []
    traces, metrics = _signal(environ, "traces", problems), _signal(environ, "metrics", problems)
    timeout = _timeout(environ, problems) if traces or metrics else DEFAULT_EXPORT_TIMEOUT
    return TelemetryConfig(traces, metrics, timeout, tuple(problems))
