"""target-csv as a user runs it: a real subprocess, real files read back with the csv module."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import exe, run, target_states

PROPS = {"id": {"type": "integer"}, "name": {"type": ["string", "null"]}}


def schema(stream: str = "users", **extra: Any) -> bytes:
    msg = {"type": "SCHEMA", "stream": stream, "key_properties": ["id"],
           "schema": {"type": "object", "properties": {**PROPS, **extra}}}
    return orjson.dumps(msg) + b"\n"


def record(stream: str = "users", **rec: Any) -> bytes:
    return orjson.dumps({"type": "RECORD", "stream": stream, "record": rec}) + b"\n"


def state(n: int) -> bytes:
    return orjson.dumps({"type": "STATE", "value": {"n": n}}) + b"\n"


def config(tmp_path: Path, **settings: Any) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"output_path": str(tmp_path / "out"), **settings}))
    return path


def target(cfg: Path, data: bytes) -> subprocess.CompletedProcess[bytes]:
    return run([exe("target-csv"), "--config", str(cfg)], input=data)


def states(stdout: bytes) -> list[Any]:
    """The state values on stdout, in order (stdout carries nothing else)."""
    return target_states(stdout)


def rows(path: Path) -> list[list[str]]:
    """Header first; every row must have exactly the header's width."""
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    table = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert all(len(r) == len(table[0]) for r in table), f"misaligned rows in {path}: {table}"
    return table


def test_rows_land_with_a_header_and_the_final_state_is_emitted(tmp_path: Path) -> None:
    data = schema() + record(id=1, name="Ada") + record(id=2, name=None) + state(2)
    result = target(config(tmp_path), data)
    assert result.returncode == 0, result.stderr
    assert rows(tmp_path / "out" / "users.csv") == [["id", "name"], ["1", "Ada"], ["2", ""]]
    assert states(result.stdout) == [{"n": 2}]
    assert (tmp_path / "out" / "users.csv").read_bytes().endswith(b"2,\r\n")  # Excel dialect, as MeltanoLabs


def test_replace_file_is_the_default_and_append_records_appends_without_a_second_header(tmp_path: Path) -> None:
    data = schema() + record(id=1, name="a") + state(1)
    cfg = config(tmp_path)
    assert target(cfg, data).returncode == 0
    assert target(cfg, data).returncode == 0
    assert rows(tmp_path / "out" / "users.csv") == [["id", "name"], ["1", "a"]]
    for appending in (config(tmp_path, overwrite_behavior="append_records"), config(tmp_path, mode="append")):
        assert target(appending, data).returncode == 0
    assert rows(tmp_path / "out" / "users.csv") == [["id", "name"], ["1", "a"], ["1", "a"], ["1", "a"]]


def test_mode_wins_over_overwrite_behavior(tmp_path: Path) -> None:
    data = schema() + record(id=1, name="a") + state(1)
    cfg = config(tmp_path, overwrite_behavior="append_records", mode="overwrite")
    assert target(cfg, data).returncode == 0
    assert target(cfg, data).returncode == 0
    assert rows(tmp_path / "out" / "users.csv") == [["id", "name"], ["1", "a"]]


def test_new_fields_mid_stream_widen_the_header_and_pad_earlier_rows(tmp_path: Path) -> None:
    data = (schema() + record(id=1, name="a") + state(1)
            + schema(email={"type": "string"}) + record(id=2, name="b", email="b@x")
            + record(id=3, name="c", email="c@x", undeclared={"k": [1, 2]}) + state(3))
    result = target(config(tmp_path, state_flush_seconds=0), data)
    assert result.returncode == 0, result.stderr
    assert rows(tmp_path / "out" / "users.csv") == [
        ["id", "name", "email", "undeclared"],
        ["1", "a", "", ""],
        ["2", "b", "b@x", ""],
        ["3", "c", "c@x", '{"k":[1,2]}'],
    ]
    assert states(result.stdout) == [{"n": 1}, {"n": 3}]


def test_append_to_a_file_with_other_columns_keeps_its_columns_and_adds_the_new_ones(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "users.csv").write_text("id,legacy\r\n7,old\r\n", newline="")
    result = target(config(tmp_path, mode="append"), schema() + record(id=1, name="a") + state(1))
    assert result.returncode == 0, result.stderr
    assert rows(out / "users.csv") == [["id", "legacy", "name"], ["7", "old", ""], ["1", "", "a"]]


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_a_bad_line_after_a_widening_rolls_back_to_the_last_state_with_a_consistent_file(
        tmp_path: Path, compression: str) -> None:
    # records 3 and 4 widen the header and are flushed by a full batch (the file is rewritten
    # with the wider header); record 5 is invalid. The file keeps 1 and 2, under one header.
    data = (schema() + record(id=1, name="a") + record(id=2, name="b") + state(2)
            + schema(email={"type": "string"}) + record(id=3, name="c", email="c@x")
            + record(id=4, name="d", email="d@x") + record(id=5, name=5) + state(5))
    cfg = config(tmp_path, batch_size_rows=2, state_flush_seconds=0, compression=compression)
    result = target(cfg, data)
    assert result.returncode == 1
    assert states(result.stdout) == [{"n": 2}]
    name = "users.csv.gz" if compression == "gzip" else "users.csv"
    assert rows(tmp_path / "out" / name) == [["id", "name", "email"], ["1", "a", ""], ["2", "b", ""]]
    errors = [ln for ln in result.stderr.decode().splitlines() if "ERROR" in ln]
    assert len(errors) == 1 and "line 8" in errors[0] and "'users'" in errors[0] and "'name'" in errors[0]
    assert "Traceback" not in result.stderr.decode()


def test_cells_nested_json_booleans_and_exact_decimals(tmp_path: Path) -> None:
    data = schema(amount={"type": "number"}, flag={"type": "boolean"},
                  tags={"type": "array", "items": {"type": "string"}}, meta={"type": "object"}) + (
        b'{"type": "RECORD", "stream": "users", "record": {"id": 1, "name": "x, \\"y\\"\\nz", '
        b'"amount": 12345678901234567.891, "flag": true, "tags": ["a", "b"], "meta": {"n": 1.5}}}\n'
        b'{"type": "RECORD", "stream": "users", "record": {"id": 2, "amount": 0.1, "flag": false}}\n')
    result = target(config(tmp_path), data)
    assert result.returncode == 0, result.stderr
    assert rows(tmp_path / "out" / "users.csv") == [
        ["id", "name", "amount", "flag", "tags", "meta"],
        ["1", 'x, "y"\nz', "12345678901234567.891", "true", '["a","b"]', '{"n":1.5}'],
        ["2", "", "0.1", "false", "", ""],
    ]


def test_gzip_round_trip(tmp_path: Path) -> None:
    data = schema() + b"".join(record(id=i, name=f"n{i}") for i in range(1, 6)) + state(5)
    result = target(config(tmp_path, compression="gzip", batch_size_rows=2), data)
    assert result.returncode == 0, result.stderr
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["users.csv.gz"]
    assert rows(tmp_path / "out" / "users.csv.gz") == [["id", "name"]] + [[str(i), f"n{i}"] for i in range(1, 6)]


def test_file_naming_scheme_with_datestamp_and_timestamp(tmp_path: Path) -> None:
    before = datetime.now(UTC)
    cfg = config(tmp_path, file_naming_scheme="{stream_name}/{datestamp}-{timestamp}.csv",
                 datestamp_format="%Y%m%d", timestamp_format="%H%M%S", timestamp_timezone="UTC")
    result = target(cfg, schema() + record(id=1, name="a") + schema("teams") + record("teams", id=9) + state(1))
    after = datetime.now(UTC)
    assert result.returncode == 0, result.stderr
    for stream in ("users", "teams"):
        files = list((tmp_path / "out" / stream).iterdir())
        assert len(files) == 1
        day, clock = re.fullmatch(r"(\d{8})-(\d{6})\.csv", files[0].name).groups()  # type: ignore[union-attr]
        assert before.strftime("%Y%m%d") <= day <= after.strftime("%Y%m%d")
        assert before.strftime("%H%M%S") <= clock <= after.strftime("%H%M%S") or day != before.strftime("%Y%m%d")


def test_destination_path_is_an_alias_of_output_path(tmp_path: Path) -> None:
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"destination_path": str(tmp_path / "alias")}))
    assert target(cfg, schema() + record(id=1, name="a")).returncode == 0
    assert rows(tmp_path / "alias" / "users.csv") == [["id", "name"], ["1", "a"]]


def test_a_scheme_without_stream_name_cannot_mix_two_streams(tmp_path: Path) -> None:
    cfg = config(tmp_path, file_naming_scheme="all.csv")
    result = target(cfg, schema() + record(id=1, name="a") + schema("teams") + record("teams", id=2))
    assert result.returncode == 2
    errors = [ln for ln in result.stderr.decode().splitlines() if "ERROR" in ln]
    assert len(errors) == 1 and "'users' and 'teams'" in errors[0]


def test_record_sort_property_name_sorts_each_batch(tmp_path: Path) -> None:
    data = schema() + b"".join(record(id=i, name=n) for i, n in [(1, "c"), (2, "a"), (3, "b")]) + state(3)
    result = target(config(tmp_path, record_sort_property_name="name"), data)
    assert result.returncode == 0, result.stderr
    assert [r[1] for r in rows(tmp_path / "out" / "users.csv")[1:]] == ["a", "b", "c"]


def test_a_stream_without_records_gets_a_header_only_file(tmp_path: Path) -> None:
    result = target(config(tmp_path), schema())
    assert result.returncode == 0, result.stderr
    assert rows(tmp_path / "out" / "users.csv") == [["id", "name"]]


def test_stream_maps_are_applied_not_refused(tmp_path: Path) -> None:
    data = schema() + record(id=1, name="a") + record(id=2, name="b")
    result = target(config(tmp_path, stream_maps={"users": {"name": None, "__alias__": "people"}}), data)
    assert result.returncode == 0, result.stderr
    assert rows(tmp_path / "out" / "people.csv") == [["id"], ["1"], ["2"]]
    assert not (tmp_path / "out" / "users.csv").exists()
    bad = target(config(tmp_path, stream_maps={"users": {"name": "len(("}}), data)
    assert bad.returncode == 2
    assert b"stream_maps" in bad.stderr and b"Traceback" not in bad.stderr


def test_about_publishes_the_meltanolabs_settings_plus_ours() -> None:
    result = run([exe("target-csv"), "--about", "--format", "json"])
    assert result.returncode == 0, result.stderr
    settings = json.loads(result.stdout)["settings"]["properties"]
    for name in ("output_path", "destination_path", "file_naming_scheme", "datestamp_format", "timestamp_format",
                 "timestamp_timezone", "overwrite_behavior", "record_sort_property_name", "escape_character",
                 "mode", "compression", "batch_size_rows", "validate_records", "state_flush_seconds"):
        assert name in settings, name
    assert settings["file_naming_scheme"]["default"] == "{stream_name}.csv"


def test_a_header_widens_over_cells_larger_than_the_csv_modules_default_limit(tmp_path: Path) -> None:
    big = "x" * 300_000  # the csv module refuses fields over 128 KiB unless told otherwise
    cfg = config(tmp_path, state_flush_seconds=0, mode="append")
    first = target(cfg, schema() + record(id=1, name=big) + state(1) + record(id=2, name="b", extra=True) + state(2))
    assert first.returncode == 0, first.stderr.decode()[-2000:]
    assert states(first.stdout) == [{"n": 1}, {"n": 2}]
    # a second run appends to that file and widens it again
    second = target(cfg, schema() + record(id=3, name=big, more=1) + state(3))
    assert second.returncode == 0, second.stderr.decode()[-2000:]
    limit = csv.field_size_limit(1 << 30)
    try:
        table = rows(tmp_path / "out" / "users.csv")
    finally:
        csv.field_size_limit(limit)
    assert table == [["id", "name", "extra", "more"], ["1", big, "", ""], ["2", "b", "true", ""],
                     ["3", big, "", "1"]]


def test_a_run_killed_after_a_widening_leaves_no_row_wider_than_the_header(tmp_path: Path) -> None:
    """Rows are written out every few thousand; those of a widened stream go out only after the
    header is widened. A SIGKILL then leaves (besides rows no STATE covers, as documented) a file
    whose every row lines up with its header: a row wider than the header would hand its extra
    cell to the column the next run adds (here 'email' would get 'S3CR3T')."""
    out = tmp_path / "out" / "users.csv"
    data = (schema() + record(id=1, name="a") + state(1) + schema(secret={"type": "string"})
            + b"".join(record(id=i, name="b", secret="S3CR3T") for i in range(2, 6000)))
    proc = subprocess.Popen([exe("target-csv"), "--config", str(config(tmp_path, mode="append"))],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert proc.stdin is not None
        proc.stdin.write(data)
        proc.stdin.flush()  # the input stays open: the target has spilled rows and waits for more
        deadline = time.monotonic() + 30
        while (not out.exists() or out.read_bytes().count(b"\n") < 4097) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert out.read_bytes().count(b"\n") >= 4097, "the target never spilled its rows"
    finally:
        proc.kill()
        proc.wait()
        if proc.stdin is not None:
            proc.stdin.close()
    table = list(csv.reader(io.StringIO(out.read_text(), newline="")))
    wider = [row for row in table if len(row) != len(table[0])]
    assert not wider, f"{len(wider)} rows wider than the header {table[0]}, the first {wider[0]}"
    assert table[0] == ["id", "name", "secret"] and table[1] == ["1", "a", ""]
    data = schema(secret={"type": "string"}, email={"type": "string"}) + record(id=9, name="c", email="c@x")
    assert target(config(tmp_path, mode="append"), data + state(9)).returncode == 0
    table = rows(out)
    assert table[0] == ["id", "name", "secret", "email"]
    assert all(row[3] == "" for row in table[1:-1]) and table[-1] == ["9", "c", "", "c@x"]
