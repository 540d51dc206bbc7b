"""singer-sdk's tap test expectations, applied to tap-csv's real output.

Mirrors ``singer_sdk/testing/tap_tests.py`` (the standard tap suite) without wrapping our
tap in SDK classes: the tap runs as a subprocess and its stdout is checked.

    TapCLIPrintsTest                      --version, --about, --about --format json
    TapDiscoveryTest                      the discovered catalog is valid and accepted back
    TapStreamConnectionTest               --test
    TapValidFinalStateTest                the final STATE has no progress markers
    StreamSchemaIsValidTest               each stream schema is valid Draft 7
    StreamReturnsRecordTest               each stream returns records
    StreamCatalogSchemaMatchesRecordTest  every catalog field appears in some record
    StreamRecordSchemaMatchesCatalogTest  every record field is in the catalog
    StreamRecordMatchesStreamSchema       records validate (Draft 7 + format checker)
    StreamPrimaryKeysTest                 primary keys unique and not null
    AttributeIs{DateTime,Boolean,Integer,Number,Object}Test, AttributeNotNullTest
Plus: every stdout line is a Singer message, and date-times are strict RFC 3339.
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from singer_sdk.helpers._compat import datetime_fromisoformat
from singer_sdk.testing.tap_tests import (
    AttributeIsBooleanTest,
    AttributeIsDateTimeTest,
    AttributeIsIntegerTest,
    AttributeIsNumberTest,
    AttributeIsObjectTest,
    AttributeNotNullTest,
)

from protocol import MessageReader
from tests.conftest import ROOT, exe, run

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


@dataclass
class Run:
    catalog: dict[str, Any]
    lines: list[bytes]
    messages: list[dict[str, Any]]

    def streams(self) -> list[str]:
        return [s["tap_stream_id"] for s in self.catalog["streams"]]

    def records(self, stream: str) -> list[dict[str, Any]]:
        return [m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream]

    def schema(self, stream: str) -> dict[str, Any]:
        return next(s["schema"] for s in self.catalog["streams"] if s["tap_stream_id"] == stream)

    def keys(self, stream: str) -> list[str]:
        return next(s["key_properties"] for s in self.catalog["streams"] if s["tap_stream_id"] == stream)


def rich_config(folder: Path) -> Path:
    """A directory stream with nulls, booleans, dates, naive and offset date-times, metadata columns."""
    data = folder / "events"
    data.mkdir()
    (data / "2024-01.csv").write_text(
        "event_id,user,kind,ok,day,at,payload_size,ratio\n"
        "1,ada,login,true,2024-01-01,2024-01-01 08:00:00,10,0.5\n"
        "2,,logout,false,2024-01-02,2024-01-02T09:30:00+02:00,,1.25\n"
        "3,bob,login,TRUE,2024-01-03,2024-01-03T10:00:00.250Z,7,\n")
    (data / "2024-02.csv.gz").write_bytes(gzip.compress(
        b"event_id,user,kind,ok,day,at,payload_size,ratio\n"
        b"4,cy,purchase,False,2024-02-01,2024-02-01t11:00:00z,12345678901234567890,3\n"))
    config = folder / "rich.json"
    config.write_text(json.dumps({
        "add_metadata_columns": True,
        "files": [{"entity": "events", "path": str(data), "keys": ["event_id"], "replication_key": "at"}],
    }))
    return config


@pytest.fixture(scope="module", params=["examples", "rich"])
def tap_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Run:
    folder = tmp_path_factory.mktemp("tap_csv_expectations")
    config = str(ROOT / "examples" / "tap-csv.json") if request.param == "examples" else str(rich_config(folder))
    discovered = run([exe("tap-csv"), "--config", config, "--discover"], cwd=ROOT / "examples")
    assert discovered.returncode == 0, discovered.stderr.decode()
    catalog = json.loads(discovered.stdout)
    (folder / "catalog.json").write_bytes(discovered.stdout)
    # TapDiscoveryTest: the discovered catalog is accepted back
    synced = run([exe("tap-csv"), "--config", config, "--catalog", str(folder / "catalog.json")], cwd=ROOT / "examples")
    assert synced.returncode == 0, synced.stderr.decode()
    lines = synced.stdout.splitlines()
    return Run(catalog, lines, [json.loads(line) for line in lines])


def test_cli_prints() -> None:
    for args in (["--version"], ["--about"], ["--about", "--format", "json"], ["--about", "--format", "markdown"]):
        proc = run([exe("tap-csv"), *args])
        assert proc.returncode == 0 and proc.stdout, args


def test_stream_connections() -> None:
    proc = run([exe("tap-csv"), "--config", "tap-csv.json", "--test"], cwd=ROOT / "examples")
    assert proc.returncode == 0, proc.stderr.decode()


def test_catalog_is_valid(tap_run: Run) -> None:
    assert tap_run.streams()
    for entry in tap_run.catalog["streams"]:
        assert isinstance(entry["tap_stream_id"], str) and entry["stream"] == entry["tap_stream_id"]
        schema = entry["schema"]
        jsonschema.Draft7Validator.check_schema(schema)  # StreamSchemaIsValidTest
        props = schema["properties"]
        assert set(entry["key_properties"]) <= set(props)
        metadata = entry["metadata"]
        assert all(set(m) == {"breadcrumb", "metadata"} and isinstance(m["metadata"], dict) for m in metadata)
        root = [m["metadata"] for m in metadata if m["breadcrumb"] == []]
        assert len(root) == 1
        assert root[0]["table-key-properties"] == entry["key_properties"]
        assert set(root[0].get("valid-replication-keys", [])) <= set(props)
        crumbs = [tuple(m["breadcrumb"]) for m in metadata if m["breadcrumb"]]
        assert len(crumbs) == len(set(crumbs))
        assert {c[1] for c in crumbs} == set(props) and all(c[0] == "properties" and len(c) == 2 for c in crumbs)
        for m in metadata:
            inclusion = m["metadata"].get("inclusion")
            assert inclusion in ("available", "automatic", "unsupported")
            if m["breadcrumb"] and m["breadcrumb"][1] in entry["key_properties"]:
                assert inclusion == "automatic"


def test_every_line_is_a_singer_message(tap_run: Run) -> None:
    seen: set[str] = set()
    for message in tap_run.messages:
        kind = message["type"]
        assert kind in ("SCHEMA", "RECORD", "STATE"), kind
        if kind == "SCHEMA":
            assert isinstance(message["stream"], str) and isinstance(message["schema"], dict)
            assert isinstance(message["key_properties"], list)
            assert all(isinstance(k, str) for k in message["key_properties"])
            assert isinstance(message.get("bookmark_properties", []), list)
            seen.add(message["stream"])
        elif kind == "RECORD":
            assert message["stream"] in seen and isinstance(message["record"], dict)
        else:
            assert isinstance(message["value"], dict)
    # and our own strict reader accepts the stream, validating every record
    import io

    assert sum(1 for _ in MessageReader(io.BytesIO(b"\n".join(tap_run.lines) + b"\n"))) == len(tap_run.lines)


def test_valid_final_state(tap_run: Run) -> None:
    final = tap_run.messages[-1]
    assert final["type"] == "STATE"
    assert "progress_markers" not in json.dumps(final["value"])
    assert set(final["value"]["bookmarks"]) == set(tap_run.streams())


def test_streams_return_records_matching_the_catalog(tap_run: Run) -> None:
    for stream in tap_run.streams():
        records = tap_run.records(stream)
        assert records, f"no records in stream '{stream}'"  # StreamReturnsRecordTest
        catalog_keys = set(tap_run.schema(stream)["properties"])
        record_keys = set().union(*(r.keys() for r in records))
        assert record_keys <= catalog_keys  # StreamRecordSchemaMatchesCatalogTest
        assert catalog_keys <= record_keys  # StreamCatalogSchemaMatchesRecordTest (a warning in the SDK)


def test_records_match_their_schema(tap_run: Run) -> None:
    for stream in tap_run.streams():
        validator = jsonschema.Draft7Validator(tap_run.schema(stream),
                                               format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
        for record in tap_run.records(stream):
            errors = [f"{e.message} (path: {'.'.join(map(str, e.path))})" for e in validator.iter_errors(record)]
            assert not errors, errors


def test_primary_keys_are_unique_and_not_null(tap_run: Run) -> None:
    for stream in tap_run.streams():
        keys = tap_run.keys(stream)
        ids = [tuple(r[k] for k in keys) for r in tap_run.records(stream)]
        assert keys and len(set(ids)) == len(ids)
        assert all(v is not None for pk in ids for v in pk)


def test_attribute_expectations(tap_run: Run) -> None:
    checked = set()
    for stream in tap_run.streams():
        records = tap_run.records(stream)
        for name, prop in tap_run.schema(stream)["properties"].items():
            values = [r[name] for r in records if r.get(name) is not None]
            if AttributeIsDateTimeTest.evaluate(None, name, prop):  # type: ignore[arg-type]
                checked.add("datetime")
                for v in values:
                    assert datetime_fromisoformat(v), v
                    if prop.get("format") == "date-time":
                        assert RFC3339.match(v), f"{stream}.{name}: {v!r} is not RFC 3339"
            if AttributeIsBooleanTest.evaluate(None, name, prop):  # type: ignore[arg-type]
                checked.add("boolean")
                assert all(isinstance(v, bool) for v in values)
            if AttributeIsIntegerTest.evaluate(None, name, prop):  # type: ignore[arg-type]
                checked.add("integer")
                assert all(isinstance(v, int) and not isinstance(v, bool) for v in values)
            if AttributeIsNumberTest.evaluate(None, name, prop):  # type: ignore[arg-type]
                checked.add("number")
                assert all(isinstance(v, (int, float)) for v in values)
            if AttributeIsObjectTest.evaluate(None, name, prop):  # type: ignore[arg-type]
                assert all(isinstance(v, dict) for v in values)
            if AttributeNotNullTest.evaluate(None, name, prop):  # type: ignore[arg-type]
                checked.add("not_null")
                assert all(r.get(name) is not None for r in records), f"{stream}.{name} has nulls"
    assert {"datetime", "integer", "number", "not_null"} <= checked
