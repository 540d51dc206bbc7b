"""Flattening where mapper-sluice deliberately differs from singer-sdk's engine (docs/stream-maps.md,
"Differences from singer-sdk"): each test states what ours writes, what a real target then lands,
and what the SDK writes instead, so a change on either side shows.

- a property without ``type`` is read as its first typed ``anyOf`` / ``oneOf`` branch, whatever its type
  (the SDK leaves integer, number, boolean and null first branches out of the SCHEMA: SQL targets
  then drop the values without an error);
- ``required`` loses an object opened into children (the SDK keeps it: targets refuse every record);
- two values of a record landing in one column are an error (the SDK keeps the last);
- two input streams mapped to one output stream with different schemas are a config error (the SDK
  writes both SCHEMAs under the one name: a target keeps the last and drops the other's columns);
  so is an ACTIVATE_VERSION for an output that two input streams write (the SDK passes it on: a target
  deletes the other stream's rows).
"""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.conftest import exe
from tests.conftest import run as run_args
from tests.maps.streams import ours, parsed, reference, run

FLAT = {"flattening_enabled": True, "flattening_max_depth": 1}

TYPED_BY_BRANCH = {"type": "object", "properties": {
    "id": {"type": "integer"},
    "qty": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
    "price": {"oneOf": [{"type": "number"}, {"type": "null"}]},
    "ok": {"anyOf": [{"type": "boolean"}, {"type": "null"}]},
    "described": {"description": "first key not the anyOf", "anyOf": [{"type": "integer"}, {"type": "null"}]},
    "null_first": {"anyOf": [{"type": "null"}, {"type": "string", "maxLength": 5}]},
    "tags": {"anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}]},
    "box": {"anyOf": [{"type": "object", "properties": {"w": {"type": ["integer", "null"]},
                                                        "deep": {"type": ["object", "null"]}}},
                      {"type": "null"}]},
}}
BRANCH_RECORDS: list[dict[str, Any]] = [
    {"id": 1, "qty": 5, "price": 2.25, "ok": True, "described": 7, "null_first": "abc", "tags": ["a", "ü"],
     "box": {"w": 3, "deep": {"k": 1}}},
    {"id": 2, "qty": None, "price": None, "ok": False, "described": None, "null_first": None, "tags": None,
     "box": {"w": None, "deep": None}},
]


def _lines(stream: str, schema: dict[str, Any], records: list[dict[str, Any]]) -> bytes:
    messages: list[dict[str, Any]] = [{"type": "SCHEMA", "stream": stream, "schema": schema, "key_properties": ["id"]}]
    messages += [{"type": "RECORD", "stream": stream, "record": record} for record in records]
    messages.append({"type": "STATE", "value": {"done": True}})
    return b"".join(json.dumps(m).encode() + b"\n" for m in messages)


def _schema_and_records(stdout: bytes) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    out = parsed(stdout)
    [schema] = [m["schema"] for m in out if m["type"] == "SCHEMA"]
    return schema, [m["record"] for m in out if m["type"] == "RECORD"]


def test_a_property_typed_by_its_first_branch_keeps_its_column(tmp_path: Path) -> None:
    data = _lines("s", TYPED_BY_BRANCH, BRANCH_RECORDS)
    done = run(ours(), FLAT, tmp_path, data)
    assert done.returncode == 0, done.stderr.decode()
    schema, records = _schema_and_records(done.stdout)
    assert schema["properties"] == {
        "id": {"type": "integer"},
        "qty": {"type": ["null", "integer"]},
        "price": {"type": ["null", "number"]},
        "ok": {"type": ["null", "boolean"]},
        "described": {"type": ["null", "integer"]},
        "null_first": {"type": ["null", "string"], "maxLength": 5},
        "tags": {"type": ["string", "null"]},  # its value is JSON text, as an array property's
        "box__w": {"type": ["integer", "null"]},  # an object branch is opened like any object
        "box__deep": {"type": ["string", "null"]},
    }
    assert records[0] == {"id": 1, "qty": 5, "price": Decimal("2.25"), "ok": True, "described": 7,
                          "null_first": "abc", "tags": '["a","\\u00fc"]', "box__w": 3, "box__deep": '{"k":1}'}
    assert set(records[1]) <= set(schema["properties"])  # every value has its column

    theirs = run(reference(), FLAT, tmp_path, data)
    assert theirs.returncode == 0, theirs.stderr.decode()[-2000:]
    sdk_schema, sdk_records = _schema_and_records(theirs.stdout)
    # the SDK leaves out the columns whose first branch is not a string, array or object ...
    assert set(sdk_schema["properties"]) == {"id", "described", "tags", "box"}
    assert sdk_records[0]["qty"] == 5 and sdk_records[0]["null_first"] == "abc"  # ... the records keep the values
    assert sdk_schema["properties"]["described"] == {"type": ["null", "string"]}  # its first key is no anyOf
    assert sdk_schema["properties"]["tags"]["type"] == ["null", "array"] and isinstance(sdk_records[0]["tags"], str)


def test_a_sql_target_lands_the_values_of_a_branch_typed_property(tmp_path: Path) -> None:
    """The user's view of the first test: target-sqlite flattening the stream itself creates the
    columns and lands the values (it had no qty, price, ok column, and exited 0)."""
    config = tmp_path / "target.json"
    config.write_text(json.dumps({"database": str(tmp_path / "db.sqlite"), **FLAT}))
    done = run_args([exe("target-sqlite"), "--config", str(config)], input=_lines("s", TYPED_BY_BRANCH, BRANCH_RECORDS))
    assert done.returncode == 0, done.stderr.decode()
    with sqlite3.connect(tmp_path / "db.sqlite") as db:
        db.row_factory = sqlite3.Row
        rows = [dict(row) for row in db.execute("SELECT * FROM s ORDER BY id")]
    assert [(r["id"], r["qty"], r["described"], r["null_first"], r["box__w"]) for r in rows] == [
        (1, 5, 7, "abc", 3), (2, None, None, None, None)]
    assert [bool(r["ok"]) for r in rows] == [True, False]
    assert Decimal(str(rows[0]["price"])) == Decimal("2.25") and rows[1]["price"] is None
    assert json.loads(rows[0]["tags"]) == ["a", "ü"]


REQUIRED = {"type": "object", "required": ["id", "from", "blob", "note"], "properties": {
    "id": {"type": "integer"},
    "from": {"type": "object", "required": ["b"], "properties": {"b": {"type": "string"}}},  # opened
    "blob": {"type": "object"},  # no properties: one JSON text column, its name kept
    "note": {"type": ["string", "null"]},
}}


def test_required_loses_the_objects_opened_into_columns(tmp_path: Path) -> None:
    data = _lines("s", REQUIRED, [{"id": 1, "from": {"b": "x"}, "blob": {"k": [1]}, "note": None}])
    done = run(ours(), FLAT, tmp_path, data)
    assert done.returncode == 0, done.stderr.decode()
    schema, records = _schema_and_records(done.stdout)
    assert schema["required"] == ["id", "blob", "note"]
    assert records == [{"id": 1, "from__b": "x", "blob": '{"k":[1]}', "note": None}]
    theirs = run(reference(), FLAT, tmp_path, data)
    assert theirs.returncode == 0, theirs.stderr.decode()[-2000:]
    assert _schema_and_records(theirs.stdout)[0]["required"] == ["id", "from", "blob", "note"]


def test_a_target_flattening_a_required_object_writes_its_records(tmp_path: Path) -> None:
    config = tmp_path / "target.json"
    config.write_text(json.dumps({"destination_path": str(tmp_path / "out"), **FLAT}))
    records: list[dict[str, Any]] = [{"id": 1, "from": {"b": "x"}, "blob": {}, "note": "n"},
                                     {"id": 2, "from": {"b": "y"}, "blob": {}, "note": None}]
    done = run_args([exe("target-jsonl"), "--config", str(config)], input=_lines("s", REQUIRED, records))
    assert done.returncode == 0, done.stderr.decode()
    written = [json.loads(line) for line in (tmp_path / "out" / "s.jsonl").read_text().splitlines()]
    assert [(r["id"], r["from__b"]) for r in written] == [(1, "x"), (2, "y")]


COLLIDING = {"type": "object", "properties": {
    "id": {"type": "integer"},
    "a": {"type": "object", "properties": {"b": {"type": "string"}}},
    "a__x": {"type": "string"},
}}


def test_two_values_in_one_column_stop_the_run(tmp_path: Path) -> None:
    records = [{"id": 1, "a": {"b": "kept"}, "a__x": "top"},  # no collision: written
               {"id": 2, "a__x": "top", "a": {"b": "kept", "x": "nested"}}]  # a.x lands in a__x too
    data = _lines("s", COLLIDING, records)
    done = run(ours(), FLAT, tmp_path, data)
    assert done.returncode == 1
    lines = [line for line in done.stderr.decode().splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in lines[0], lines
    assert "line 3, stream 's', field 'a__x': flattening writes 'a__x' and 'a.x' into the one column 'a__x'" in lines[0]
    assert all(m["record"]["id"] == 1 for m in parsed(done.stdout) if m["type"] == "RECORD")
    theirs = run(reference(), FLAT, tmp_path, data)
    assert theirs.returncode == 0
    sdk = [m["record"] for m in parsed(theirs.stdout) if m["type"] == "RECORD"]
    assert sdk[1]["a__x"] == "nested"  # the SDK keeps the last value; "top" is gone


EMAILS = {"type": "object", "properties": {"id": {"type": "integer"}, "email": {"type": "string"}}}
TOTALS = {"type": "object", "properties": {"id": {"type": "integer"}, "total": {"type": "number"}}}


def _shards(schema_2024: dict[str, Any], record_2024: dict[str, Any]) -> bytes:
    messages: list[dict[str, Any]] = [
        {"type": "SCHEMA", "stream": "events_2023", "schema": EMAILS, "key_properties": ["id"]},
        {"type": "SCHEMA", "stream": "events_2024", "schema": schema_2024, "key_properties": ["id"]},
        {"type": "RECORD", "stream": "events_2023", "record": {"id": 1, "email": "a@x"}},
        {"type": "RECORD", "stream": "events_2024", "record": record_2024},
        {"type": "STATE", "value": {"done": True}},
    ]
    return b"".join(json.dumps(m).encode() + b"\n" for m in messages)


def test_two_streams_with_other_columns_under_one_name_stop_the_run(tmp_path: Path) -> None:
    maps = {"stream_maps": {"events_*": {"__alias__": "events"}}}
    data = _shards(TOTALS, {"id": 101, "total": 9.5})
    done = run(ours(), maps, tmp_path, data)
    assert done.returncode == 2
    assert "output stream 'events': input stream 'events_2023' (stream_maps entry 'events_*') and input stream " \
           "'events_2024' (stream_maps entry 'events_*') both map to it, with different schemas" in done.stderr.decode()
    theirs = run(reference(), maps, tmp_path, data)
    assert theirs.returncode == 0, theirs.stderr.decode()[-2000:]
    out = parsed(theirs.stdout)
    assert [(m["stream"], list(m["schema"]["properties"])) for m in out if m["type"] == "SCHEMA"] == [
        ("events", ["id", "email"]), ("events", ["id", "total"])]
    config = tmp_path / "target.json"  # what a target then lands of the SDK's output: no email
    config.write_text(json.dumps({"database": str(tmp_path / "db.sqlite")}))
    landed = run_args([exe("target-sqlite"), "--config", str(config)], input=theirs.stdout)
    assert landed.returncode == 0, landed.stderr.decode()
    with sqlite3.connect(tmp_path / "db.sqlite") as db:
        assert db.execute("SELECT id, email FROM events ORDER BY id").fetchall() == [(1, None), (101, None)]
    same = _shards(EMAILS, {"id": 101, "email": "c@x"})  # shards of one schema: merged by both, alike
    mine, sdk = run(ours(), maps, tmp_path, same), run(reference(), maps, tmp_path, same)
    assert mine.returncode == sdk.returncode == 0
    assert parsed(mine.stdout) == parsed(sdk.stdout)


def test_activate_version_of_merged_shards_stops_the_run(tmp_path: Path) -> None:
    maps = {"stream_maps": {"events_*": {"__alias__": "events"}}}
    messages: list[dict[str, Any]] = [
        {"type": "SCHEMA", "stream": stream, "schema": EMAILS, "key_properties": ["id"]}
        for stream in ("events_2023", "events_2024")]
    for version, (stream, key) in enumerate((("events_2023", 1), ("events_2024", 101)), start=1):
        messages += [{"type": "RECORD", "stream": stream, "record": {"id": key, "email": "e"}, "version": version},
                     {"type": "ACTIVATE_VERSION", "stream": stream, "version": version}]
    data = b"".join(json.dumps(m).encode() + b"\n" for m in messages)
    done = run(ours(), maps, tmp_path, data)
    assert done.returncode == 2
    assert "ACTIVATE_VERSION of input stream 'events_2023' for output stream 'events'" in done.stderr.decode()
    theirs = run(reference(), maps, tmp_path, data)
    assert theirs.returncode == 0, theirs.stderr.decode()[-2000:]
    config = tmp_path / "target.json"  # what a target then lands of the SDK's output: the last shard only
    config.write_text(json.dumps({"database": str(tmp_path / "db.sqlite"), "hard_delete": True}))
    landed = run_args([exe("target-sqlite"), "--config", str(config)], input=theirs.stdout)
    assert landed.returncode == 0, landed.stderr.decode()
    with sqlite3.connect(tmp_path / "db.sqlite") as db:
        assert db.execute("SELECT id FROM events").fetchall() == [(101,)]
