"""Stream maps inside a tap and a target, run as real processes: what they report and write must
match what mapper-sluice reports and writes for the same maps.

- a tap reads no input lines: an expression failing on a record names the record instead (its
  number in the stream, its key values);
- a date, time or datetime an expression returns reaches a target's check of the mapped record as
  the ISO 8601 text mapper-sluice writes (the target refused ``datetime.time(3, 4, 5)`` as not a string).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import exe, run


def _error_line(stderr: bytes) -> str:
    lines = [line for line in stderr.decode().splitlines() if "ERROR" in line]
    assert len(lines) == 1 and "Traceback" not in stderr.decode(), stderr.decode()
    return lines[0]


def _tap_csv(tmp_path: Path, rows: str, keys: list[str], maps: dict[str, Any]) -> Any:
    path = tmp_path / "users.csv"
    path.write_text(rows)
    config = tmp_path / "tap.json"
    config.write_text(json.dumps({"files": [{"entity": "users", "path": str(path), "keys": keys}],
                                  "empty_as_null": True, "stream_maps": maps}))
    return run([exe("tap-csv"), "--config", str(config)])


ROWS = "id,email\n7,a@b\n5,\n9,c@d\n"
DOMAIN = {"users": {"domain": "email.split('@')[1]"}}


def test_a_tap_names_the_record_by_its_number_and_keys(tmp_path: Path) -> None:
    done = _tap_csv(tmp_path, ROWS, ["id"], DOMAIN)
    assert done.returncode == 1
    assert _error_line(done.stderr).endswith(
        "stream 'users', record 2 (id=5), field 'domain': stream map expression \"email.split('@')[1]\" failed: "
        "AttributeError: None has no attribute 'split'")


def test_a_tap_names_a_keyless_record_by_its_number(tmp_path: Path) -> None:
    done = _tap_csv(tmp_path, "id,email\n7,a@b\n9,c@d\n5,\n", [], DOMAIN)
    assert done.returncode == 1
    assert "| stream 'users', record 3, field 'domain': stream map expression" in _error_line(done.stderr)


def test_a_tap_names_a_failing_filter_with_every_key(tmp_path: Path) -> None:
    done = _tap_csv(tmp_path, "org,id,n\nx,1,2\ny,1,0\n", ["org", "id"], {"users": {"__filter__": "1 / n > 0"}})
    assert done.returncode == 1
    assert "stream 'users', record 2 (org='y', id=1), field '__filter__':" in _error_line(done.stderr)


SINGER = [
    {"type": "SCHEMA", "stream": "s", "key_properties": ["id"], "schema": {"type": "object", "properties": {
        "id": {"type": "integer"}, "d": {"type": "string", "format": "time"},
        "at": {"type": "string", "format": "date-time"},
        "both": {"type": "array", "items": {"type": ["string", "object"]}}}}},  # the type of the mapped "both"
    *({"type": "RECORD", "stream": "s", "record": {"id": i, "d": f"0{i}:04:05", "at": f"2024-01-0{i}T03:04:05+00:00",
                                                   "both": []}}
      for i in range(1, 6)),
    {"type": "STATE", "value": {"n": 1}},
]
TIMES = {"s": {"h": "datetime.time.fromisoformat(d)",
               "day": "datetime.datetime.fromisoformat(at).date()",
               "both": "[datetime.time.fromisoformat(d).replace(tzinfo=datetime.timezone.utc), "
                       "{'at': datetime.datetime.fromisoformat(at)}]"}}


def _jsonl(tmp_path: Path, name: str, config: dict[str, Any], data: bytes) -> list[dict[str, Any]]:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"destination_path": str(tmp_path / name), **config}))
    done = run([exe("target-jsonl"), "--config", str(path)], input=data)
    assert done.returncode == 0, done.stderr.decode()
    return [json.loads(line) for line in (tmp_path / name / "s.jsonl").read_text().splitlines()]


def test_a_target_writes_dates_and_times_as_mapper_sluice_does(tmp_path: Path) -> None:
    data = b"".join(json.dumps(m).encode() + b"\n" for m in SINGER)
    maps = tmp_path / "maps.json"
    maps.write_text(json.dumps({"stream_maps": TIMES}))
    mapped = run([exe("mapper-sluice"), "--config", str(maps)], input=data)
    assert mapped.returncode == 0, mapped.stderr.decode()
    piped = _jsonl(tmp_path, "piped", {}, mapped.stdout)
    inside = _jsonl(tmp_path, "inside", {"stream_maps": TIMES}, data)
    assert inside == piped
    assert inside[0] == {"id": 1, "d": "01:04:05", "at": "2024-01-01T03:04:05+00:00",
                         "both": ["01:04:05+00:00", {"at": "2024-01-01T03:04:05+00:00"}], "h": "01:04:05",
                         "day": "2024-01-01"}
