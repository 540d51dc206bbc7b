"""An interrupted `sluice run` says it was interrupted, and by whom, and never blames the data.

The tap writes three STATEs, then half of a RECORD line, and waits: whatever stops the run
then cuts that line. Ctrl-C (SIGINT to the runner's process group), SIGTERM to the runner and
``--timeout`` each end the run with their own exit code (130, 143, 124) and one last line
naming the cause; our target (target-jsonl, exactly-once under sluice) reports the stop, not
"malformed JSON"; everything up to the last STATE is committed and stored.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.conftest import exe
from tests.integration.runner.helpers import bookmark, fixture_connector, sluice_env, stop_when, write_project

TORN_AT = 35  # after the STATEs at 10, 20 and 30


def _project(root: Path) -> Path:
    out = root / "out"
    target = {"name": "target-jsonl", "executable": exe("target-jsonl"),
              "config": {"destination_path": str(out), "state_flush_seconds": 0}}
    write_project(root, connectors=[
        fixture_connector("tap-fix", "fixture_tap.py", {"records": 100, "state_every": 10, "torn_at": TORN_AT}),
        target,
    ], pipelines=[{"name": "demo", "tap": "tap-fix", "target": "target-jsonl"}])
    return out / "items.jsonl"


def _committed_ids(path: Path) -> list[int]:
    return [json.loads(line)["id"] for line in path.read_text().splitlines()] if path.exists() else []


def _assert_interrupted(err: str, ending: str, out: Path, root: Path) -> None:
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"sluice: run of pipeline 'demo' {ending}"), err
    assert "committed up to the last STATE" in last, err
    assert "malformed" not in err.lower() and "JSON" not in err, err
    assert "Traceback" not in err, err
    assert bookmark(root) == 30
    assert _committed_ids(out) == list(range(1, 31)), err  # the records after the last STATE are rolled back


@pytest.mark.parametrize(("sig", "code", "ending"), [
    (signal.SIGINT, 130, "interrupted by SIGINT (Ctrl-C)"),
    (signal.SIGTERM, 143, "interrupted by SIGTERM"),
], ids=["ctrl-c-to-the-process-group", "sigterm-to-the-runner"])
def test_an_interrupted_run_names_the_signal_and_exits_with_its_code(tmp_path: Path, sig: int, code: int,
                                                                     ending: str) -> None:
    out = _project(tmp_path)
    proc = subprocess.Popen([exe("sluice"), "run", "demo", "--grace", "5"], cwd=tmp_path, env=sluice_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)

    def stop() -> None:
        if sig == signal.SIGINT:
            os.killpg(proc.pid, sig)  # as a terminal's Ctrl-C: every process of the foreground group
        else:
            proc.send_signal(sig)

    err = stop_when(proc, lambda: bookmark(tmp_path) == 30, stop, what="the STATE of record 30 stored")
    assert proc.returncode == code, err
    assert "the input ended at line" in err  # the target says why its last line is cut
    _assert_interrupted(err, ending, out, tmp_path)
    runs = json.loads(subprocess.run([exe("sluice"), "runs", "--json"], cwd=tmp_path, env=sluice_env(),
                                     capture_output=True, check=True).stdout.splitlines()[0])
    assert runs["status"] == "interrupted"


def test_a_timeout_has_its_own_exit_code_and_says_so(tmp_path: Path) -> None:
    out = _project(tmp_path)
    done = subprocess.run([exe("sluice"), "run", "demo", "--timeout", "3", "--grace", "5"], cwd=tmp_path,
                          env=sluice_env(), capture_output=True, timeout=120, check=False)
    err = done.stderr.decode()
    assert done.returncode == 124, err
    assert "stopped by its --timeout" in err
    _assert_interrupted(err, "timed out after 3 s (--timeout)", out, tmp_path)


def test_run_help_documents_the_exit_codes_of_a_stopped_run(tmp_path: Path) -> None:
    done = subprocess.run([exe("sluice"), "run", "--help"], cwd=tmp_path, env=sluice_env(), capture_output=True,
                          check=True)
    text = " ".join(done.stdout.decode().split())
    assert "124 the run timed out (--timeout)" in text
    assert "130 interrupted by SIGINT (Ctrl-C)" in text and "143 interrupted by SIGTERM" in text
