"""A replication key whose values are of mixed types (1, then "2": a loose API) moves the
bookmark the way Bookmarks compares them (as text when they cannot be compared), instead of
stopping the tap with "internal error: TypeError"."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

TAP = '''
from protocol import Stream, Tap, tap_main

class Items(Stream):
    name = "items"
    primary_keys = ("id",)
    replication_key = "seq"
    schema = {"type": "object", "properties": {"id": {"type": "integer"}, "seq": {}}}

    def get_records(self, bookmarks):
        yield {"id": 1, "seq": 5}
        yield {"id": 2, "seq": "6"}

class MixedTap(Tap):
    name = "tap-mixed"
    settings_schema = {"type": "object", "properties": {}}

    def streams(self):
        return [Items(self)]

tap_main(MixedTap)()
'''


def test_mixed_types_of_a_replication_key_move_the_bookmark(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text("{}")
    done = subprocess.run([sys.executable, "-c", TAP, "--config", str(config)], capture_output=True, check=False,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr.decode()
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [m["record"]["id"] for m in lines if m["type"] == "RECORD"] == [1, 2]
    state = [m for m in lines if m["type"] == "STATE"][-1]["value"]
    assert state["bookmarks"]["items"]["replication_key_value"] == "6"
