"""Real third-party tap output, captured, through target-jsonl: every record loads, its values unchanged.

PIPELINEWISE: pipelinewise-tap-postgres 2.1.0, its src-items stream (Draft 4's boolean exclusive bounds on
every numeric column; an unconstrained numeric column's 62-digit bounds make the SCHEMA line one read
exactly, so its multipleOf values are Decimals). MYSQL: singer-io tap-mysql 1.17.7 on MariaDB (a BIGINT
key's 19-digit bounds beside a DECIMAL(10,2)'s multipleOf 0.01). Both were refused before.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.conftest import exe, run

PIPELINEWISE = r'''
{"type": "SCHEMA", "stream": "src-items", "schema": {"type": "object", "properties": {"id": {"type": ["integer"], "minimum": -2147483648, "maximum": 2147483647}, "Name": {"type": ["null", "string"]}, "name": {"type": ["null", "string"]}, "amount": {"type": ["null", "number"], "exclusiveMaximum": true, "maximum": 100000000000000, "multipleOf": 1e-06, "exclusiveMinimum": true, "minimum": -100000000000000}, "big": {"type": ["null", "number"], "exclusiveMaximum": true, "maximum": 100000000000000000000000000000000000000000000000000000000000000, "multipleOf": 1e-38, "exclusiveMinimum": true, "minimum": -100000000000000000000000000000000000000000000000000000000000000}, "f8": {"type": ["null", "number"]}, "f4": {"type": ["null", "number"]}, "ts": {"type": ["null", "string"], "format": "date-time"}, "tstz": {"type": ["null", "string"], "format": "date-time"}, "d": {"type": ["null", "string"], "format": "date-time"}, "t": {"type": ["null", "string"], "format": "time"}, "ttz": {"type": ["null", "string"], "format": "time"}, "j": {"type": ["null", "object", "array"]}, "jb": {"type": ["null", "object", "array"]}, "arr": {"type": ["null", "array"], "items": {"$ref": "#/definitions/sdc_recursive_integer_array"}}, "tarr": {"type": ["null", "array"], "items": {"$ref": "#/definitions/sdc_recursive_string_array"}}, "u": {"type": ["null", "string"]}, "b": {}, "flag": {"type": ["null", "boolean"]}, "iv": {}, "m": {"type": ["null", "string"]}, "weird col!": {"type": ["null", "string"]}, "\u00dc-col": {"type": ["null", "string"]}}, "definitions": {"sdc_recursive_integer_array": {"type": ["null", "integer", "array"], "items": {"$ref": "#/definitions/sdc_recursive_integer_array"}}, "sdc_recursive_number_array": {"type": ["null", "number", "array"], "items": {"$ref": "#/definitions/sdc_recursive_number_array"}}, "sdc_recursive_string_array": {"type": ["null", "string", "array"], "items": {"$ref": "#/definitions/sdc_recursive_string_array"}}, "sdc_recursive_boolean_array": {"type": ["null", "boolean", "array"], "items": {"$ref": "#/definitions/sdc_recursive_boolean_array"}}, "sdc_recursive_timestamp_array": {"type": ["null", "string", "array"], "format": "date-time", "items": {"$ref": "#/definitions/sdc_recursive_timestamp_array"}}, "sdc_recursive_object_array": {"type": ["null", "object", "array"], "items": {"$ref": "#/definitions/sdc_recursive_object_array"}}}}, "key_properties": ["id"], "bookmark_properties": []}
{"type": "STATE", "value": {"bookmarks": {"src-Mixed.Case-Table": {"last_replication_method": "FULL_TABLE", "version": 1796601294879, "xmin": null}, "src-items": {"last_replication_method": "FULL_TABLE", "version": 1796601294914}, "src-nokey": {"last_replication_method": "FULL_TABLE"}}, "currently_syncing": "src-items"}}
{"type": "ACTIVATE_VERSION", "stream": "src-items", "version": 1796601294914}
{"type": "RECORD", "stream": "src-items", "record": {"Name": null, "amount": null, "arr": [], "big": null, "d": null, "f4": null, "f8": null, "flag": null, "id": 2, "j": null, "jb": null, "m": null, "name": null, "t": null, "tarr": [], "ts": null, "tstz": null, "ttz": null, "u": null, "weird col!": null, "\u00dc-col": null}, "version": 1796601294914, "time_extracted": "2026-12-06T23:54:54.914012Z"}
{"type": "RECORD", "stream": "src-items", "record": {"Name": "tab\tnl\ncr\rx", "amount": -0.000001, "arr": [], "big": null, "d": "0001-01-01T00:00:00+00:00", "f4": null, "f8": null, "flag": false, "id": 3, "j": [], "jb": null, "m": "-$1.00", "name": "q\"uote\\back", "t": "00:00:00", "tarr": [], "ts": "9999-12-31T23:59:59.999000+00:00", "tstz": "9999-12-31T23:59:59.999000+00:00", "ttz": "05:00:00", "u": "00000000-0000-0000-0000-000000000000", "weird col!": "", "\u00dc-col": ""}, "version": 1796601294914, "time_extracted": "2026-12-06T23:54:54.914012Z"}
{"type": "RECORD", "stream": "src-items", "record": {"Name": "emoji \ud83d\ude00", "amount": 99999999999999.999999, "arr": [-2147483648], "big": 1E-30, "d": "9999-12-31T00:00:00+00:00", "f4": 3.4e+38, "f8": 1e+300, "flag": null, "id": 4, "j": "str", "jb": [1, "a", null], "m": null, "name": "nul-less", "t": "12:00:00", "tarr": [""], "ts": "9999-12-31T23:59:59.999000+00:00", "tstz": "1970-01-01T00:00:00+00:00", "ttz": "01:30:00", "u": null, "weird col!": null, "\u00dc-col": null}, "version": 1796601294914, "time_extracted": "2026-12-06T23:54:54.914012Z"}
{"type": "RECORD", "stream": "src-items", "record": {"Name": "Upper", "amount": 1234.560000, "arr": [1, 2, 3], "big": 123456789012345678901234567890.123456789, "d": "2024-02-29T00:00:00+00:00", "f4": 1.5, "f8": 0.1, "flag": true, "id": 1, "j": {"a": 1.1, "b": [1, 2]}, "jb": {"n": 100, "x": "y"}, "m": "$12.34", "name": "lower", "t": "23:59:59.999999", "tarr": ["a", "b,c"], "ts": "2024-01-02T03:04:05.123456+00:00", "tstz": "2024-01-02T01:04:05.123456+00:00", "ttz": "08:00:00", "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "weird col!": "w1", "\u00dc-col": "\u00fc"}, "version": 1796601294914, "time_extracted": "2026-12-06T23:54:54.914012Z"}
{"type": "ACTIVATE_VERSION", "stream": "src-items", "version": 1796601294914}
{"type": "STATE", "value": {"bookmarks": {"src-Mixed.Case-Table": {"last_replication_method": "FULL_TABLE", "version": 1796601294879, "xmin": null}, "src-items": {"last_replication_method": "FULL_TABLE", "version": 1796601294914, "xmin": null}, "src-nokey": {"last_replication_method": "FULL_TABLE"}}, "currently_syncing": null}}
'''.lstrip()  # noqa: E501

MYSQL = r'''
{"type": "STATE", "value": {"currently_syncing": "probe23_src-orders"}}
{"type": "SCHEMA", "stream": "orders", "schema": {"properties": {"flag": {"inclusion": "available", "type": ["null", "boolean"]}, "qty": {"inclusion": "available", "minimum": -2147483648, "maximum": 2147483647, "type": ["null", "integer"]}, "u": {"inclusion": "available", "minimum": 0, "maximum": 18446744073709551615, "type": ["null", "integer"]}, "id": {"inclusion": "automatic", "minimum": -9223372036854775808, "maximum": 9223372036854775807, "type": ["null", "integer"]}, "bits": {"inclusion": "available", "type": ["null", "boolean"]}, "price": {"inclusion": "available", "multipleOf": 0.01, "type": ["null", "number"]}, "dbl": {"inclusion": "available", "type": ["null", "number"]}, "d": {"inclusion": "available", "format": "date-time", "type": ["null", "string"]}, "created": {"inclusion": "available", "format": "date-time", "type": ["null", "string"]}, "f": {"inclusion": "available", "type": ["null", "number"]}, "note": {"inclusion": "available", "maxLength": 50, "type": ["null", "string"]}, "upd": {"inclusion": "available", "format": "date-time", "type": ["null", "string"]}}, "type": "object"}, "key_properties": ["id"]}
{"type": "ACTIVATE_VERSION", "stream": "orders", "version": 1796601422662}
{"type": "RECORD", "stream": "orders", "record": {"flag": true, "qty": 3, "u": 18446744073709551615, "id": 1, "bits": true, "price": 19.99, "dbl": 0.1, "d": "2024-01-01T00:00:00.000000Z", "created": "2024-01-02T03:04:05.000000Z", "f": 1.5, "note": "a", "upd": "2024-01-02T03:04:05.000000Z"}, "version": 1796601422662, "time_extracted": "2026-12-06T23:57:02.666527Z"}
{"type": "RECORD", "stream": "orders", "record": {"flag": false, "qty": 0, "u": 0, "id": 2, "bits": false, "price": 0.10, "dbl": null, "d": null, "created": null, "f": null, "note": "zero", "upd": null}, "version": 1796601422662, "time_extracted": "2026-12-06T23:57:02.666527Z"}
{"type": "RECORD", "stream": "orders", "record": {"flag": null, "qty": -1, "u": null, "id": 3, "bits": null, "price": 12345678.99, "dbl": 1e+300, "d": "9999-12-31T00:00:00.000000Z", "created": "9999-12-31T23:59:59.000000Z", "f": 3.4e+38, "note": "max", "upd": null}, "version": 1796601422662, "time_extracted": "2026-12-06T23:57:02.666527Z"}
{"type": "STATE", "value": {"currently_syncing": "probe23_src-orders", "bookmarks": {"probe23_src-orders": {"max_pk_values": {"id": 3}, "last_pk_fetched": {"id": 3}}}}}
{"type": "ACTIVATE_VERSION", "stream": "orders", "version": 1796601422662}
{"type": "STATE", "value": {"currently_syncing": "probe23_src-orders", "bookmarks": {"probe23_src-orders": {"initial_full_table_complete": true}}}}
{"type": "STATE", "value": {"currently_syncing": null, "bookmarks": {"probe23_src-orders": {"initial_full_table_complete": true}}}}
'''.lstrip()  # noqa: E501


def exact(line: str) -> Any:
    return json.loads(line, parse_float=Decimal)


def records_in(capture: str, skip: int | None = None) -> list[dict[str, Any]]:
    lines = [exact(line) for i, line in enumerate(capture.splitlines(), 1) if i != skip]
    return [msg["record"] for msg in lines if msg["type"] == "RECORD"]


def load(tmp_path: Path, capture: str, **settings: Any) -> tuple[Any, list[dict[str, Any]]]:
    """target-jsonl on ``capture``: the finished process and the records of every file it wrote."""
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"destination_path": str(tmp_path / "out"), **settings}))
    done = run([exe("target-jsonl"), "--config", str(config)], input=capture.encode(), timeout=60)
    files = sorted((tmp_path / "out").glob("*.jsonl")) if (tmp_path / "out").exists() else []
    return done, [exact(line) for path in files for line in path.read_text().splitlines()]


BAD_J = 6  # the capture's id 4: column j (json) holds the JSON string "str", its schema says object or array


def test_pipelinewise_postgres_output_loads_unchanged(tmp_path: Path) -> None:
    assert exact(PIPELINEWISE.splitlines()[BAD_J - 1])["record"]["j"] == "str"
    capture = "\n".join(line for i, line in enumerate(PIPELINEWISE.splitlines(), 1) if i != BAD_J) + "\n"
    done, loaded = load(tmp_path, capture)
    assert done.returncode == 0, done.stderr.decode()
    assert loaded == records_in(PIPELINEWISE, skip=BAD_J)
    assert [r["amount"] for r in loaded] == [None, Decimal("-0.000001"), Decimal("1234.560000")]
    assert loaded[2]["big"] == Decimal("123456789012345678901234567890.123456789")


def test_pipelinewise_postgres_output_without_validation_loads_every_record(tmp_path: Path) -> None:
    done, loaded = load(tmp_path, PIPELINEWISE, validate_records=False)
    assert done.returncode == 0, done.stderr.decode()
    assert loaded == records_in(PIPELINEWISE)
    assert loaded[2]["amount"] == Decimal("99999999999999.999999")  # below the exclusive bound 1e14


def test_a_pipelinewise_record_the_schema_refuses_is_named_by_its_field(tmp_path: Path) -> None:
    done, _ = load(tmp_path, PIPELINEWISE)
    assert done.returncode != 0
    assert f"line {BAD_J}, stream 'src-items', field 'j': value 'str' is not of type" in done.stderr.decode()


def test_tap_mysql_output_loads_unchanged(tmp_path: Path) -> None:
    done, loaded = load(tmp_path, MYSQL)
    assert done.returncode == 0, done.stderr.decode()
    assert loaded == records_in(MYSQL)
    assert [r["price"] for r in loaded] == [Decimal("19.99"), Decimal("0.10"), Decimal("12345678.99")]
    assert loaded[0]["u"] == 18446744073709551615
