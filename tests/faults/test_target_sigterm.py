"""SIGTERM to a target: records after the last emitted STATE are rolled back, exit 143."""

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


def record(i: int) -> bytes:
    return orjson.dumps({"type": "RECORD", "stream": "events", "record": {"id": i, "pad": "x" * 200}}) + b"\n"


def test_sigterm_rolls_back_uncommitted_records(tmp_path: Path) -> None:
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"destination_path": str(tmp_path / "out"), "state_flush_seconds": 0}))
    proc = subprocess.Popen([exe("target-jsonl"), "--config", str(config)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin and proc.stdout and proc.stderr
    proc.stdin.write(orjson.dumps(SCHEMA) + b"\n" + b"".join(record(i) for i in range(100)))
    proc.stdin.write(b'{"type":"STATE","value":{"upto":99}}\n')
    proc.stdin.flush()
    assert json.loads(proc.stdout.readline()) == {"upto": 99}  # committed and echoed
    # Well over the sink's in-memory buffer, so uncommitted records reach the file.
    proc.stdin.write(b"".join(record(i) for i in range(100, 20_100)))
    proc.stdin.flush()
    out = tmp_path / "out" / "events.jsonl"
    deadline = time.monotonic() + 30
    while out.stat().st_size < 1_000_000 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert out.stat().st_size > 1_000_000, "the target should have spilled uncommitted records"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143
    assert b"stopped by SIGTERM" in err and b"Traceback" not in err
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert ids == list(range(100))
