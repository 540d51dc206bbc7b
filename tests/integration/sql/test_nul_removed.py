"""target-postgres removes NUL characters (PostgreSQL text and jsonb cannot hold them) and says so:
one WARNING per stream and column at the end of the run, with the number of values it changed.

Both row paths count: rows built in bulk from decoded records (targets/sql/rawrows.py) and rows
encoded record by record (a table with a JSON column, or ``SLUICE_FAST_PATH=0``). The expected
counts come from the input records, counted here in plain Python.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest

from tests.conftest import exe, run
from tests.integration.sql.helpers import stdout_states

USERS = {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": ["string", "null"]},
                                          "bio": {"type": ["string", "null"]}}}
USERS_WIDER = {"type": "object", "properties": {**USERS["properties"], "city": {"type": ["string", "null"]}}}
NOTES = {"type": "object", "properties": {"id": {"type": "integer"}, "body": {"type": ["string", "null"]},
                                          "meta": {"type": ["object", "null"]}}}
WARNING = re.compile(r"WARNING .*stream '(\w+)' column '(\w+)': removed NUL characters from (\d+) values?\b")


def _users(first: int, last: int) -> list[dict[str, Any]]:
    out = []
    for i in range(first, last + 1):
        bio = f"bio {i}" + ("\x00" if i % 7 == 0 else "") + ("\x00\x00 twice" if i % 11 == 0 else "")
        name = "ok" if i % 13 else "na\x00me"
        out.append({"id": i, "name": name, "bio": bio, **({"city": "c\x00" if i % 5 == 0 else "c"}
                                                           if i > 60 else {})})
    return out


def _notes() -> list[dict[str, Any]]:
    return [{"id": i, "body": "b\x00" if i % 3 == 0 else "b\\ackslash",
             "meta": {"k": "v\x00" if i % 4 == 0 else "v", "lit": "\\u0000 is not NUL"}} for i in range(1, 41)]


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    return False


def _stream() -> tuple[bytes, Counter[tuple[str, str]], dict[str, list[dict[str, Any]]]]:
    users_a, users_b, notes = _users(1, 60), _users(61, 120), _notes()
    msgs: list[dict[str, Any]] = [{"type": "SCHEMA", "stream": "users", "schema": USERS, "key_properties": ["id"]},
                                  {"type": "SCHEMA", "stream": "notes", "schema": NOTES, "key_properties": []}]
    msgs += [{"type": "RECORD", "stream": "users", "record": r} for r in users_a]
    msgs += [{"type": "RECORD", "stream": "notes", "record": r} for r in notes]
    msgs.append({"type": "STATE", "value": {"at": 1}})
    msgs.append({"type": "SCHEMA", "stream": "users", "schema": USERS_WIDER, "key_properties": ["id"]})
    msgs += [{"type": "RECORD", "stream": "users", "record": r} for r in users_b]
    msgs.append({"type": "STATE", "value": {"at": 2}})
    expected: Counter[tuple[str, str]] = Counter()
    for stream, records in (("users", users_a + users_b), ("notes", notes)):
        for rec in records:
            for field, value in rec.items():
                if _has_nul(value):
                    expected[(stream, field)] += 1
    data = b"".join(orjson.dumps(m) + b"\n" for m in msgs)
    return data, expected, {"users": users_a + users_b, "notes": notes}


def _landed(dsn: str, table: str, columns: str) -> list[dict[str, Any]]:
    with psycopg.connect(dsn) as conn:
        return [row[0] for row in conn.execute(
            f"SELECT row_to_json(t) FROM (SELECT {columns} FROM {table} ORDER BY id) t".encode()).fetchall()]


def _strip(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items()}
    return value


@pytest.mark.parametrize(("fast", "metadata"), [("1", False), ("0", False), ("1", True)],
                         ids=["bulk-rows", "record-by-record", "record-by-record-with-metadata"])
def test_nul_removal_is_counted_and_logged_once_per_stream_and_column(pg_dsn: str, tmp_path: Path,
                                                                     fast: str, metadata: bool) -> None:
    config = tmp_path / "target.json"
    config.write_text(orjson.dumps({"sqlalchemy_url": pg_dsn, "batch_size_rows": 25,
                                    "add_record_metadata": metadata}).decode())
    data, expected, sent = _stream()
    assert len(expected) == 5 and expected[("users", "bio")] > 1  # the oracle sees what the data holds
    done = run([exe("target-postgres"), "--config", str(config)], input=data,
               env={**os.environ, "SLUICE_FAST_PATH": fast})
    err = done.stderr.decode()
    assert done.returncode == 0, err
    assert stdout_states(done.stdout) == [{"at": 1}, {"at": 2}]
    if fast == "1" and not metadata:  # the users table went through the bulk builder, notes (a JSON column) did not
        assert "users (120 rows, 120 built in bulk)" in err and "notes (40 rows)" in err, err
    warned = [WARNING.search(line) for line in err.splitlines() if "NUL" in line]
    assert all(warned), err
    assert Counter({(m[1], m[2]): int(m[3]) for m in warned if m}) == expected
    assert len(warned) == len(expected)  # one line per stream and column
    users = _landed(pg_dsn, "users", "id, name, bio, city")
    assert users == [{"city": None, **_strip(r)} for r in sent["users"]]
    notes = _landed(pg_dsn, "notes", "id, body, meta")
    assert notes == [_strip(r) for r in sent["notes"]]
