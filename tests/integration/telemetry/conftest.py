"""The telemetry tests need the extra 'otel' (in 'dev'): skipped without it, failed under CI=true."""

from __future__ import annotations

import pytest

from tests.conftest import service_unavailable


@pytest.fixture(scope="session")
def otel_sdk() -> None:
    try:
        import opentelemetry.exporter.otlp.proto.http
        import opentelemetry.proto
        import opentelemetry.sdk  # noqa: F401
    except ImportError:
        service_unavailable("the extra 'otel' is not installed (pip install -e '.[dev]')")
