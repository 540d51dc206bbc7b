"""mapper-sluice as a program: the connector CLI contract, its exit codes, errors as one line."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import exe
from tests.maps.streams import input_lines, ours, parsed, run


def _lines(done: subprocess.CompletedProcess[bytes]) -> list[dict[str, Any]]:
    return parsed(done.stdout)


def _error_line(done: subprocess.CompletedProcess[bytes]) -> str:
    lines = [line for line in done.stderr.decode().splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "Traceback" not in done.stderr.decode()
    return lines[0]


def test_state_passes_untouched_and_activate_version_fans_out(tmp_path: Path) -> None:
    state = b'{"type":"STATE","value":{"x":1}}\n'
    data = input_lines() + state + state
    config = {"stream_maps": {"users": {"__alias__": "people"}, "copy": {"__source__": "users"}, "orders": None}}
    done = run(ours(), config, tmp_path, data)
    assert done.returncode == 0, done.stderr.decode()
    out = _lines(done)
    states = [m for m in out if m["type"] == "STATE"]
    assert [s["value"] for s in states][-2:] == [{"x": 1}, {"x": 1}]  # repeats kept, as they came
    assert len(states) == 4
    versions = [m["stream"] for m in out if m["type"] == "ACTIVATE_VERSION"]
    assert versions == ["people", "copy"]
    assert {m["stream"] for m in out if m["type"] == "SCHEMA"} == {"people", "copy", "events", "odd", "prices"}
    assert not any(m.get("stream") == "orders" for m in out)


def test_without_maps_every_line_passes(tmp_path: Path) -> None:
    done = run(ours(), {}, tmp_path)
    assert done.returncode == 0
    assert _lines(done) == parsed(input_lines())


def test_an_invalid_map_exits_2_listing_every_problem(tmp_path: Path) -> None:
    config = {"stream_maps": {"users": {"x": "1 +", "__filtr__": "True", "y": 5}, "__bogus": None},
              "flattening_enabled": True}
    done = run(ours(), config, tmp_path)
    assert done.returncode == 2
    line = _error_line(done)
    for part in ("stream_maps.users.x", "__filtr__", "did you mean '__filter__'", "stream_maps.users.y",
                 "stream_maps.__bogus", "flattening_max_depth is required"):
        assert part in line, part
    assert done.stdout == b""


def test_dropping_a_key_property_is_a_config_error(tmp_path: Path) -> None:
    done = run(ours(), {"stream_maps": {"users": {"id": None}}}, tmp_path)
    assert done.returncode == 2
    assert "'id' is a key property" in _error_line(done)


def test_an_expression_failing_on_a_record_names_stream_property_and_line(tmp_path: Path) -> None:
    done = run(ours(), {"stream_maps": {"users": {"domain": "email.split('@')[1]"}}}, tmp_path)
    assert done.returncode == 1
    line = _error_line(done)
    assert "line 8, stream 'users', field 'domain'" in line  # the second users record: email is null
    assert "email.split('@')[1]" in line and "AttributeError" in line
    assert all(m["type"] != "RECORD" or m["record"]["id"] == 1 for m in _lines(done))


def test_a_failing_filter_is_named_too(tmp_path: Path) -> None:
    done = run(ours(), {"stream_maps": {"orders": {"__filter__": "total > 'x'"}}}, tmp_path)
    assert done.returncode == 1
    assert "stream 'orders', field '__filter__'" in _error_line(done)


def test_bad_input_names_the_line(tmp_path: Path) -> None:
    data = b'{"type":"RECORD","stream":"nope","record":{"a":1}}\n'
    done = run(ours(), {"stream_maps": {"nope": {"a": None}}}, tmp_path, data)
    assert done.returncode == 1
    assert _error_line(done).endswith("line 1: RECORD for stream 'nope' before its SCHEMA")
    done = run(ours(), {}, tmp_path, input_lines() + b'{"type":"RECORD",\n')
    bad = len(input_lines().splitlines()) + 1
    assert done.returncode == 1 and f"line {bad}: malformed JSON" in _error_line(done)


def test_a_record_version_that_is_not_an_integer_names_the_line(tmp_path: Path) -> None:
    """It went through the hot path: 1.5 was written as version 1, "abc" an internal error."""
    head = (b'{"type":"SCHEMA","stream":"s","schema":{"type":"object","properties":{"id":{"type":"integer"}}},'
            b'"key_properties":["id"]}\n{"type":"RECORD","stream":"s","record":{"id":1},"version":3}\n')
    for bad in (b"1.5", b'"abc"', b"true"):
        data = head + b'{"type":"RECORD","stream":"s","record":{"id":2},"version":' + bad + b"}\n"
        done = run(ours(), {"stream_maps": {"s": {"w": "id"}}, "workers": 1}, tmp_path, data)
        assert done.returncode == 1, bad
        assert _error_line(done).endswith("line 3, stream 's', field 'version': RECORD 'version' must be an integer")


def test_batch_cannot_be_mapped(tmp_path: Path) -> None:
    data = input_lines() + b'{"type":"BATCH","stream":"users","encoding":{"format":"jsonl"},"manifest":["f"]}\n'
    done = run(ours(), {"stream_maps": {"users": {"ssn": None}}}, tmp_path, data)
    assert done.returncode == 1
    assert "BATCH" in _error_line(done)


def test_about_lists_capabilities_and_the_four_settings() -> None:
    done = subprocess.run([exe("mapper-sluice"), "--about", "--format", "json"], capture_output=True, check=True)
    about = json.loads(done.stdout)
    assert about["name"] == "mapper-sluice"
    assert {"stream-maps", "schema-flattening", "about"} <= set(about["capabilities"])
    assert list(about["settings"]["properties"])[:4] == ["stream_maps", "stream_map_config", "flattening_enabled",
                                                     "flattening_max_depth"]


def test_test_schema_checks_the_maps(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"stream_maps": {"a": {"x": "sha256(x)"}}}))
    done = subprocess.run([exe("mapper-sluice"), "--config", str(path), "--test"], capture_output=True, check=False)
    assert done.returncode == 0, done.stderr
    path.write_text(json.dumps({"stream_maps": {"a": {"x": "open('f')"}}}))
    done = subprocess.run([exe("mapper-sluice"), "--config", str(path), "--test"], capture_output=True, check=False)
    assert done.returncode == 2 and "open() is not a function" in _error_line(done)


def test_unknown_setting_is_reported(tmp_path: Path) -> None:
    done = run(ours(), {"stream_mapz": {}}, tmp_path)
    assert "stream_mapz" in done.stderr.decode()


def test_help_names_the_settings_and_the_exit_codes() -> None:
    done = subprocess.run([exe("mapper-sluice"), "--help"], capture_output=True, check=True)
    text = " ".join(done.stdout.decode().split())
    assert "Exit codes: 0 done, 1 failed at run time, 2 bad usage or invalid config, 130 interrupted by SIGINT" in text
    for name in ("stream_maps", "stream_map_config", "flattening_enabled", "flattening_max_depth", "--config",
                 "--about", "--input"):
        assert name in text
