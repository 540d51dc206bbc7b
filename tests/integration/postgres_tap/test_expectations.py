"""singer-sdk's tap expectations (see tests/interop/test_tap_expectations.py), on tap-postgres output.

The catalog is valid Draft 7 and accepted back, every line is a Singer message our strict
reader accepts, records validate against their stream schema with format checks, date-times
are RFC 3339, keys are unique and not null, and the final STATE holds no progress markers.
"""

from __future__ import annotations

import io
import json
import re

import jsonschema

from protocol import MessageReader
from tests.conftest import exe, run
from tests.integration.postgres_tap.conftest import Src, messages
from tests.integration.postgres_tap.test_roundtrip import COLUMNS, ROWS, TYPES

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def test_sdk_tap_expectations_hold(src: Src) -> None:
    src.sql(TYPES)
    src.sql(f"CREATE TABLE t ({COLUMNS})")
    src.sql("INSERT INTO t VALUES " + ", ".join(ROWS))
    src.sql("CREATE TABLE pair (a int, b text, PRIMARY KEY (a, b)); INSERT INTO pair VALUES (1, 'x'), (1, 'y')")
    config = src.config()
    discovered = run([exe("tap-postgres"), "--config", str(config), "--discover"])
    assert discovered.returncode == 0, discovered.stderr.decode()
    catalog = json.loads(discovered.stdout)
    for entry in catalog["streams"]:
        jsonschema.Draft7Validator.check_schema(entry["schema"])
    path = src.tmp / "catalog.json"
    path.write_text(discovered.stdout.decode())
    done = run([exe("tap-postgres"), "--config", str(config), "--catalog", str(path)])  # accepted back
    assert done.returncode == 0, done.stderr.decode()
    lines = done.stdout.splitlines()
    assert sum(1 for _ in MessageReader(io.BytesIO(done.stdout))) == len(lines)  # strict, validating reader
    msgs = messages(done.stdout)
    schemas = {e["tap_stream_id"]: e for e in catalog["streams"]}
    assert {m["stream"] for m in msgs if m["type"] == "RECORD"} == set(schemas)
    for stream, entry in schemas.items():
        checker = jsonschema.Draft7Validator.FORMAT_CHECKER
        validator = jsonschema.Draft7Validator(entry["schema"], format_checker=checker)
        recs = [m["record"] for m in msgs if m["type"] == "RECORD" and m["stream"] == stream]
        for record in recs:
            errors = [f"{e.message} at {list(e.path)}" for e in validator.iter_errors(json.loads(json.dumps(
                record, default=float)))]
            assert not errors, (stream, errors)
            assert set(record) == set(entry["schema"]["properties"])
            for name, prop in entry["schema"]["properties"].items():
                formats = {prop.get("format")} | {b.get("format") for b in prop.get("anyOf", [])}
                if "date-time" in formats and record[name] is not None:
                    assert RFC3339.match(record[name]), (name, record[name])
        ids = [tuple(r[k] for k in entry["key_properties"]) for r in recs]
        assert len(set(ids)) == len(ids) and all(v is not None for pk in ids for v in pk)
    final = msgs[-1]
    assert final["type"] == "STATE" and set(final["value"]["bookmarks"]) == set(schemas)
    assert all(not b for b in final["value"]["bookmarks"].values())  # no resumption markers left
