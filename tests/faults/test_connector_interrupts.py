"""Ctrl-C (SIGINT) to our connectors, and a last line cut in half.

A tap or target that gets SIGINT says it was interrupted, in one line, and exits 130 (no
traceback, no KeyboardInterrupt); a target keeps what its last STATE covers and does not
blame the half line it was reading. A half line at the end of the input with no signal and
no stopped run behind it is still bad input, named by its line number.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import orjson

from tests.conftest import exe

SCHEMA = {"type": "SCHEMA", "stream": "events", "key_properties": ["id"],
          "schema": {"type": "object", "properties": {"id": {"type": "integer"}, "pad": {"type": "string"}}}}


def _records(first: int, last: int) -> bytes:
    return b"".join(orjson.dumps({"type": "RECORD", "stream": "events", "record": {"id": i, "pad": f"p{i}"}}) + b"\n"
                    for i in range(first, last + 1))


def _state(upto: int) -> bytes:
    return orjson.dumps({"type": "STATE", "value": {"upto": upto}}) + b"\n"


def _target(tmp_path: Path) -> subprocess.Popen[bytes]:
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"destination_path": str(tmp_path / "out"), "state_flush_seconds": 0}))
    return subprocess.Popen([exe("target-jsonl"), "--config", str(config)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _ids(tmp_path: Path) -> list[int]:
    return [json.loads(line)["id"] for line in (tmp_path / "out" / "events.jsonl").read_text().splitlines()]


def _error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if "ERROR" in line]


def test_a_target_interrupted_by_sigint_mid_line_says_so_and_keeps_what_its_state_covers(tmp_path: Path) -> None:
    proc = _target(tmp_path)
    assert proc.stdin and proc.stdout and proc.stderr
    proc.stdin.write(orjson.dumps(SCHEMA) + b"\n" + _records(1, 50) + _state(50))
    proc.stdin.flush()
    assert json.loads(proc.stdout.readline()) == {"upto": 50}
    proc.stdin.write(_records(51, 60) + b'{"type": "RECORD", "stream": "events", "record": {"id": 6')  # cut
    proc.stdin.flush()
    time.sleep(1.0)  # the target has read the cut line and waits for the rest: no commit in flight
    proc.send_signal(signal.SIGINT)  # stdin stays open: the signal alone stops it
    out, err_bytes = proc.communicate(timeout=60)
    err = err_bytes.decode()
    assert proc.returncode == 130, err
    assert [line.rsplit("| ", 1)[-1] for line in _error_lines(err)] == ["interrupted by SIGINT (Ctrl-C)"], err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err and "malformed" not in err, err
    assert out == b""
    assert _ids(tmp_path) == list(range(1, 51))


def test_a_half_line_at_the_end_without_a_signal_is_still_bad_input(tmp_path: Path) -> None:
    proc = _target(tmp_path)
    cut = b'{"type": "RECORD", "stream": "events", "record": {"id": 6'
    out, err_bytes = proc.communicate(orjson.dumps(SCHEMA) + b"\n" + _records(1, 50) + _state(50) + cut, timeout=60)
    err = err_bytes.decode()
    assert proc.returncode == 1, err
    (line,) = _error_lines(err)
    assert "line 53: malformed JSON" in line and "the input ends in the middle of this line" in line, err
    assert [json.loads(s) for s in out.splitlines()] == [{"upto": 50}]
    assert _ids(tmp_path) == list(range(1, 51))


def test_a_tap_interrupted_by_sigint_exits_130_with_one_line(tmp_path: Path) -> None:
    csv = tmp_path / "big.csv"
    csv.write_text("id,name\n" + "".join(f"{i},name {i}\n" for i in range(1, 200_001)))
    config = tmp_path / "tap.json"
    config.write_text(json.dumps({"files": [{"entity": "big", "path": str(csv), "keys": ["id"]}]}))
    proc = subprocess.Popen([exe("tap-csv"), "--config", str(config)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout
    assert json.loads(proc.stdout.readline())["type"] == "SCHEMA"  # syncing; its output pipe fills up
    proc.send_signal(signal.SIGINT)
    _, err_bytes = proc.communicate(timeout=60)
    err = err_bytes.decode()
    assert proc.returncode == 130, err
    assert [line.rsplit("| ", 1)[-1] for line in _error_lines(err)] == ["interrupted by SIGINT (Ctrl-C)"], err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
