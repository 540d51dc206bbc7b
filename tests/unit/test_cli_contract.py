"""The connector CLI contract, on a tiny tap and target built from the kit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import orjson
import pytest
from click.testing import CliRunner

from protocol import Bookmarks, FatalSourceError, Sink, Stream, Tap, Target, tap_main, target_main
from protocol._messages import RecordMessage, SchemaMessage
from protocol._settings_check import KIT_SETTINGS
from protocol.maps import MAP_SETTINGS

SETTINGS = {
    "type": "object",
    "required": ["rows"],
    "properties": {
        "rows": {"type": "integer", "description": "How many rows."},
        "token": {"type": "string", "secret": True, "writeOnly": True},
        "fail": {"type": "boolean", "default": False},
    },
}


class Numbers(Stream):
    name = "numbers"
    primary_keys = ("n",)
    replication_key = "n"
    is_sorted = True

    @property
    def schema(self) -> dict[str, Any]:
        return {"type": "object", "properties": {"n": {"type": "integer"}, "sq": {"type": "integer"}}}

    def get_records(self, bookmarks: Bookmarks) -> Iterator[dict[str, Any]]:
        start = bookmarks.replication_value("numbers") or 0
        for n in range(start, self.config["rows"]):
            yield {"n": n, "sq": n * n}


class Empty(Stream):
    name = "empty"

    @property
    def schema(self) -> dict[str, Any]:
        return {"type": "object", "properties": {"x": {"type": "string"}}}

    def get_records(self, bookmarks: Bookmarks) -> Iterator[dict[str, Any]]:
        return iter(())


class NumbersTap(Tap):
    name = "tap-numbers"
    description = "Counts."
    settings_schema = SETTINGS

    def streams(self) -> list[Stream]:
        return [Numbers(self), Empty(self)]

    def test_connection(self) -> str:
        if self.config["fail"]:
            raise FatalSourceError(f"token {self.config.get('token')} rejected by the server")
        return "ok"


@dataclass(frozen=True)
class ListSettings:
    fail: bool


class ListSink(Sink):
    settings: ListSettings

    def __init__(self, schema: SchemaMessage, loader: Any, settings: ListSettings) -> None:
        super().__init__(schema, loader, settings)
        self.rows: list[dict[str, Any]] = []

    def add(self, record: dict[str, Any], message: RecordMessage) -> None:
        self.rows.append(record)

    def flush(self) -> None:
        if self.settings.fail:
            raise OSError(28, "No space left on device")


class ListTarget(Target):
    name = "target-list"
    description = "Keeps rows."
    settings_schema: ClassVar[dict[str, Any]] = {"type": "object", "properties": {"fail": {"type": "boolean"}}}
    sink_class = ListSink

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.settings = ListSettings(bool(config.get("fail")))


tap = tap_main(NumbersTap)
target = target_main(ListTarget)


def cfg(tmp_path: Path, **values: Any) -> str:
    p = tmp_path / "config.json"
    p.write_text(json.dumps(values))
    return str(p)


def singer_lines(stdout: bytes) -> list[dict[str, Any]]:
    lines = [orjson.loads(line) for line in stdout.splitlines()]
    for line in lines:
        assert line["type"] in {"SCHEMA", "RECORD", "STATE", "ACTIVATE_VERSION", "BATCH"}
    return lines


def test_about_json_has_sdk_shape() -> None:
    result = CliRunner().invoke(tap, ["--about", "--format", "json"])
    assert result.exit_code == 0
    about = json.loads(result.stdout)
    assert set(about) == {"name", "description", "version", "sdk_version", "supported_python_versions",
                          "capabilities", "settings"}
    # the declared settings, plus the kit's own strict_settings and the stream-map settings, published
    # for every connector
    assert about["name"] == "tap-numbers"
    kit = {"strict_settings": KIT_SETTINGS["strict_settings"], **MAP_SETTINGS}
    assert about["settings"]["properties"] == {**SETTINGS["properties"], **kit}
    assert "discover" in about["capabilities"] and "state" in about["capabilities"]


def test_about_markdown_lists_settings() -> None:
    result = CliRunner().invoke(tap, ["--about", "--format", "markdown"])
    assert result.exit_code == 0
    assert "| rows | True | None | How many rows. |" in result.stdout


def test_sync_writes_schema_records_and_final_state(tmp_path: Path) -> None:
    result = CliRunner().invoke(tap, ["--config", cfg(tmp_path, rows=3)])
    assert result.exit_code == 0, result.stderr
    lines = singer_lines(result.stdout_bytes)
    assert [r["record"]["n"] for r in lines if r["type"] == "RECORD"] == [0, 1, 2]
    # the run ends with its STATE, once: the stream 'empty' wrote only its SCHEMA since the same value
    final = {"type": "STATE", "value": {"bookmarks": {"numbers": {"replication_key": "n", "replication_key_value": 2}}}}
    assert lines[-1] == final
    assert [r["type"] for r in lines] == ["SCHEMA", "RECORD", "RECORD", "RECORD", "STATE", "SCHEMA", "STATE"]
    assert 'METRIC: {"type":"counter","metric":"record_count","value":3,"tags":{"stream":"numbers"}}' in result.stderr


def test_final_state_keeps_every_input_bookmark(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"bookmarks": {"numbers": {"replication_key": "n", "replication_key_value": 5},
                                               "gone": {"x": 1}}}))
    result = CliRunner().invoke(tap, ["--config", cfg(tmp_path, rows=5), "--state", str(state)])
    assert result.exit_code == 0, result.stderr
    lines = singer_lines(result.stdout_bytes)
    assert [r for r in lines if r["type"] == "RECORD"] == []
    [final] = [r for r in lines if r["type"] == "STATE"]
    assert final["value"]["bookmarks"] == {"numbers": {"replication_key": "n", "replication_key_value": 5},
                                               "gone": {"x": 1}}


@pytest.mark.parametrize("wrapped", [False, True])
def test_a_state_file_holds_a_bare_value_or_a_state_message(tmp_path: Path, wrapped: bool) -> None:
    value = {"bookmarks": {"numbers": {"replication_key": "n", "replication_key_value": 3}}}
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"type": "STATE", "value": value} if wrapped else value))
    result = CliRunner().invoke(tap, ["--config", cfg(tmp_path, rows=5), "--state", str(state)])
    assert result.exit_code == 0, result.stderr
    assert [r["record"]["n"] for r in singer_lines(result.stdout_bytes) if r["type"] == "RECORD"] == [3, 4]


@pytest.mark.parametrize("text", ['[{"bookmarks": {}}]', '{"type": "STATE", "value": 3}',
                                  '{"type": "RECORD", "stream": "numbers", "record": {"n": 1}}'])
def test_a_state_file_without_a_state_is_refused(tmp_path: Path, text: str) -> None:
    state = tmp_path / "state.json"
    state.write_text(text)
    result = CliRunner().invoke(tap, ["--config", cfg(tmp_path, rows=5), "--state", str(state)])
    assert result.exit_code == 2
    assert f"state file {state} must hold a JSON object" in result.stderr
    assert result.stdout == ""


def test_catalog_selection_limits_streams_and_fields(tmp_path: Path) -> None:
    disc = CliRunner().invoke(tap, ["--config", cfg(tmp_path, rows=2), "--discover"])
    catalog = json.loads(disc.stdout)
    numbers = next(s for s in catalog["streams"] if s["tap_stream_id"] == "numbers")
    for m in numbers["metadata"]:
        if m["breadcrumb"] == ["properties", "sq"]:
            m["metadata"]["selected"] = False
        if m["breadcrumb"] == []:
            m["metadata"]["selected"] = True
    catalog["streams"] = [numbers]
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(catalog))
    result = CliRunner().invoke(tap, ["--config", cfg(tmp_path, rows=2), "--catalog", str(path)])
    lines = singer_lines(result.stdout_bytes)
    assert [r["record"] for r in lines if r["type"] == "RECORD"] == [{"n": 0}, {"n": 1}]


def test_config_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAP_NUMBERS_ROWS", "2")
    result = CliRunner().invoke(tap, ["--config", "ENV"])
    assert result.exit_code == 0
    assert len([r for r in singer_lines(result.stdout_bytes) if r["type"] == "RECORD"]) == 2


def test_invalid_config_exits_2_listing_problems(tmp_path: Path) -> None:
    result = CliRunner().invoke(tap, ["--config", cfg(tmp_path, fail="yes")])
    assert result.exit_code == 2
    assert result.stdout == ""
    err_lines = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(err_lines) == 1
    assert "'rows' is a required property" in err_lines[0] and "setting 'fail'" in err_lines[0]


def test_connection_check_passes_and_fails_without_leaking_secret(tmp_path: Path) -> None:
    ok = CliRunner().invoke(tap, ["--config", cfg(tmp_path, rows=1), "--test"])
    assert ok.exit_code == 0 and "connection check passed" in ok.stderr
    bad = CliRunner().invoke(tap, ["--config", cfg(tmp_path, rows=1, fail=True, token="hunter2-token"), "--test"])
    assert bad.exit_code == 1
    assert "rejected by the server" in bad.stderr
    assert "hunter2-token" not in bad.stderr and "Traceback" not in bad.stderr


def test_target_emits_state_after_commit_and_reads_input_file(tmp_path: Path) -> None:
    data = (b'{"type":"SCHEMA","stream":"s","schema":{"type":"object","properties":{"id":{"type":"integer"}}},'
            b'"key_properties":["id"]}\n{"type":"RECORD","stream":"s","record":{"id":1}}\n'
            b'{"type":"STATE","value":{"pos":1}}\n')
    source = tmp_path / "in.singer"
    source.write_bytes(data)
    result = CliRunner().invoke(target, ["--input", str(source)])
    assert result.exit_code == 0, result.stderr
    # a target echoes the bare state value, as singer-sdk targets do and Meltano expects
    assert [orjson.loads(x) for x in result.stdout_bytes.splitlines()] == [{"pos": 1}]


def test_target_failure_emits_no_state(tmp_path: Path) -> None:
    data = (b'{"type":"SCHEMA","stream":"s","schema":{"type":"object","properties":{"id":{"type":"integer"}}}}\n'
            b'{"type":"RECORD","stream":"s","record":{"id":1}}\n{"type":"STATE","value":{"pos":1}}\n')
    result = CliRunner().invoke(target, ["--config", cfg(tmp_path, fail=True)], input=data)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "stream 's': cannot write" in result.stderr and "Traceback" not in result.stderr


def test_bad_line_in_target_is_one_error_line() -> None:
    result = CliRunner().invoke(target, [], input=b'{"type":"RECORD","stream":"users","record":{}}\n')
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and errors[0].endswith("line 1: RECORD for stream 'users' before its SCHEMA")
