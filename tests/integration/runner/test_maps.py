"""A pipeline's `maps:`: mappers run as processes between the tap and the target.

The mapper here is the tests' own fixture program (not built on our kit), so what is tested is
the plumbing any mapper gets: the pipe order, the settings laid over, STATE flowing through,
a failing or early-exiting mapper named as the cause, stops reaching every process.
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from protocol import ExitCode
from tests.conftest import exe
from tests.integration.runner.helpers import (
    PY,
    bookmark,
    fixture_connector,
    pid_alive,
    read_ids,
    sluice,
    sluice_env,
    stop_when,
    write_project,
)


def _project(root: Path, maps: list[Any], *, tap: dict[str, Any] | None = None,
             mapper: dict[str, Any] | None = None, target: dict[str, Any] | None = None) -> None:
    conns = [
        fixture_connector("tap-fix", "fixture_tap.py", tap or {"records": 25, "state_every": 10}),
        fixture_connector("fixmap", "fixture_mapper.py", mapper if mapper is not None else {}),
        fixture_connector("target-fix", "fixture_target.py", {"path": str(root / "out.jsonl"), **(target or {})}),
    ]
    write_project(root, connectors=conns,
                  pipelines=[{"name": "demo", "tap": "tap-fix", "target": "target-fix", "maps": maps}])


def _records(root: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (root / "out.jsonl").read_text().splitlines()]


def _last_run(root: Path) -> dict[str, Any]:
    return json.loads(sluice(["runs", "--json", "-n", "1"], root).stdout.splitlines()[0])  # type: ignore[no-any-return]


def test_maps_run_in_order_with_their_settings_and_state_flows_through(tmp_path: Path) -> None:
    # the connector's own settings, then a step laying its settings over them: records pass both
    _project(tmp_path, ["fixmap", {"mapper": "fixmap", "config": {"tag": "second", "rename": {}}}],
             mapper={"rename": {"items": "things"}, "tag": "first"})
    done = sluice(["run", "demo"], tmp_path)
    assert done.returncode == ExitCode.OK, done.stderr
    records = _records(tmp_path)
    assert [r["id"] for r in records] == list(range(1, 26))
    assert {r["tag"] for r in records} == {"second"}  # the second mapper ran after the first
    assert bookmark(tmp_path) == 25  # STATE went through both mappers, untouched
    assert "run 1 of pipeline 'demo': tap-fix | fixmap | fixmap | target-fix" in done.stderr
    # the target counted the renamed stream: the first mapper's settings reached it
    row = next(line for line in done.stderr.splitlines() if line.strip().startswith("sluice |   things"))
    assert row.split()[-2:] == ["0", "25"], row  # the tap emitted 'items', the target committed 'things'
    assert "MISMATCH" not in done.stderr and "counts are not compared" in done.stderr


def test_without_maps_the_records_are_not_renamed(tmp_path: Path) -> None:
    # the same project without the step: the check above can tell a map that ran from one that did not
    _project(tmp_path, [], mapper={"rename": {"items": "things"}, "tag": "first"})
    done = sluice(["run", "demo"], tmp_path)
    assert done.returncode == ExitCode.OK, done.stderr
    assert all("tag" not in r for r in _records(tmp_path))
    assert "sluice |   things" not in done.stderr


def test_a_failing_mapper_fails_the_run_and_is_named(tmp_path: Path) -> None:
    _project(tmp_path, ["fixmap"], tap={"records": 40, "state_every": 10}, mapper={"fail_at": 27})
    done = sluice(["run", "demo"], tmp_path)
    assert done.returncode == ExitCode.FAILED, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last == ("sluice: pipeline 'demo' failed: mapper 'fixmap' failed: cannot map record 27 of stream "
                    "'items': planted failure (exit code 1)"), done.stderr
    assert bookmark(tmp_path) == 20  # the last STATE the mapper passed on
    run = _last_run(tmp_path)
    assert run["status"] == "failed" and run["error"].startswith("mapper 'fixmap' failed: cannot map record 27")


def test_a_mapper_that_stops_reading_early_is_the_cause(tmp_path: Path) -> None:
    # it exits 0 after 5 records: the tap then fails on a broken pipe, which is not the cause
    _project(tmp_path, ["fixmap"], tap={"records": 200000, "state_every": 1000}, mapper={"exit_after": 5})
    done = sluice(["run", "demo"], tmp_path)
    assert done.returncode == ExitCode.FAILED, done.stderr
    # the tap fails on a broken pipe, or is still writing when the mapper's exit leaves data in its pipe
    assert "failed: mapper 'fixmap' failed: exited (exit code 0) " in done.stderr.splitlines()[-1], done.stderr


def test_a_mapper_that_quits_after_the_tap_has_finished_is_the_cause(tmp_path: Path) -> None:
    # the whole stream fits in the pipe: the tap writes it and exits 0 while the mapper, slow, has
    # passed a few records; the mapper then exits 0 and breaks no pipe. What it left unread in its
    # pipe says it quit early (the run used to succeed, and the target committed what followed the
    # last STATE on a clean verdict).
    _project(tmp_path, ["fixmap"], tap={"records": 3000, "state_every": 2}, mapper={"exit_after": 5, "sleep": 0.1})
    done = sluice(["run", "demo"], tmp_path)
    assert done.returncode == ExitCode.FAILED, done.stderr
    row = next(line for line in done.stderr.splitlines() if line.strip().startswith("sluice |   items"))
    assert row.split()[3] == "3,000" and "Broken pipe" not in done.stderr  # the tap wrote all, broke nothing
    assert done.stderr.splitlines()[-1].startswith(
        "sluice: pipeline 'demo' failed: mapper 'fixmap' failed: exited (exit code 0) without reading all of its "
        "input: "), done.stderr
    assert "of the tap's output left unread" in done.stderr.splitlines()[-1]


def test_a_target_that_stops_reading_early_is_the_cause_not_the_mapper(tmp_path: Path) -> None:
    _project(tmp_path, ["fixmap"], tap={"records": 200000, "state_every": 1000}, target={"exit_after": 3})
    done = sluice(["run", "demo"], tmp_path)
    assert done.returncode == ExitCode.FAILED, done.stderr
    assert "failed: target 'target-fix' failed: exited (exit code 0) " in done.stderr.splitlines()[-1], \
        done.stderr


@pytest.mark.parametrize("how", ["sigterm", "timeout"])
def test_a_stopped_run_stops_every_process(tmp_path: Path, how: str) -> None:
    pids = {name: tmp_path / f"{name}.pid" for name in ("tap", "mapper", "target")}
    # the mapper holds on at the end of its input: the runner must stop it too
    _project(tmp_path, ["fixmap"], tap={"records": 100000, "state_every": 5, "sleep": 0.01,
                                        "pid_file": str(pids["tap"])},
             mapper={"pid_file": str(pids["mapper"]), "hold_until": str(tmp_path / "never")},
             target={"pid_file": str(pids["target"])})
    args = ["run", "demo", "--grace", "1"] + (["--timeout", "3"] if how == "timeout" else [])
    proc = subprocess.Popen([exe("sluice"), *args], cwd=tmp_path, env=sluice_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    err = stop_when(proc, lambda: all(p.exists() for p in pids.values()) and (bookmark(tmp_path) or 0) >= 10,
                    (lambda: proc.send_signal(signal.SIGTERM)) if how == "sigterm" else (lambda: None),
                    what="every process started and a STATE stored", timeout=120)
    expected = ExitCode.TERMINATED if how == "sigterm" else ExitCode.TIMEOUT
    assert proc.returncode == expected, err
    for name, path in pids.items():
        assert not pid_alive(int(path.read_text())), f"the {name} outlived the run"
    assert "sending SIGTERM to mapper fixmap" in err
    kept = read_ids(tmp_path / "out.jsonl")
    assert kept and kept == list(range(1, len(kept) + 1))


def test_ad_hoc_run_takes_map_and_dry_run_shows_the_pipe(tmp_path: Path) -> None:
    _project(tmp_path, [], mapper={"tag": "adhoc"})
    dry = sluice(["run", "tap-fix", "target-fix", "--map", "fixmap", "--dry-run"], tmp_path)
    assert dry.returncode == ExitCode.OK, dry.stderr
    assert "mapper: " in dry.stdout and "fixture_mapper.py --config '<run dir>/map0-fixmap.config.json'" in dry.stdout
    assert "pipe:   " + Path(PY).name + " | " + Path(PY).name + " | " + Path(PY).name in dry.stdout
    done = sluice(["run", "tap-fix", "target-fix", "--map", "fixmap"], tmp_path)
    assert done.returncode == ExitCode.OK, done.stderr
    assert {r["tag"] for r in _records(tmp_path)} == {"adhoc"}
    usage = sluice(["run", "demo", "--map", "fixmap"], tmp_path)
    assert usage.returncode == ExitCode.USAGE and "--map goes with TAP TARGET" in usage.stderr


def test_validate_names_an_unknown_mapper_and_a_bad_step(tmp_path: Path) -> None:
    _project(tmp_path, ["fixmapp", {"mapper": "fixmap", "confg": {}}])
    done = sluice(["validate"], tmp_path)
    assert done.returncode == ExitCode.USAGE, done.stderr
    assert "pipelines[0].maps[1].confg: unknown setting (allowed: config, mapper)" in done.stderr
    _project(tmp_path, ["fixmapp", {"mapper": "fixmap", "config": {"tag": "x"}}])
    done = sluice(["validate"], tmp_path)
    assert done.returncode == ExitCode.USAGE, done.stderr
    assert "pipelines[0].maps[0]: no connector named 'fixmapp'" in done.stderr and "did you mean 'fixmap'" in \
        done.stderr
    _project(tmp_path, ["fixmap", {"mapper": "fixmap", "config": {"tag": "x"}}])
    done = sluice(["validate"], tmp_path)
    assert done.returncode == ExitCode.OK, done.stderr


def test_a_step_config_file_and_env_are_read_and_secrets_redacted(tmp_path: Path) -> None:
    (tmp_path / "step.json").write_text(json.dumps({"tag": "${TAG_VALUE}", "token": "${MAP_TOKEN}"}))
    _project(tmp_path, [{"mapper": "fixmap", "config": "step.json"}], mapper={"fail_at": 3, "log_token": True})
    env = sluice_env(TAG_VALUE="from-env", MAP_TOKEN="tok-5ecret-91")
    dry = sluice(["run", "demo", "--dry-run"], tmp_path, env=env)
    assert dry.returncode == ExitCode.OK, dry.stderr
    done = sluice(["run", "demo"], tmp_path, env=env)
    assert done.returncode == ExitCode.FAILED, done.stderr
    assert {r["tag"] for r in _records(tmp_path)} == {"from-env"}
    log = next((tmp_path / ".sluice" / "logs" / "demo").glob("*.log")).read_text()
    assert "token is ********" in log  # the mapper logged it: redacted, as its settings schema marks it secret
    assert "tok-5ecret-91" not in log and "tok-5ecret-91" not in done.stderr
    missing = sluice(["run", "demo"], tmp_path, env=sluice_env(TAG_VALUE="x"))
    assert missing.returncode == ExitCode.USAGE
    assert "pipelines[0].maps[0].config(step.json).token: environment variable MAP_TOKEN is not set" in \
        missing.stderr
