"""A STATE a target holds goes out when its input falls idle (protocol/_idle.py), not only when the
next message comes: a tap that pauses after a STATE (a slow API, a wait for new data) has that
STATE echoed, and under `sluice` committed and stored, during the pause."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
from pathlib import Path

import pytest

from tests.conftest import exe
from tests.faults.exactly_once_helpers import STATE_ID, Pipeline
from tests.integration.runner.helpers import finish, start_sluice, stored_state, wait_for

_LINES = (b'{"type":"SCHEMA","stream":"s","schema":{"type":"object","properties":{"id":{"type":"integer"}}},'
          b'"key_properties":["id"]}\n{"type":"RECORD","stream":"s","record":{"id":1}}\n'
          b'{"type":"STATE","value":{"n":1}}\n{"type":"RECORD","stream":"s","record":{"id":2}}\n')


def _settings(kind: str, out: Path) -> dict[str, str]:
    if kind == "sqlite":
        return {"database": str(out / "dest.db")}
    return {"destination_path" if kind == "jsonl" else "output_path": str(out)}


@pytest.mark.parametrize("kind", ["jsonl", "csv", "sqlite"])
def test_a_held_state_is_emitted_while_the_input_is_idle(kind: str, tmp_path: Path) -> None:
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({**_settings(kind, tmp_path), "state_flush_seconds": 0.2}))
    proc = subprocess.Popen([exe(f"target-{kind}"), "--config", str(cfg)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(_LINES)
        proc.stdin.flush()  # and the input stays open: no message comes to reach a drain
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            assert sel.select(timeout=30), "the STATE was held while the input was idle"
        assert os.read(proc.stdout.fileno(), 4096) == b'{"n":1}\n'
        assert proc.poll() is None  # the input is still open
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
        proc.stdout.close()
    assert proc.returncode == 0


def test_under_sluice_a_state_before_a_pause_is_committed_and_stored_during_it(tmp_path: Path) -> None:
    p = Pipeline(tmp_path, "jsonl", batch_size_rows=100000, state_flush_seconds=0.2)
    p.write(records=400, state_every=100, pause_at=201)  # STATE 200, then the tap pauses
    runner = start_sluice(["run", STATE_ID], tmp_path)
    try:
        wait_for(p.paused.exists, what="the tap to pause")

        def stored() -> bool:
            state = stored_state(tmp_path)
            return state is not None and state["bookmarks"]["events"]["position"] == 200

        wait_for(stored, what="STATE 200 to be stored while the tap pauses")
        assert len((p.out / "events.jsonl").read_text().splitlines()) == 200  # committed with it
    finally:
        p.release.touch()
    code, _, err = finish(runner)
    assert code == 0, err
    assert stored_state(tmp_path)["bookmarks"]["events"]["position"] == 400  # type: ignore[index]
