"""runner/telemetry/config.py: which OTEL_* settings turn which signal on (stdlib only)."""

from __future__ import annotations

import pytest

from runner.telemetry.config import DEFAULT_EXPORT_TIMEOUT, read_config

EP = "http://collector:4318"


@pytest.mark.parametrize(("environ", "traces", "metrics"), [
    ({}, False, False),
    ({"OTEL_SERVICE_NAME": "etl"}, False, False),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": EP}, True, True),
    ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": EP + "/v1/traces"}, True, False),
    ({"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": EP + "/v1/metrics"}, False, True),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": EP, "OTEL_METRICS_EXPORTER": "none"}, True, False),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": EP, "OTEL_TRACES_EXPORTER": "none"}, False, True),
    ({"OTEL_TRACES_EXPORTER": "otlp"}, True, False),  # the default endpoint, localhost:4318
    ({"OTEL_METRICS_EXPORTER": "otlp"}, False, True),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": EP, "OTEL_SDK_DISABLED": "true"}, False, False),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": EP, "OTEL_SDK_DISABLED": "false"}, True, True),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": EP, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, True, True),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": EP, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, False, False),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": EP, "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "grpc"}, True, False),
    ({"OTEL_TRACES_EXPORTER": "console"}, False, False),
    ({"OTEL_TRACES_EXPORTER": "otlp,console"}, False, False),
])
def test_signals(environ: dict[str, str], traces: bool, metrics: bool) -> None:
    config = read_config(environ)
    assert (config.traces, config.metrics) == (traces, metrics)
    assert config.enabled == (traces or metrics)


def test_refused_settings_are_named() -> None:
    config = read_config({"OTEL_EXPORTER_OTLP_ENDPOINT": EP, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
    assert [p.split(":")[0] for p in config.problems] == ["OTEL_EXPORTER_OTLP_PROTOCOL=grpc"] * 2
    assert "OTEL_TRACES_EXPORTER=console" in read_config({"OTEL_TRACES_EXPORTER": "console"}).problems[0]


@pytest.mark.parametrize(("raw", "seconds", "problem"), [
    (None, DEFAULT_EXPORT_TIMEOUT, False), ("0.5", 0.5, False), ("30", 30.0, False),
    ("0", DEFAULT_EXPORT_TIMEOUT, True), ("31", DEFAULT_EXPORT_TIMEOUT, True), ("-1", DEFAULT_EXPORT_TIMEOUT, True),
    ("soon", DEFAULT_EXPORT_TIMEOUT, True), ("nan", DEFAULT_EXPORT_TIMEOUT, True),
])
def test_export_timeout(raw: str | None, seconds: float, problem: bool) -> None:
    environ = {"OTEL_EXPORTER_OTLP_ENDPOINT": EP} | ({} if raw is None else {"SLUICE_OTEL_EXPORT_TIMEOUT": raw})
    config = read_config(environ)
    assert config.export_timeout == seconds
    assert bool(config.problems) == problem
