"""What a run sends to an OTLP/HTTP receiver on loopback holds no secret: stream names that hold one
(span attribute keys, the sluice.stream label), an error quoting it escaped (the sluice.error event);
and a tap reporting more streams than a span holds attributes keeps its key attributes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.runner.helpers import FIXTURES, PY, fixture_connector, sluice, write_project
from tests.integration.telemetry.receiver import OtlpReceiver, attributes
from tests.integration.telemetry.test_otel_run import TAP, otel_env, spans

METRIC = 'METRIC: {"type":"counter","metric":"record_count","value":%d,"tags":{"stream":"%s"}}'


@pytest.fixture(autouse=True)
def _needs_otel(otel_sdk: None) -> None:
    return None


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    server = OtlpReceiver()
    yield server
    server.close()


def _project(root: Path, tap: dict[str, Any]) -> None:
    write_project(root, connectors=[tap, fixture_connector("target-fix", "fixture_target.py",
                                                           {"path": str(root / "out.jsonl")})],
                  pipelines=[{"name": "demo", "tap": tap["name"], "target": "target-fix"}])


def test_stream_names_and_errors_holding_a_secret_are_redacted(tmp_path: Path, receiver: OtlpReceiver) -> None:
    secret = "p&ss<wd>/s3cr3t"
    go_escaped = secret.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
    lines = [METRIC % (3, "acct-@SECRET@"), METRIC % (4, "plain"),
             'ERROR auth failed, body {"api_key":"' + go_escaped + '"}']
    _project(tmp_path, {"name": "leaky", "executable": PY, "args": [str(FIXTURES / "leaky_tap.py")],
                        "config": {"secret": "${TOK}", "exit": 1, "lines": lines}})
    done = sluice(["run", "demo"], tmp_path, env=otel_env(receiver.url, TOK=secret))
    assert done.returncode == 1, done.stderr
    got = spans(receiver.received)
    tap, run = got["tap leaky"], got["sluice run demo"]
    rows = {k: v for k, v in attributes(tap.attributes).items() if k.startswith("sluice.rows.")}
    assert rows == {"sluice.rows.acct-********": 3, "sluice.rows.plain": 4}
    streams = {attrs["sluice.stream"] for attrs, _ in receiver.received.metric_points("sluice.rows.emitted")}
    assert streams == {"acct-********", "plain"}
    errors = [attributes(e.attributes)["sluice.error"] for span in (tap, run) for e in span.events
              if "sluice.error" in attributes(e.attributes)]
    assert len(errors) == 2 and all('{"api_key":"********"}' in error for error in errors), errors
    assert "s3cr3t" not in tap.status.message + run.status.message
    everything = repr([*receiver.received.traces, *receiver.received.metrics])
    assert "s3cr3t" not in everything and "u0026ss" not in everything


def test_a_tap_with_many_streams_keeps_its_key_span_attributes(tmp_path: Path, receiver: OtlpReceiver) -> None:
    """Past the SDK's 128 attributes a span drops its oldest: the role, name, exit code and total went first."""
    streams = {f"s{i:03d}": 1 + (i * 37) % 150 for i in range(150)}  # rows in no order of the names
    _project(tmp_path, {"name": "tap-streams", "executable": PY, "args": [str(TAP)],
                        "config": {"streams": streams, "state_every": 1000}})
    done = sluice(["run", "demo"], tmp_path, env=otel_env(receiver.url))
    assert done.returncode == 0, done.stderr
    tap = spans(receiver.received)["tap tap-streams"]
    attrs = attributes(tap.attributes)
    assert tap.dropped_attributes_count == 0
    assert attrs["sluice.connector.role"] == "tap" and attrs["sluice.connector.name"] == "tap-streams"
    assert attrs["sluice.connector.exit_code"] == 0 and attrs["sluice.rows"] == sum(streams.values())
    top = sorted(streams.items(), key=lambda item: (-item[1], item[0]))[:100]  # the most rows, then by name
    shown = {k.removeprefix("sluice.rows."): v for k, v in attrs.items() if k.startswith("sluice.rows.")}
    assert shown == dict(top) and attrs["sluice.streams.omitted"] == 50
