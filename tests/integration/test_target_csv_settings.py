"""target-csv's declared settings each have their effect, seen in the files a real run writes:
the ones the other target-csv tests do not reach (escape_character, timestamp_timezone,
output_path_prefix, the settings that may not be empty)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from tests.conftest import exe, run

SCHEMA = {"type": "SCHEMA", "stream": "users", "key_properties": ["id"],
          "schema": {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}}


def lines(*records: dict[str, Any]) -> bytes:
    messages = [SCHEMA, *({"type": "RECORD", "stream": "users", "record": r} for r in records),
                {"type": "STATE", "value": {"n": 1}}]
    return b"".join(orjson.dumps(m) + b"\n" for m in messages)


def target_csv(tmp_path: Path, data: bytes, **settings: Any) -> subprocess.CompletedProcess[bytes]:
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"output_path": str(tmp_path / "out"), **settings}))
    return run([exe("target-csv"), "--config", str(cfg)], input=data)


def written(rows: list[list[Any]], **options: Any) -> str:
    out = io.StringIO()
    csv.writer(out, dialect="excel", **options).writerows(rows)
    return out.getvalue()


def test_escape_character_escapes_itself_in_values_and_reads_back(tmp_path: Path) -> None:
    name = 'c:\\temp "quoted", and more'
    rows = [["id", "name"], [1, name]]
    assert written(rows, escapechar="\\") != written(rows)  # the data tells the two apart
    result = target_csv(tmp_path, lines({"id": 1, "name": name}), escape_character="\\")
    assert result.returncode == 0, result.stderr.decode()
    text = (tmp_path / "out" / "users.csv").read_bytes().decode()
    assert text == written(rows, escapechar="\\")
    assert list(csv.reader(io.StringIO(text, newline=""), escapechar="\\")) == [["id", "name"], ["1", name]]
    # a second run appends under the header it reads back with the same dialect
    again = target_csv(tmp_path, lines({"id": 2, "name": "x\\y"}), escape_character="\\", mode="append")
    assert again.returncode == 0, again.stderr.decode()
    text = (tmp_path / "out" / "users.csv").read_bytes().decode()
    table = list(csv.reader(io.StringIO(text, newline=""), escapechar="\\"))
    assert table == [["id", "name"], ["1", name], ["2", "x\\y"]]


@pytest.mark.parametrize("zone", ["Etc/GMT-14", "Etc/GMT+12"])  # 26 hours apart: never the same date
def test_timestamp_timezone_sets_the_zone_of_the_datestamp(tmp_path: Path, zone: str) -> None:
    before = datetime.now(ZoneInfo(zone)).strftime("%Y-%m-%d")
    result = target_csv(tmp_path, lines({"id": 1, "name": "a"}), timestamp_timezone=zone,
                        file_naming_scheme="{stream_name}-{datestamp}.csv")
    after = datetime.now(ZoneInfo(zone)).strftime("%Y-%m-%d")
    assert result.returncode == 0, result.stderr.decode()
    assert [p.name for p in (tmp_path / "out").iterdir()] in ([f"users-{before}.csv"], [f"users-{after}.csv"])


def test_output_path_prefix_is_the_last_alias_of_output_path(tmp_path: Path) -> None:
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"output_path_prefix": str(tmp_path / "prefix")}))
    assert run([exe("target-csv"), "--config", str(cfg)], input=lines({"id": 1, "name": "a"})).returncode == 0
    assert (tmp_path / "prefix" / "users.csv").read_bytes() == b"id,name\r\n1,a\r\n"
    cfg.write_text(json.dumps({"output_path_prefix": str(tmp_path / "prefix"),
                               "destination_path": str(tmp_path / "destination")}))
    assert run([exe("target-csv"), "--config", str(cfg)], input=lines({"id": 2, "name": "b"})).returncode == 0
    assert (tmp_path / "destination" / "users.csv").read_bytes() == b"id,name\r\n2,b\r\n"


@pytest.mark.parametrize("name", ["file_naming_scheme", "timestamp_timezone"])
def test_settings_that_cannot_be_empty_are_refused_when_empty(tmp_path: Path, name: str) -> None:
    result = target_csv(tmp_path, lines({"id": 1, "name": "a"}), **{name: ""})
    assert result.returncode == 2
    assert f"setting '{name}'" in result.stderr.decode() and not (tmp_path / "out").exists()
