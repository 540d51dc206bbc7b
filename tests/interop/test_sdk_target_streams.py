"""singer-sdk's canned target streams, every one of them, fed to target-jsonl and target-csv.

Each canned file is a test id. Valid streams: the rows that landed are read back and compared
with the stream's own RECORD lines (file targets append, so duplicate keys keep every record),
and the STATEs on stdout are the stream's STATEs, in order (state_flush_seconds=0 drains at
each one). Invalid-by-design streams: exit 1, one error line naming the line, the stream and
the field, no traceback, no file. A canned file missing from the table fails the run.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest

from protocol import loads
from tests.conftest import exe, run, sdk_target_streams, target_states


@dataclass(frozen=True)
class Valid:
    streams: tuple[str, ...]                    # streams with records: one file each
    schema_only: tuple[str, ...] = field(default=())  # SCHEMA, no RECORD: target-csv writes a header-only file


@dataclass(frozen=True)
class Invalid:
    line: int
    stream: str
    field: str | None = None


EXPECTED: dict[str, Valid | Invalid] = {
    "array_data.singer": Valid(("test_array_data",)),
    "camelcase.singer": Valid(("TestCamelcase",)),
    "camelcase_complex_schema.singer": Valid((), schema_only=("ForecastingTypeToCategory",)),
    "duplicate_records.singer": Valid(("test_duplicate_records",)),
    "encoded_string_data.singer": Valid(("test_strings", "test_strings_in_objects", "test_strings_in_arrays")),
    "invalid_schema.singer": Invalid(1, "test_invalid_schema"),
    "multiple_state_messages.singer": Valid(("test_multiple_state_messages_a", "test_multiple_state_messages_b")),
    "no_primary_keys.singer": Valid(("test_no_pk",)),
    "no_primary_keys_append.singer": Valid(("test_no_pk",)),
    "optional_attributes.singer": Valid(("test_optional_attributes",)),
    "pk_updates.singer": Valid(("example_stream",)),
    "record_before_schema.singer": Invalid(1, "test_record_before_schema"),
    "record_missing_fields.singer": Valid(("record_missing_fields",)),
    "record_missing_key_property.singer": Invalid(2, "test_record_missing_key_property", "id"),
    "record_missing_required_property.singer": Invalid(2, "test_record_missing_required_property", "id"),
    "schema_no_properties.singer": Valid(("test_object_schema_with_properties", "test_object_schema_no_properties")),
    "schema_updates.singer": Valid(("test_schema_updates",)),
    "special_chars_in_attributes.singer": Valid(("test:SpecialChars!in?attributes",)),
    "user_location_data.singer": Valid(("test_users", "test_locations", "test_user_in_location")),
    "user_location_upsert_data.singer": Valid(("test_users", "test_locations", "test_user_in_location")),
}

CANNED = sorted(p.name for p in sdk_target_streams().glob("*.singer"))


def test_every_canned_stream_has_an_expectation() -> None:
    assert set(CANNED) == set(EXPECTED), "a canned stream was added or removed: extend EXPECTED"


@dataclass
class Canned:
    """What a canned stream holds, parsed exactly (long numbers as Decimal)."""

    records: dict[str, list[dict[str, Any]]]
    columns: dict[str, list[str]]   # schema properties in order of appearance, then record-only keys
    states: list[Any]


def read_canned(path: Path) -> Canned:
    records: dict[str, list[dict[str, Any]]] = defaultdict(list)
    columns: dict[str, list[str]] = defaultdict(list)
    states = []
    for raw in path.read_bytes().splitlines():
        msg = loads(raw)
        if msg["type"] == "SCHEMA":
            columns[msg["stream"]] += [c for c in msg["schema"]["properties"] if c not in columns[msg["stream"]]]
        elif msg["type"] == "RECORD":
            records[msg["stream"]].append(msg["record"])
            columns[msg["stream"]] += [c for c in msg["record"] if c not in columns[msg["stream"]]]
        elif msg["type"] == "STATE":
            states.append(msg["value"])
    return Canned(records, columns, states)


def cell(value: Any) -> str:
    """How target-csv writes a value (objects and arrays are compared parsed, see below)."""
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    return str(value)


def check_jsonl(out: Path, expected: Valid, canned: Canned) -> None:
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{s}.jsonl" for s in expected.streams)
    for stream in expected.streams:
        landed = [loads(row) for row in (out / f"{stream}.jsonl").read_bytes().splitlines()]
        assert landed == canned.records[stream], stream


def check_csv(out: Path, expected: Valid, canned: Canned) -> None:
    names = [*expected.streams, *expected.schema_only]
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{s}.csv" for s in names)
    for stream in names:
        with (out / f"{stream}.csv").open(encoding="utf-8", newline="") as fh:
            table = list(csv.reader(fh))
        header, rows = table[0], table[1:]
        assert header == canned.columns[stream], stream
        assert len(rows) == len(canned.records.get(stream, []))
        for row, rec in zip(rows, canned.records.get(stream, []), strict=True):
            assert len(row) == len(header)
            for name, text in zip(header, row, strict=True):
                value = rec.get(name)
                if isinstance(value, (dict, list)):
                    assert json.loads(text) == value, (stream, name)
                else:
                    assert text == cell(value), (stream, name)


@pytest.mark.parametrize("name", CANNED)
@pytest.mark.parametrize("kind", ["jsonl", "csv"])
def test_canned_stream(kind: str, name: str, tmp_path: Path) -> None:
    path = sdk_target_streams() / name
    out = tmp_path / "out"
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"destination_path": str(out), "output_path": str(out), "state_flush_seconds": 0}))
    result = run([exe(f"target-{kind}"), "--config", str(cfg), "--input", str(path)])
    stderr = result.stderr.decode()
    assert "Traceback" not in stderr
    expected = EXPECTED[name]
    if isinstance(expected, Invalid):
        assert result.returncode == 1, stderr
        errors = [ln for ln in stderr.splitlines() if "ERROR" in ln]
        assert len(errors) == 1, stderr
        assert f"line {expected.line}" in errors[0] and f"'{expected.stream}'" in errors[0], errors[0]
        if expected.field:
            assert f"field '{expected.field}'" in errors[0], errors[0]
        assert result.stdout == b""
        assert not out.exists() or not list(out.iterdir())
        return
    assert result.returncode == 0, stderr
    canned = read_canned(path)
    assert target_states(result.stdout) == canned.states
    if kind == "jsonl":
        if not expected.streams:
            assert not out.exists()
        else:
            check_jsonl(out, expected, canned)
    else:
        check_csv(out, expected, canned)


def test_the_comparison_sees_a_wrong_row(tmp_path: Path) -> None:
    """The checks above can fail: a landed row that differs from its RECORD is caught."""
    canned = read_canned(sdk_target_streams() / "array_data.singer")
    out = tmp_path / "out"
    out.mkdir()
    rows = [dict(r) for r in canned.records["test_array_data"]]
    rows[1]["fruits"] = ["banana"]
    (out / "test_array_data.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    with pytest.raises(AssertionError):
        check_jsonl(out, Valid(("test_array_data",)), canned)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["id", "fruits"])
    for r in rows:
        writer.writerow([r["id"], json.dumps(r["fruits"])])
    (out / "test_array_data.csv").write_text(buf.getvalue(), encoding="utf-8", newline="")
    (out / "test_array_data.jsonl").unlink()
    with pytest.raises(AssertionError):
        check_csv(out, Valid(("test_array_data",)), canned)
