"""Without OTEL_* the runner's start-up is unchanged: `sluice run PIPELINE` (runner/entry.py's
click-free path) imports neither runner.telemetry nor the OpenTelemetry SDK; with some other OTEL_*
variable but no exporter, only the small config module; with an endpoint, the SDK. And the
throttling of state-commit events, through a real export."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.runner.helpers import sluice_env, write_project
from tests.integration.telemetry.receiver import OtlpReceiver, attributes, closed_port

ENTRY = "import sys; from runner.entry import main; main(sys.argv[1:])"


def imported_modules(root: Path, **extra: str) -> set[str]:
    env = {k: v for k, v in sluice_env().items() if not k.startswith("OTEL_")}
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", ENTRY, "run", "demo"], cwd=root,
                          env={**env, **extra}, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("import time:")]
    assert len(lines) > 50, done.stderr  # importtime did report
    return {line.rsplit("|", 1)[1].strip() for line in lines}


def otel_modules(modules: set[str]) -> set[str]:
    return {m for m in modules if m.startswith(("opentelemetry", "runner.telemetry", "google.protobuf"))}


def test_sluice_run_imports_nothing_of_telemetry_without_otel_variables(tmp_path: Path) -> None:
    write_project(tmp_path)
    assert otel_modules(imported_modules(tmp_path)) == set()
    # an OTEL_ variable that configures no exporter: the config reader only, no SDK
    assert otel_modules(imported_modules(tmp_path, OTEL_SERVICE_NAME="etl")) == {
        "runner.telemetry", "runner.telemetry.config"}
    assert otel_modules(imported_modules(tmp_path, OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:1",
                                         OTEL_SDK_DISABLED="true")) == {"runner.telemetry", "runner.telemetry.config"}


def test_configured_the_sdk_is_loaded_and_only_what_is_asked_for(tmp_path: Path, otel_sdk: None) -> None:
    write_project(tmp_path)  # so that the test above can fail
    loaded = otel_modules(imported_modules(tmp_path, OTEL_EXPORTER_OTLP_ENDPOINT=closed_port(),
                                           SLUICE_OTEL_EXPORT_TIMEOUT="0.5"))
    assert {"runner.telemetry.otel", "opentelemetry.sdk.trace", "runner.telemetry.metrics"} <= loaded
    # traces only: the metrics side stays out
    loaded = otel_modules(imported_modules(tmp_path, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=closed_port(),
                                           SLUICE_OTEL_EXPORT_TIMEOUT="0.5"))
    assert "runner.telemetry.otel" in loaded and "runner.telemetry.metrics" not in loaded


@pytest.mark.parametrize("commits", [1, 64, 1000])
def test_state_commit_events_are_throttled(monkeypatch: pytest.MonkeyPatch, commits: int, otel_sdk: None) -> None:
    from runner.outcome import RunStatus
    from runner.telemetry import start_run

    receiver = OtlpReceiver()
    try:
        for key in [k for k in os.environ if k.startswith("OTEL_") or k == "TRACEPARENT"]:
            monkeypatch.delenv(key)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", receiver.url + "/v1/traces")
        telemetry = start_run("p", "p", (3, 42), time.time_ns(), str)
        assert telemetry is not None
        for _ in range(commits):
            telemetry.state_committed()
        assert telemetry.finish(RunStatus.SUCCEEDED, None, None) is None
        [run] = receiver.received.spans()
        assert receiver.received.metrics == []  # only traces configured
        counts = [attributes(event.attributes)["sluice.state.commits"] for event in run.events]
        powers = [1 << k for k in range(commits.bit_length()) if 1 << k <= commits]
        assert counts == (powers if powers[-1] == commits else [*powers, commits])
        assert len(counts) <= commits.bit_length() + 1
        assert attributes(run.attributes)["sluice.state.commits"] == commits
        assert attributes(run.attributes)["sluice.run.number"] == 3
    finally:
        receiver.close()
