"""`sluice run` with real subprocess pipelines (fixture connectors behind real pipes)."""

from __future__ import annotations

import json
import os
import pty
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import exe
from tests.integration.runner.helpers import (
    FIXTURES,
    PY,
    bookmark,
    fixture_connector,
    read_ids,
    sluice,
    sluice_env,
    stored_state,
    write_project,
)


def test_pipeline_runs_stores_state_and_summarises(tmp_path: Path) -> None:
    write_project(tmp_path, tap={"records": 25, "state_every": 10})
    done = sluice(["run", "demo"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert read_ids(tmp_path / "out.jsonl") == list(range(1, 26))
    assert bookmark(tmp_path) == 25
    summary = [line for line in done.stderr.splitlines() if " items " in line]
    assert summary and summary[0].split()[-2:] == ["25", "25"], done.stderr
    assert "MISMATCH" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("sluice: pipeline 'demo' succeeded")
    assert done.stdout == ""
    history = json.loads(sluice(["runs", "demo", "--json"], tmp_path).stdout.splitlines()[0])
    assert history["status"] == "succeeded"
    assert (history["records_emitted"], history["records_committed"]) == (25, 25)
    assert history["ended_at"] >= history["started_at"]


def test_second_run_resumes_from_stored_state_and_full_refresh_ignores_it(tmp_path: Path) -> None:
    write_project(tmp_path, tap={"records": 30, "state_every": 10})
    assert sluice(["state", "set", "demo", '{"bookmarks": {"items": {"replication_key_value": 20}}}'],
                  tmp_path).returncode == 0
    done = sluice(["run", "demo"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert read_ids(tmp_path / "out.jsonl") == list(range(21, 31))
    assert "resuming after id 20" in done.stderr
    (tmp_path / "out.jsonl").unlink()
    done = sluice(["run", "demo", "--full-refresh"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert read_ids(tmp_path / "out.jsonl") == list(range(1, 31))


def test_meltanos_state_get_output_sets_its_singer_state(tmp_path: Path) -> None:
    """`meltano state get` prints {"singer_state": {...}}: set as it was, no tap knew the key, and the
    next run read everything again (an appending target got every row twice)."""
    write_project(tmp_path, tap={"records": 30, "state_every": 10})
    meltano = '{"singer_state": {"bookmarks": {"items": {"replication_key_value": 20}}}}'
    done = sluice(["state", "set", "demo", meltano], tmp_path)
    assert done.returncode == 0 and "`meltano state get`'s output: its singer_state is set" in done.stderr
    assert json.loads(sluice(["state", "get", "demo"], tmp_path).stdout) == {
        "bookmarks": {"items": {"replication_key_value": 20}}}
    done = sluice(["run", "demo"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert read_ids(tmp_path / "out.jsonl") == list(range(21, 31))


def test_a_state_holding_exact_numbers_reaches_the_tap_and_prints_as_numbers(tmp_path: Path) -> None:
    """A bookmark may be any JSON number (a numeric key with 25 digits, an id past 64 bits): stored
    exactly, it made every later run stop with an internal error (writing the tap's state file), and
    `state get` printed such numbers as strings."""
    copy = tmp_path / "state-the-tap-read.json"
    write_project(tmp_path, tap={"records": 30, "state_every": 10, "state_copy": str(copy)})
    state = ('{"bookmarks": {"items": {"replication_key_value": 20}, "other": {"replication_key_value": '
             '1234567890123456789012.125, "id": 123456789012345678901234567890, "tiny": 2.5e-400}}}')
    assert sluice(["state", "set", "demo", state], tmp_path).returncode == 0
    shown = sluice(["state", "get", "demo"], tmp_path)
    assert shown.returncode == 0, shown.stderr
    other = json.loads(shown.stdout, parse_float=Decimal)["bookmarks"]["other"]
    assert other == {"replication_key_value": Decimal("1234567890123456789012.125"),
                     "id": 123456789012345678901234567890, "tiny": Decimal("2.5E-400")}
    done = sluice(["run", "demo"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert read_ids(tmp_path / "out.jsonl") == list(range(21, 31))
    read = json.loads(copy.read_text(), parse_float=Decimal)["bookmarks"]["other"]
    assert read == other


def test_record_count_difference_is_flagged(tmp_path: Path) -> None:
    # equal counts: no flag (the tap reports 5 + 2 before failing; the target commits them all at EOF)
    write_project(tmp_path, tap={"records": 10, "state_every": 5, "fail_at": 8})
    done = sluice(["run", "demo"], tmp_path)
    assert done.returncode == 1
    row = next(line for line in done.stderr.splitlines() if line.strip().startswith("sluice |   items"))
    assert row.split()[-2:] == ["7", "7"] and "MISMATCH" not in done.stderr
    # a target that stops reading after 3 records: the difference is flagged
    write_project(tmp_path, tap={"records": 10, "state_every": 5},
                  target={"path": str(tmp_path / "o2.jsonl"), "exit_after": 3})
    done = sluice(["run", "demo", "--full-refresh"], tmp_path)
    row = next(line for line in done.stderr.splitlines() if line.strip().startswith("sluice |   items"))
    assert row.split()[3:5] == ["10", "3"]
    assert "MISMATCH: 7 not committed" in row


@pytest.mark.parametrize("keys", [[], ["id"], None])
def test_records_lost_on_a_keyless_stream_fail_the_run(tmp_path: Path, keys: list[str] | None) -> None:
    # a target that silently loses every 4th record, under a catalog saying the stream has
    # no keys (a failure), has keys (merged duplicates are possible: a note), or no catalog
    extra = {}
    if keys is not None:
        entry = {"tap_stream_id": "items", "stream": "items", "key_properties": keys,
                 "schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
                 "metadata": [{"breadcrumb": [], "metadata": {"selected": True, "table-key-properties": keys}}]}
        (tmp_path / "cat.json").write_text(json.dumps({"streams": [entry]}))
        extra["catalog"] = "cat.json"
    out = tmp_path / "out.jsonl"
    write_project(tmp_path, connectors=[
        fixture_connector("tap-fix", "fixture_tap.py", {"records": 10, "state_every": 5}, **extra),
        fixture_connector("target-fix", "fixture_target.py", {"path": str(out), "drop_every": 4}),
    ])
    done = sluice(["run", "demo"], tmp_path)
    assert read_ids(out) == [1, 2, 3, 5, 6, 7, 9, 10]
    row = next(line for line in done.stderr.splitlines() if line.strip().startswith("sluice |   items"))
    assert row.split()[3:5] == ["10", "8"]
    run = json.loads(sluice(["runs", "--json"], tmp_path).stdout.splitlines()[0])
    if keys == []:
        assert done.returncode == 1
        assert "<- MISMATCH: 2 not committed (no key properties)" in row
        reason = ("target 'target-fix' failed: stream 'items' has no key properties, yet only 8 of the 10 "
                  "records the tap emitted were committed (2 lost)")
        assert done.stderr.strip().splitlines()[-1] == f"sluice: pipeline 'demo' failed: {reason}"
        assert run["status"] == "failed" and run["error"] == reason
    else:
        assert done.returncode == 0, done.stderr
        why = "has key properties: may be merged duplicates" if keys else "keys unknown: not in the catalog"
        assert f"<- MISMATCH: 2 not committed ({why})" in row
        assert run["status"] == "succeeded"


def test_dry_run_prints_commands_and_runs_nothing(tmp_path: Path) -> None:
    write_project(tmp_path)
    done = sluice(["run", "demo", "--dry-run"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "fixture_tap.py --config" in done.stdout and "fixture_target.py --config" in done.stdout
    assert not (tmp_path / "out.jsonl").exists()
    assert "--state" not in done.stdout
    sluice(["state", "set", "demo", '{"bookmarks": {}}'], tmp_path)
    assert "--state" in sluice(["run", "demo", "--dry-run"], tmp_path).stdout
    assert "--state" not in sluice(["run", "demo", "--dry-run", "--full-refresh"], tmp_path).stdout


def test_ad_hoc_run_of_two_programs_with_state_id(tmp_path: Path) -> None:
    write_project(tmp_path, tap={"records": 7, "state_every": 3})
    done = sluice(["run", "tap-fix", "target-fix", "--state-id", "adhoc"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert read_ids(tmp_path / "out.jsonl") == list(range(1, 8))
    assert bookmark(tmp_path, "adhoc") == 7
    assert stored_state(tmp_path, "demo") is None


def test_run_all_runs_every_pipeline_and_reports_a_failure(tmp_path: Path) -> None:
    conns = [
        fixture_connector("good-tap", "fixture_tap.py", {"records": 12, "state_every": 4, "sleep": 0.01}),
        fixture_connector("bad-tap", "fixture_tap.py", {"records": 12, "fail_at": 3}),
    ]
    pipelines = []
    for i in range(3):
        conns.append(fixture_connector(f"target-{i}", "fixture_target.py", {"path": str(tmp_path / f"out{i}.jsonl")}))
        pipelines.append({"name": f"p{i}", "tap": "bad-tap" if i == 1 else "good-tap", "target": f"target-{i}"})
    write_project(tmp_path, connectors=conns, pipelines=pipelines)
    metrics = tmp_path / "metrics" / "sluice.prom"
    done = sluice(["run", "--all", "-j", "2", "--metrics-file", str(metrics)], tmp_path)
    assert done.returncode == 1, done.stderr
    assert read_ids(tmp_path / "out0.jsonl") == list(range(1, 13))
    assert read_ids(tmp_path / "out2.jsonl") == list(range(1, 13))
    assert "[p1]" in done.stderr and "source went away at record 3" in done.stderr
    assert "2 of 3 pipelines succeeded; failed: p1" in done.stderr
    text = metrics.read_text()
    assert 'sluice_last_run_success{pipeline="p0",state_id="p0"} 1' in text
    assert 'sluice_last_run_success{pipeline="p1",state_id="p1"} 0' in text
    assert 'sluice_last_run_records{pipeline="p2",state_id="p2"} 12' in text
    assert [p.name for p in metrics.parent.iterdir()] == ["sluice.prom"]  # no temp file left behind


def test_connector_gets_only_declared_environment_and_a_private_config_file(tmp_path: Path) -> None:
    dump = tmp_path / "env.json"
    conns = [
        fixture_connector("tap-fix", "fixture_tap.py", {"records": 3, "dump_env": str(dump)},
                          env={"DECLARED": "yes", "TOKEN": "${OUTER_TOKEN}"}),
        fixture_connector("target-fix", "fixture_target.py", {"path": str(tmp_path / "out.jsonl")}),
    ]
    write_project(tmp_path, connectors=conns)
    env = sluice_env(OUTER_TOKEN="tok-123456", UNDECLARED="leak", LANG="C.UTF-8")
    done = sluice(["run", "demo"], tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    seen = json.loads(dump.read_text())
    assert set(seen["env"]) <= {"PATH", "HOME", "LANG", "DECLARED", "TOKEN", "PWD", "LC_CTYPE"}
    assert seen["env"]["DECLARED"] == "yes" and seen["env"]["TOKEN"] == "tok-123456"
    assert "UNDECLARED" not in seen["env"]
    assert seen["config_mode"] == 0o600
    assert not Path(seen["config_path"]).exists()
    assert list((tmp_path / ".sluice" / "tmp").iterdir()) == []


def test_memory_limit_applies_to_the_connector(tmp_path: Path) -> None:
    conns = [
        fixture_connector("tap-fix", "fixture_tap.py", {"records": 3, "allocate_mb": 2048},
                          limits={"memory_mb": 400}),
        fixture_connector("target-fix", "fixture_target.py", {"path": str(tmp_path / "out.jsonl")}),
    ]
    write_project(tmp_path, connectors=conns)
    done = sluice(["run", "demo"], tmp_path)
    assert done.returncode == 1
    assert "tap 'tap-fix' failed" in done.stderr.splitlines()[-1]
    assert "MemoryError" in done.stderr.splitlines()[-1]
    # the same tap without the limit allocates and succeeds (the limit, not the tap, made it fail)
    conns[0].pop("limits")
    conns[0]["config"]["allocate_mb"] = 64
    write_project(tmp_path, connectors=conns)
    assert sluice(["run", "demo"], tmp_path).returncode == 0


def test_cpu_limit_stops_a_spinning_connector(tmp_path: Path) -> None:
    conns = [
        fixture_connector("tap-fix", "fixture_tap.py", {"busy_cpu": True}, limits={"cpu_seconds": 1}),
        fixture_connector("target-fix", "fixture_target.py", {"path": str(tmp_path / "out.jsonl")}),
    ]
    write_project(tmp_path, connectors=conns)
    done = sluice(["run", "demo", "--timeout", "60"], tmp_path)
    assert done.returncode == 1
    assert "killed by SIGXCPU" in done.stderr.splitlines()[-1]


def test_progress_line_only_on_a_tty(tmp_path: Path) -> None:
    write_project(tmp_path, tap={"records": 40, "state_every": 5, "sleep": 0.06})
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([exe("sluice"), "run", "demo"], cwd=tmp_path, env=sluice_env(),
                                stdout=subprocess.DEVNULL, stderr=slave)
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO once the child side is closed
                break
            if not data:
                break
            chunks.append(data)
        assert proc.wait(timeout=60) == 0
    finally:
        os.close(master)
    tty_text = b"".join(chunks).decode()
    assert "records/s" in tty_text and "elapsed" in tty_text
    done = sluice(["run", "demo", "--full-refresh"], tmp_path)
    assert done.returncode == 0
    assert "records/s" not in done.stderr and "\r" not in done.stderr


def test_state_commands(tmp_path: Path) -> None:
    write_project(tmp_path)
    assert sluice(["state", "get", "demo"], tmp_path).returncode == 1
    assert sluice(["state", "set", "demo", "[1]"], tmp_path).returncode == 2
    assert sluice(["state", "set", "demo", "not json"], tmp_path).returncode == 2
    state_file = tmp_path / "s.json"
    state_file.write_text('{"type": "STATE", "value": {"bookmarks": {"items": {"replication_key_value": 3}}}}')
    assert sluice(["state", "set", "demo", f"@{state_file}"], tmp_path).returncode == 0
    assert bookmark(tmp_path) == 3
    assert sluice(["state", "list"], tmp_path).stdout.split("\t")[0] == "demo"
    assert sluice(["state", "clear", "demo"], tmp_path).returncode == 0
    assert stored_state(tmp_path) is None
    assert sluice(["state", "list"], tmp_path).stdout == ""


def test_crontab_lines_for_scheduled_pipelines(tmp_path: Path) -> None:
    write_project(tmp_path, pipelines=[
        {"name": "hourly", "tap": "tap-fix", "target": "target-fix", "schedule": "0 * * * *"},
        {"name": "manual", "tap": "tap-fix", "target": "target-fix"},
    ])
    done = sluice(["crontab", "--metrics-file", "/var/lib/node_exporter/sluice.prom"], tmp_path)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if not line.startswith("#")]
    assert len(lines) == 1
    assert lines[0].startswith("0 * * * * mkdir -p ")
    assert " run hourly --metrics-file /var/lib/node_exporter/sluice.prom" in lines[0]
    assert f"--project {tmp_path.resolve() / 'sluice.yml'}" in lines[0]
    # the line works as a shell command
    cmd = lines[0].split(" ", 5)[5]
    done = subprocess.run(["sh", "-c", cmd.replace("--metrics-file /var/lib/node_exporter/sluice.prom", "")],
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, timeout=60, check=False)
    assert done.returncode == 0
    assert read_ids(tmp_path / "out.jsonl") == list(range(1, 26))


def test_invalid_project_lists_every_error_with_its_location(tmp_path: Path) -> None:
    (tmp_path / "sluice.yml").write_text(
        "connectors:\n"
        "  - name: tap-x\n"
        "    executable: tap-x\n"
        "    colour: blue\n"
        "  - executable: target-x\n"
        "pipelines:\n"
        "  - name: p\n"
        "    tap: tap-x\n"
        "    target: target-x\n"
        "    schedule: every day\n"
    )
    done = sluice(["run", "p"], tmp_path)
    assert done.returncode == 2
    err = done.stderr
    assert "sluice.yml:4: connectors[0].colour: unknown setting (allowed: args, catalog," in err
    assert "sluice.yml:5: connectors[1]: 'name' is a required property" in err
    assert "sluice.yml:10: pipelines[0].schedule: 'every day' is not a cron schedule" in err


def test_unknown_pipeline_and_missing_env_are_config_errors(tmp_path: Path) -> None:
    write_project(tmp_path, tap={"records": 1, "api_key": "${NOT_SET_ANYWHERE}", "other": "${ALSO_NOT_SET}"})
    done = sluice(["run", "nope"], tmp_path)
    assert done.returncode == 2 and "no pipeline named 'nope'" in done.stderr
    done = sluice(["run", "demo"], tmp_path)
    assert done.returncode == 2
    assert "connectors[0].config.api_key: environment variable NOT_SET_ANYWHERE is not set" in done.stderr
    assert "connectors[0].config.other: environment variable ALSO_NOT_SET is not set" in done.stderr
    # the target's too, in the same error: it was named only once the tap's were set
    write_project(tmp_path, tap={"records": 1, "api_key": "${NOT_SET_ANYWHERE}"}, target={"path": "${NO_OUT_DIR}"})
    done = sluice(["run", "demo"], tmp_path)
    assert done.returncode == 2
    assert "sluice.yml: pipeline 'demo' cannot run:" in done.stderr
    assert "connectors[0].config.api_key: environment variable NOT_SET_ANYWHERE is not set" in done.stderr
    assert "connectors[1].config.path: environment variable NO_OUT_DIR is not set" in done.stderr


def test_config_from_a_file_with_env_interpolation(tmp_path: Path) -> None:
    (tmp_path / "tap.json").write_text(json.dumps({"records": "${N_RECORDS}"}))
    conns = [
        {"name": "tap-fix", "executable": PY, "args": [str(FIXTURES / "fixture_tap.py")], "config": "tap.json"},
        fixture_connector("target-fix", "fixture_target.py", {"path": str(tmp_path / "out.jsonl")}),
    ]
    write_project(tmp_path, connectors=conns)
    done = sluice(["run", "demo"], tmp_path, env=sluice_env(N_RECORDS="4"))
    assert done.returncode == 0, done.stderr
    assert read_ids(tmp_path / "out.jsonl") == [1, 2, 3, 4]


@pytest.mark.parametrize("target_cfg", [{"echo_state": False}])
def test_target_without_state_never_wipes_bookmarks(tmp_path: Path, target_cfg: dict[str, object]) -> None:
    write_project(tmp_path, tap={"records": 5}, target={"path": str(tmp_path / "out.jsonl"), **target_cfg})
    before = {"bookmarks": {"items": {"replication_key_value": 2, "replication_key": "id"}}}
    sluice(["state", "set", "demo", json.dumps(before)], tmp_path)
    done = sluice(["run", "demo"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert read_ids(tmp_path / "out.jsonl") == [3, 4, 5]
    assert stored_state(tmp_path) == before
    assert "the target sent no STATE; the stored bookmarks are unchanged" in done.stderr


def test_a_connector_that_cannot_start_fails_the_run_cleanly(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus-target"
    bogus.write_bytes(b"\x00\x01\x02 not a program")
    bogus.chmod(0o755)
    write_project(tmp_path, connectors=[
        fixture_connector("tap-fix", "fixture_tap.py", {"records": 3}),
        {"name": "target-fix", "executable": str(bogus)},
    ])
    done = sluice(["run", "demo"], tmp_path, timeout=60)
    assert done.returncode == 1
    assert "target 'target-fix' failed: cannot start: Exec format error" in done.stderr.splitlines()[-1]
