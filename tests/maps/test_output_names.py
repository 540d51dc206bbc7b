"""One output stream, one schema (docs/stream-maps.md): outputs of two input streams (``events_*``
aliased to ``events``, a ``__source__`` copy named like another input stream) may share a name only
with the same mapped schema and key properties. A target shaped the stream by the last SCHEMA and
dropped the other stream's columns (every ``email`` gone, exit 0); now the SCHEMA that makes the
second one is a config error naming both, in mapper-sluice, in a target and in a tap alike.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from protocol import ConfigError, SchemaMessage
from protocol.maps import StreamMaps
from tests.conftest import exe, run
from tests.maps.streams import ours, parsed
from tests.maps.streams import run as run_maps

ID = {"id": {"type": "integer"}}
EMAILS = {"type": "object", "properties": {**ID, "email": {"type": "string"}}}
TOTALS = {"type": "object", "properties": {**ID, "total": {"type": "number"}}}
BY_PATTERN = {"stream_maps": {"events_*": {"__alias__": "events"}}}
HINT = ("a target shapes a stream by the last SCHEMA it gets, so the other's columns would be lost: give each "
        "its own output name (its own __alias__, or another key for a __source__ copy), or map both to the same "
        "schema and key properties to merge them")


def _maps(config: dict[str, Any]) -> StreamMaps:
    maps = StreamMaps.from_config(config, program="test")
    assert maps is not None
    return maps


def _refused(maps: StreamMaps, msg: SchemaMessage) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        maps.schema(msg)
    assert caught.value.summary == f"test: invalid stream maps for stream '{msg.stream}'"
    return caught.value


def test_two_streams_of_one_pattern_with_other_columns_are_refused() -> None:
    maps = _maps(BY_PATTERN)
    [schema] = maps.schema(SchemaMessage("events_2023", EMAILS, ["id"]))
    assert schema.stream == "events"
    error = _refused(maps, SchemaMessage("events_2024", TOTALS, ["id"]))
    assert error.problems == [
        "output stream 'events': input stream 'events_2023' (stream_maps entry 'events_*') and input stream "
        "'events_2024' (stream_maps entry 'events_*') both map to it, with different schemas (columns only in "
        f"'events_2023' ['email'], columns only in 'events_2024' ['total']); {HINT}"]


@pytest.mark.parametrize("first", ["users", "orders"])
def test_a_copy_named_like_an_input_stream_is_refused_whichever_comes_first(first: str) -> None:
    maps = _maps({"stream_maps": {"orders": {"__source__": "users"}}})
    schemas = {"users": EMAILS, "orders": TOTALS}
    second = "orders" if first == "users" else "users"
    maps.schema(SchemaMessage(first, schemas[first], ["id"]))
    error = _refused(maps, SchemaMessage(second, schemas[second], ["id"]))
    copy = "the __source__ copy of input stream 'users' (stream_maps entry 'orders')"
    named = [(copy, "the copy of 'users' ['email']"), ("input stream 'orders'", "'orders' ['total']")]
    if first == "orders":
        named.reverse()
    [problem] = error.problems
    assert problem.startswith(f"output stream 'orders': {named[0][0]} and {named[1][0]} both map to it, with "
                              f"different schemas (columns only in {named[0][1]}, columns only in {named[1][1]})")


@pytest.mark.parametrize(("schema", "keys", "difference"), [
    (EMAILS, ["id", "email"], "key properties ['id'] and ['id', 'email']"),
    ({"type": "object", "properties": {"id": {"type": "string"}, "email": {"type": "string"}}}, ["id"],
     "other types of ['id']"),
    ({**EMAILS, "required": ["email"]}, ["id"], "other schema keywords"),
])
def test_the_difference_is_named(schema: dict[str, Any], keys: list[str], difference: str) -> None:
    maps = _maps(BY_PATTERN)
    maps.schema(SchemaMessage("events_1", EMAILS, ["id"]))
    [problem] = _refused(maps, SchemaMessage("events_2", schema, keys)).problems
    assert f"both map to it, with different schemas ({difference}); " in problem


def test_shards_with_one_schema_are_merged_and_said_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="sluice.maps")
    maps = _maps(BY_PATTERN)
    reordered = {"type": "object", "properties": {"email": {"type": "string"}, **ID}}  # the same columns
    for _ in range(2):  # each SCHEMA sent again (a singer-sdk tap sends one per partition)
        for stream, schema in (("events_2023", EMAILS), ("events_2024", reordered), ("events_2025", EMAILS)):
            assert [m.stream for m in maps.schema(SchemaMessage(stream, schema, ["id"]))] == ["events"]
    assert maps.record("events_2024", {"id": 7, "email": "e"}, 5) == [("events", {"id": 7, "email": "e"})]
    said = [r.getMessage() for r in caplog.records if r.name == "sluice.maps"]
    assert said == [f"output stream 'events': input stream 'events_2023' (stream_maps entry 'events_*') and input "
                    f"stream '{s}' (stream_maps entry 'events_*') map to it with the same schema and key properties: "
                    "their records are merged into it" for s in ("events_2024", "events_2025")]


def test_a_schema_sent_again_replaces_its_streams_own() -> None:
    alone = _maps(BY_PATTERN)
    for schema in (EMAILS, TOTALS, EMAILS):  # changed: the one stream writing 'events' changes it
        [out] = alone.schema(SchemaMessage("events_2023", schema, ["id"]))
        assert out.schema == schema
    shared = _maps(BY_PATTERN)
    for stream in ("events_2023", "events_2024"):
        shared.schema(SchemaMessage(stream, EMAILS, ["id"]))
    [problem] = _refused(shared, SchemaMessage("events_2023", TOTALS, ["id"])).problems  # 2024 still writes it
    assert problem.startswith("output stream 'events': input stream 'events_2024' (stream_maps entry 'events_*') "
                              "and input stream 'events_2023' (stream_maps entry 'events_*') both map")


def test_activate_version_of_a_merged_output_is_refused() -> None:
    """A target deletes an output's rows not of the version activated: the other shards' rows."""
    maps = _maps({"stream_maps": {"events_*": {"__alias__": "events"}, "users": {"__alias__": "people"}}})
    maps.schema(SchemaMessage("events_2023", EMAILS, ["id"]))
    assert maps.streams("events_2023") == ["events"]  # alone so far: a full-table sync of it goes on
    maps.schema(SchemaMessage("users", EMAILS, ["id"]))
    assert maps.streams("users") == ["people"]
    maps.schema(SchemaMessage("events_2024", EMAILS, ["id"]))
    for stream, other in (("events_2024", "events_2023"), ("events_2023", "events_2024")):
        with pytest.raises(ConfigError) as caught:
            maps.streams(stream)
        assert caught.value.problems == [
            f"ACTIVATE_VERSION of input stream '{stream}' for output stream 'events', written by input stream "
            f"'{other}' (stream_maps entry 'events_*') too: a target would delete their rows (not of this "
            "version); give each its own output name (its own __alias__) to replicate them with versions"]


@pytest.mark.parametrize("config", [
    {"stream_maps": {"users": {"__alias__": "orders"}, "orders": None}},  # 'orders' itself is dropped
    {"stream_maps": {"users": {"__alias__": "orders"}, "orders": {"__alias__": "users"}}},  # swapped
    {"stream_maps": {"copy": {"__source__": "users"}, "*": {"__alias__": "__stream_name__ + '_raw'"}}},
])
def test_distinct_output_names_are_not_refused(config: dict[str, Any]) -> None:
    maps = _maps(config)
    for stream, schema in (("users", EMAILS), ("orders", TOTALS), ("users", EMAILS)):
        maps.schema(SchemaMessage(stream, schema, ["id"]))


def _collide(schema_2024: dict[str, Any]) -> bytes:
    """The probe's input: two streams' SCHEMAs, then their records interleaved."""
    record_2024 = {"id": 101, "email": "c@x"} if schema_2024 is EMAILS else {"id": 101, "total": 9.5}
    messages = [
        {"type": "SCHEMA", "stream": "events_2023", "schema": EMAILS, "key_properties": ["id"]},
        {"type": "SCHEMA", "stream": "events_2024", "schema": schema_2024, "key_properties": ["id"]},
        {"type": "RECORD", "stream": "events_2023", "record": {"id": 1, "email": "a@x"}},
        {"type": "RECORD", "stream": "events_2024", "record": record_2024},
        {"type": "RECORD", "stream": "events_2023", "record": {"id": 2, "email": "b@x"}},
        {"type": "STATE", "value": {"bookmarks": {"events_2023": 2, "events_2024": 101}}},
    ]
    return b"".join(json.dumps(m).encode() + b"\n" for m in messages)


NAMED = ("invalid stream maps for stream 'events_2024': output stream 'events': input stream 'events_2023' "
         "(stream_maps entry 'events_*') and input stream 'events_2024' (stream_maps entry 'events_*') both map")


def _error_line(stderr: bytes) -> str:
    lines = [line for line in stderr.decode().splitlines() if "ERROR" in line]
    assert len(lines) == 1 and "Traceback" not in stderr.decode(), stderr.decode()
    return lines[0]


def test_mapper_sluice_exits_2_before_any_record(tmp_path: Path) -> None:
    done = run_maps(ours(), BY_PATTERN, tmp_path, _collide(TOTALS))
    assert done.returncode == 2
    assert f"mapper-sluice: {NAMED}" in _error_line(done.stderr)
    assert not any(m["type"] == "RECORD" for m in parsed(done.stdout))


def _sqlite(tmp_path: Path, data: bytes) -> tuple[int, str, list[tuple[Any, ...]]]:
    db = tmp_path / "db.sqlite"
    config = tmp_path / "target.json"
    config.write_text(json.dumps({"database": str(db), **BY_PATTERN}))
    done = run([exe("target-sqlite"), "--config", str(config)], input=data)
    with sqlite3.connect(db) as conn:
        found = conn.execute("SELECT name FROM sqlite_master WHERE name = 'events'").fetchall()
        rows = conn.execute("SELECT id, email FROM events ORDER BY id").fetchall() if found else []
    return done.returncode, done.stderr.decode(), rows


def test_a_target_refuses_them_and_merges_shards_of_one_schema(tmp_path: Path) -> None:
    code, stderr, rows = _sqlite(tmp_path, _collide(TOTALS))
    assert code == 2 and f"target-sqlite: {NAMED}" in _error_line(stderr.encode())
    assert rows == []
    code, stderr, rows = _sqlite(tmp_path, _collide(EMAILS))
    assert code == 0, stderr
    assert rows == [(1, "a@x"), (2, "b@x"), (101, "c@x")]


def test_a_target_refuses_activate_version_of_merged_shards(tmp_path: Path) -> None:
    """The two shards' SCHEMAs are one: merged; each one's ACTIVATE_VERSION deleted the other's rows."""
    messages: list[dict[str, Any]] = [
        {"type": "SCHEMA", "stream": stream, "schema": EMAILS, "key_properties": ["id"]}
        for stream in ("events_2023", "events_2024")]
    for version, (stream, key) in enumerate((("events_2023", 1), ("events_2024", 101)), start=1):
        messages += [{"type": "ACTIVATE_VERSION", "stream": stream, "version": version},
                     {"type": "RECORD", "stream": stream, "record": {"id": key, "email": "e"}, "version": version},
                     {"type": "ACTIVATE_VERSION", "stream": stream, "version": version},
                     {"type": "STATE", "value": {"done": stream}}]
    code, stderr, _ = _sqlite(tmp_path, b"".join(json.dumps(m).encode() + b"\n" for m in messages))
    assert code == 2
    assert ("target-sqlite: invalid stream maps for stream 'events_2023': ACTIVATE_VERSION of input stream "
            "'events_2023' for output stream 'events', written by input stream 'events_2024'") in _error_line(
                stderr.encode())


def test_a_tap_refuses_them(tmp_path: Path) -> None:
    files = []
    for stream, text in (("events_2023", "id,email\n1,a@x\n"), ("events_2024", "id,total\n101,9.5\n")):
        (tmp_path / f"{stream}.csv").write_text(text)
        files.append({"entity": stream, "path": str(tmp_path / f"{stream}.csv"), "keys": ["id"]})
    config = tmp_path / "tap.json"
    config.write_text(json.dumps({"files": files, **BY_PATTERN}))
    done = run([exe("tap-csv"), "--config", str(config)])
    assert done.returncode == 2
    assert f"tap-csv: {NAMED}" in _error_line(done.stderr)
    assert not any(m["stream"] == "events" and "total" in m["schema"]["properties"]
                   for m in parsed(done.stdout) if m["type"] == "SCHEMA")
