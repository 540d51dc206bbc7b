"""`sluice run` with OTEL_* pointing at an OTLP/HTTP receiver on loopback: the trace (run span,
a child span per connector process, events, rows per stream), the metrics, the TRACEPARENT a
connector sees; and a collector that never answers, or a closed port, costing at most the bound."""

from __future__ import annotations

import datetime
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.runner.helpers import PY, fixture_connector, read_ids, sluice, sluice_env, write_project
from tests.integration.telemetry.receiver import BlackHole, OtlpReceiver, Received, attributes, closed_port

TAP = Path(__file__).parent / "fixtures" / "streams_tap.py"
PARENT_TRACE, PARENT_SPAN = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"


@pytest.fixture(autouse=True)
def _needs_otel(otel_sdk: None) -> None:
    return None


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    server = OtlpReceiver()
    yield server
    server.close()


def otel_env(endpoint: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in sluice_env().items() if not k.startswith(("OTEL_", "TRACE"))}
    return {**env, "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, **extra}


def project(root: Path, streams: dict[str, int], *, fail_after: int | None = None, mapper: bool = False) -> None:
    config: dict[str, Any] = {"streams": streams, "state_every": 3, "env_file": str(root / "tap-env.json")}
    if fail_after is not None:
        config["fail_after"] = fail_after
    conns = [{"name": "tap-streams", "executable": PY, "args": [str(TAP)], "config": config},
             fixture_connector("target-fix", "fixture_target.py", {"path": str(root / "out.jsonl")})]
    if mapper:
        conns.insert(1, fixture_connector("fixmap", "fixture_mapper.py", {}))
    write_project(root, connectors=conns, pipelines=[{"name": "demo", "tap": "tap-streams", "target": "target-fix",
                                                      "maps": ["fixmap"] if mapper else []}])


def spans(received: Received) -> dict[str, Any]:
    found = {span.name: span for span in received.spans()}
    assert len(found) == len(received.spans()), [span.name for span in received.spans()]
    return found


def sum_points(received: Received, metric: str, **match: str) -> int:
    return sum(point.as_int for attrs, point in received.metric_points(metric)
               if all(attrs.get(key) == want for key, want in match.items()))


def expected_commit_events(commits: int) -> list[int]:
    """The documented rule, for a run shorter than a minute: 1, 2, 4, 8, ... and the last."""
    powers = [n for n in range(1, commits + 1) if n & (n - 1) == 0]
    return powers if powers[-1] == commits else [*powers, commits]


def stored_states(stderr: str) -> int:
    match = re.search(r"state: (\d+) STATE values? stored", stderr)
    assert match, stderr
    return int(match.group(1))


def test_run_trace_spans_parents_rows_events_metrics_and_traceparent(tmp_path: Path, receiver: OtlpReceiver) -> None:
    streams = {"orders": 7, "users": 12, "empty": 0}
    project(tmp_path, streams, mapper=True)
    done = sluice(["run", "demo"], tmp_path, env=otel_env(
        receiver.url, TRACEPARENT=f"00-{PARENT_TRACE}-{PARENT_SPAN}-01"))
    assert done.returncode == 0, done.stderr
    assert len(read_ids(tmp_path / "out.jsonl")) == 19
    got = spans(receiver.received)
    assert set(got) == {"sluice run demo", "tap tap-streams", "mapper fixmap", "target target-fix"}
    run, tap, target = got["sluice run demo"], got["tap tap-streams"], got["target target-fix"]
    # one trace, joined to the runner's own TRACEPARENT; each connector a child of the run
    assert {span.trace_id.hex() for span in got.values()} == {PARENT_TRACE}
    assert run.parent_span_id.hex() == PARENT_SPAN
    for name in ("tap tap-streams", "mapper fixmap", "target target-fix"):
        assert got[name].parent_span_id == run.span_id, name
        assert run.start_time_unix_nano <= got[name].start_time_unix_nano <= got[name].end_time_unix_nano \
            <= run.end_time_unix_nano, name
    assert len({span.span_id for span in got.values()}) == 4
    # the connector saw the W3C traceparent of its own span
    seen = json.loads((tmp_path / "tap-env.json").read_text())
    assert seen["TRACEPARENT"] == f"00-{PARENT_TRACE}-{tap.span_id.hex()}-01"
    # rows per stream: emitted by the tap, committed by the target (the empty stream reports nothing)
    for span in (tap, target):
        attrs = attributes(span.attributes)
        rows = {k.removeprefix("sluice.rows."): v for k, v in attrs.items() if k.startswith("sluice.rows.")}
        assert set(rows) <= set(streams) and {name: rows.get(name, 0) for name in streams} == streams, rows
        assert attrs["sluice.rows"] == 19 and attrs["sluice.connector.exit_code"] == 0
        assert not span.events and span.status.code == 0
    run_attrs = attributes(run.attributes)
    commits = stored_states(done.stderr)
    assert run_attrs == {"sluice.pipeline": "demo", "sluice.state_id": "demo", "sluice.run.number": 1,
                         "sluice.run.id": run_attrs["sluice.run.id"], "sluice.run.status": "succeeded",
                         "sluice.state.commits": commits, "sluice.rows.emitted": 19, "sluice.rows.committed": 19}
    assert [attributes(e.attributes)["sluice.state.commits"] for e in run.events] == expected_commit_events(commits)
    assert {e.name for e in run.events} == {"state committed"}
    assert receiver.received.resources()[0]["service.name"] == "sluice"
    # metrics, per pipeline (and stream)
    for stream, rows in (("orders", 7), ("users", 12)):
        assert sum_points(receiver.received, "sluice.rows.emitted", **{"sluice.stream": stream}) == rows
        assert sum_points(receiver.received, "sluice.rows.committed", **{"sluice.stream": stream}) == rows
    assert sum_points(receiver.received, "sluice.runs", **{"sluice.pipeline": "demo",
                                                          "sluice.run.status": "succeeded"}) == 1
    assert receiver.received.metric_points("sluice.run.failures") == []
    [(attrs, duration)] = receiver.received.metric_points("sluice.run.duration")
    assert attrs == {"sluice.pipeline": "demo", "sluice.run.status": "succeeded"}
    assert duration.count == 1 and 0 < duration.sum < 120


def test_failed_run_marks_the_failing_connector_and_counts_a_failure(tmp_path: Path, receiver: OtlpReceiver) -> None:
    project(tmp_path, {"orders": 7, "users": 12}, fail_after=10)
    done = sluice(["run", "demo"], tmp_path, env=otel_env(receiver.url, OTEL_SERVICE_NAME="etl-prod"))
    assert done.returncode == 1, done.stderr
    got = spans(receiver.received)
    run, tap, target = got["sluice run demo"], got["tap tap-streams"], got["target target-fix"]
    assert run.parent_span_id == b"" and tap.parent_span_id == run.span_id
    assert run.status.code == 2 and "the source went away" in run.status.message  # STATUS_CODE_ERROR
    [failed] = [e for e in run.events if e.name == "run failed"]
    assert attributes(failed.attributes)["sluice.failed_side"] == "tap"
    assert tap.status.code == 2
    [event] = tap.events
    assert event.name == "connector failed"
    assert "the source went away" in attributes(event.attributes)["sluice.error"]
    assert attributes(tap.attributes)["sluice.connector.exit_code"] == 1
    assert {k: v for k, v in attributes(tap.attributes).items() if k.startswith("sluice.rows.")} == \
        {"sluice.rows.orders": 7, "sluice.rows.users": 3}
    assert target.status.code == 0 and not target.events
    assert receiver.received.resources()[0]["service.name"] == "etl-prod"
    assert sum_points(receiver.received, "sluice.run.failures", **{"sluice.pipeline": "demo",
                                                                  "sluice.failed_side": "tap"}) == 1
    assert sum_points(receiver.received, "sluice.runs", **{"sluice.run.status": "failed"}) == 1
    assert sum_points(receiver.received, "sluice.rows.emitted", **{"sluice.stream": "users"}) == 3


def _log_times(root: Path) -> dict[str, datetime.datetime]:
    """The time of the run log's summary state line, its telemetry line and its last line."""
    [log] = (root / ".sluice" / "logs" / "demo").glob("*.log")
    times: dict[str, datetime.datetime] = {}
    for line in log.read_text().splitlines():
        stamp, _, text = line.partition(" sluice | ")
        if not text:
            continue
        when = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.UTC)
        if "STATE value" in text and "stored" in text:
            times["summary"] = when
        elif text.startswith("telemetry: "):
            times["telemetry"], times["telemetry text"] = when, text  # type: ignore[assignment]
        elif text.startswith("log: "):
            times["last"] = when
    return times


@pytest.mark.parametrize("collector", ["never answers", "closed port"])
def test_a_dead_collector_adds_at_most_the_bound_and_never_fails_the_run(tmp_path: Path, collector: str) -> None:
    bound = 1.0
    hole = BlackHole() if collector == "never answers" else None
    try:
        url = hole.url if hole else closed_port()
        project(tmp_path, {"orders": 5, "users": 4})
        done = sluice(["run", "demo"], tmp_path, env=otel_env(url, SLUICE_OTEL_EXPORT_TIMEOUT=str(bound)))
        exited = datetime.datetime.now(datetime.UTC)
        assert done.returncode == 0, done.stderr
        assert sorted(read_ids(tmp_path / "out.jsonl")) == [1, 1, 2, 2, 3, 3, 4, 4, 5]
        times = _log_times(tmp_path)
        text = str(times["telemetry text"])
        if hole:
            assert hole.accepted, "the runner never tried the collector"
            assert f"did not answer within {bound:g} s" in text
        else:  # refused at once ("failed"), or the exporter's own retries outlast the bound
            assert "failed" in text or f"did not answer within {bound:g} s" in text, text
        # thread start and the log's own writes on a loaded machine; still far below the 10 s an
        # unbounded OTLP export would wait
        slack = 2.0
        assert (times["last"] - times["summary"]).total_seconds() <= bound + slack, times
        # the abandoned export does not hold the process at its exit either
        assert (exited - times["last"]).total_seconds() <= bound + slack + 1.0, (exited, times)
    finally:
        if hole:
            hole.close()


def test_unsupported_settings_leave_a_note_not_an_error(tmp_path: Path, receiver: OtlpReceiver) -> None:
    project(tmp_path, {"orders": 2})
    env = otel_env(receiver.url, OTEL_TRACES_EXPORTER="zipkin", SLUICE_OTEL_EXPORT_TIMEOUT="soon")
    started = time.monotonic()
    done = sluice(["run", "demo"], tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 60
    assert receiver.received.traces == [] and receiver.received.metrics  # metrics still go over OTLP
    [log] = (tmp_path / ".sluice" / "logs" / "demo").glob("*.log")
    text = log.read_text()
    assert "OTEL_TRACES_EXPORTER=zipkin: sluice exports traces over OTLP only" in text
    assert "SLUICE_OTEL_EXPORT_TIMEOUT=soon" in text


def test_no_secret_reaches_the_collector(tmp_path: Path, receiver: OtlpReceiver) -> None:
    secret = "tok-7Qx9-otel-never"
    tap = {"records": 10, "state_every": 2, "fail_at": 6, "api_key": secret, "error_detail": f" (key {secret})"}
    write_project(tmp_path, tap=tap)
    done = sluice(["run", "demo"], tmp_path, env=otel_env(receiver.url))
    assert done.returncode == 1, done.stderr
    got = spans(receiver.received)
    [event] = got["tap tap-fix"].events
    assert "source went away at record 6 (key ********)" in attributes(event.attributes)["sluice.error"]
    sent = b"".join(m.SerializeToString() for m in [*receiver.received.traces, *receiver.received.metrics])
    assert b"source went away" in sent and secret.encode() not in sent
