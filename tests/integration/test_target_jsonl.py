"""target-jsonl as a user runs it: a real subprocess, real files, stdout read back."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import re
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from protocol import loads
from tests.conftest import exe, run, target_states

SCHEMA = {"type": "SCHEMA", "stream": "orders", "key_properties": ["id"],
          "schema": {"type": "object", "required": ["id"],
                     "properties": {"id": {"type": "integer"}, "amount": {"type": ["number", "null"]},
                                    "note": {"type": ["string", "null"]}}}}


def line(msg: dict[str, Any]) -> bytes:
    return orjson.dumps(msg) + b"\n"


def record(i: int, stream: str = "orders", **extra: Any) -> bytes:
    return line({"type": "RECORD", "stream": stream, "record": {"id": i, "note": f"n{i}", **extra}})


def state(i: int) -> bytes:
    return line({"type": "STATE", "value": {"bookmarks": {"orders": {"id": i}}}})


def stream_of(*parts: bytes) -> bytes:
    return line(SCHEMA) + b"".join(parts)


def config(tmp_path: Path, **settings: Any) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"destination_path": str(tmp_path / "out"), **settings}))
    return path


def states(stdout: bytes) -> list[Any]:
    """The state values on stdout, in order (stdout carries nothing else)."""
    return target_states(stdout)


def ids(path: Path) -> list[int]:
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    return [orjson.loads(row)["id"] for row in data.splitlines()]


def target(cfg: Path, data: bytes, *args: str) -> subprocess.CompletedProcess[bytes]:
    return run([exe("target-jsonl"), "--config", str(cfg), *args], input=data)


def test_records_land_and_the_final_state_is_emitted(tmp_path: Path) -> None:
    cfg = config(tmp_path, state_flush_seconds=0)
    result = target(cfg, stream_of(record(1), record(2), state(2), record(3), state(3)))
    assert result.returncode == 0, result.stderr
    assert ids(tmp_path / "out" / "orders.jsonl") == [1, 2, 3]
    assert states(result.stdout) == [{"bookmarks": {"orders": {"id": 2}}}, {"bookmarks": {"orders": {"id": 3}}}]
    assert b"Traceback" not in result.stderr


def test_append_mode_adds_and_overwrite_mode_replaces(tmp_path: Path) -> None:
    data = stream_of(record(1), record(2), state(2))
    appending = config(tmp_path)  # append is the default, as in andyh1203's target
    assert target(appending, data).returncode == 0
    assert target(appending, data).returncode == 0
    assert ids(tmp_path / "out" / "orders.jsonl") == [1, 2, 1, 2]
    overwriting = config(tmp_path, mode="overwrite")
    assert target(overwriting, data).returncode == 0
    assert ids(tmp_path / "out" / "orders.jsonl") == [1, 2]


def test_overwrite_keeps_the_old_file_when_the_run_fails_before_writing(tmp_path: Path) -> None:
    cfg = config(tmp_path, mode="overwrite")
    assert target(cfg, stream_of(record(1), state(1))).returncode == 0
    bad = stream_of(b'{"type": "RECORD", "stream": "orders", "record": {"id": "x"}}\n')
    result = target(cfg, bad)
    assert result.returncode == 1
    assert ids(tmp_path / "out" / "orders.jsonl") == [1]


def test_gzip_round_trip_in_append_mode(tmp_path: Path) -> None:
    cfg = config(tmp_path, compression="gzip", batch_size_rows=2)
    data = stream_of(*(record(i) for i in range(1, 6)), state(5))
    assert target(cfg, data).returncode == 0
    assert target(cfg, data).returncode == 0
    path = tmp_path / "out" / "orders.jsonl.gz"
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["orders.jsonl.gz"]
    with gzip.open(path, "rb") as fh:
        assert [orjson.loads(row)["id"] for row in fh] == [1, 2, 3, 4, 5] * 2


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_a_bad_line_mid_stream_rolls_back_to_the_last_emitted_state(tmp_path: Path, compression: str) -> None:
    # batch_size_rows=2: records 6 and 7 are flushed by a full batch (no STATE covers them),
    # 8 is pending, then line 11 is broken. Only what the emitted STATE covers may remain.
    cfg = config(tmp_path, compression=compression, batch_size_rows=2, state_flush_seconds=0)
    data = stream_of(*(record(i) for i in range(1, 6)), state(5), *(record(i) for i in range(6, 9)),
                     b'{"type": "RECORD", "stream": "orders", "record": {"id": 9}\n', record(10), state(10))
    result = target(cfg, data)
    assert result.returncode == 1
    assert states(result.stdout) == [{"bookmarks": {"orders": {"id": 5}}}]
    flushed = sum(orjson.loads(m)["value"] for m in re.findall(rb'METRIC: (\{.*"record_count".*\})', result.stderr))
    assert flushed == 7, "records 6 and 7 reached the file before the failure"
    name = "orders.jsonl.gz" if compression == "gzip" else "orders.jsonl"
    assert ids(tmp_path / "out" / name) == [1, 2, 3, 4, 5]
    errors = [ln for ln in result.stderr.decode().splitlines() if "ERROR" in ln]
    assert len(errors) == 1 and "line 11" in errors[0] and "malformed JSON" in errors[0]
    assert "Traceback" not in result.stderr.decode()


def test_each_state_arrives_only_after_its_records_are_in_the_file(tmp_path: Path) -> None:
    cfg = config(tmp_path, state_flush_seconds=0)
    out = tmp_path / "out" / "orders.jsonl"
    proc = subprocess.Popen([exe("target-jsonl"), "--config", str(cfg)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(line(SCHEMA))
        sent = 0
        for chunk in (3, 1, 50, 2000):
            proc.stdin.write(b"".join(record(i) for i in range(sent + 1, sent + chunk + 1)))
            sent += chunk
            proc.stdin.write(state(sent))
            proc.stdin.flush()
            answer = proc.stdout.readline()  # blocks until the target emits it
            size = out.stat().st_size
            assert states(answer) == [{"bookmarks": {"orders": {"id": sent}}}]
            assert len(out.read_bytes()[:size].splitlines()) == sent, "STATE emitted before its records landed"
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0
        assert proc.stdout.read() == b""
    finally:
        proc.kill()
        proc.wait()
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()
        proc.stdout.close()


def test_input_file_instead_of_stdin(tmp_path: Path) -> None:
    messages = tmp_path / "messages.singer"
    messages.write_bytes(stream_of(record(1), record(2), state(2)))
    result = run([exe("target-jsonl"), "--config", str(config(tmp_path)), "--input", str(messages)],
                 input=b"")
    assert result.returncode == 0, result.stderr
    assert ids(tmp_path / "out" / "orders.jsonl") == [1, 2]
    assert states(result.stdout) == [{"bookmarks": {"orders": {"id": 2}}}]


def test_custom_name_sends_every_stream_to_one_file(tmp_path: Path) -> None:
    other = dict(SCHEMA, stream="refunds")
    data = stream_of(record(1), line(other), record(7, stream="refunds"), record(2), state(2))
    result = target(config(tmp_path, custom_name="everything"), data)
    assert result.returncode == 0, result.stderr
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["everything.jsonl"]
    assert sorted(ids(tmp_path / "out" / "everything.jsonl")) == [1, 2, 7]


def test_do_timestamp_file_names_the_file_with_the_run_time(tmp_path: Path) -> None:
    result = target(config(tmp_path, do_timestamp_file=True), stream_of(record(1), state(1)))
    assert result.returncode == 0, result.stderr
    names = [p.name for p in (tmp_path / "out").iterdir()]
    assert len(names) == 1 and re.fullmatch(r"orders-\d{8}T\d{6}\.jsonl", names[0]), names


def test_schema_changes_mid_stream_just_continue(tmp_path: Path) -> None:
    wider = json.loads(json.dumps(SCHEMA))
    wider["schema"]["properties"]["extra"] = {"type": "boolean"}
    result = target(config(tmp_path), stream_of(record(1), line(wider), record(2, extra=True), state(2)))
    assert result.returncode == 0, result.stderr
    rows = [orjson.loads(r) for r in (tmp_path / "out" / "orders.jsonl").read_bytes().splitlines()]
    assert rows == [{"id": 1, "note": "n1"}, {"id": 2, "note": "n2", "extra": True}]


def test_numbers_are_written_exactly(tmp_path: Path) -> None:
    raw = (b'{"type": "RECORD", "stream": "orders", "record": {"id": 123456789012345678901234567890, '
           b'"amount": 12345678901234567.891, "note": "0.1"}}\n'
           b'{"type": "RECORD", "stream": "orders", "record": {"id": 2, "amount": 0.1}}\n')
    result = target(config(tmp_path), stream_of(raw))
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "out" / "orders.jsonl").read_bytes()
    assert b'"id":123456789012345678901234567890' in text
    assert b'"amount":12345678901234567.891' in text
    assert loads(text.splitlines()[0])["amount"] == Decimal("12345678901234567.891")
    assert orjson.loads(text.splitlines()[1]) == {"id": 2, "amount": 0.1}


def test_about_publishes_the_drop_in_settings(tmp_path: Path) -> None:
    result = run([exe("target-jsonl"), "--about", "--format", "json"])
    assert result.returncode == 0, result.stderr
    settings = json.loads(result.stdout)["settings"]["properties"]
    for name in ("destination_path", "do_timestamp_file", "custom_name", "mode", "compression",
                 "batch_size_rows", "validate_records", "state_flush_seconds"):
        assert name in settings, name


def test_unwritable_destination_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"destination_path": str(blocker / "out")}))
    result = target(cfg, stream_of(record(1), state(1)))
    assert result.returncode == 1
    errors = [ln for ln in result.stderr.decode().splitlines() if "ERROR" in ln]
    assert len(errors) == 1 and "stream 'orders'" in errors[0] and "Traceback" not in result.stderr.decode()
    assert result.stdout == b""
    assert sorted(os.listdir(tmp_path)) == ["c.json", "file"]


def test_connection_check_writes_a_probe_and_names_an_unwritable_directory(tmp_path: Path) -> None:
    ok = run([exe("target-jsonl"), "--config", str(config(tmp_path)), "--test"])
    assert ok.returncode == 0, ok.stderr
    assert list((tmp_path / "out").iterdir()) == []  # the probe is gone
    blocker = tmp_path / "file"
    blocker.write_text("")
    cfg = tmp_path / "bad.json"
    cfg.write_text(json.dumps({"destination_path": str(blocker / "out")}))
    bad = run([exe("target-jsonl"), "--config", str(cfg), "--test"])
    assert bad.returncode == 1
    errors = [ln for ln in bad.stderr.decode().splitlines() if "ERROR" in ln]
    assert len(errors) == 1 and str(blocker / "out") in errors[0]


def test_two_streams_whose_names_sanitize_alike_do_not_mix(tmp_path: Path) -> None:
    data = (line(dict(SCHEMA, stream="a/b")) + record(1, stream="a/b")
            + line(dict(SCHEMA, stream="a_b")) + record(2, stream="a_b"))
    result = target(config(tmp_path), data)
    assert result.returncode == 2
    assert b"'a/b' and 'a_b'" in result.stderr
    assert not (tmp_path / "out").exists()  # the pending record of 'a/b' was never written
