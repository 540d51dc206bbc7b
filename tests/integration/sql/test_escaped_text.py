"""Text with JSON escapes lands the same on both record lanes of target-postgres.

Records whose strings hold what JSON escapes (quotes, backslashes, newlines and every other
control character, NUL included), text that looks like CSV or JSON structure, and non-ASCII
text written either as itself or as ``\\u`` escapes (surrogate pairs beyond the BMP), as
singer-python and orjson write them. Each stream is loaded into a real PostgreSQL twice, in
process: on the fast lane (rows built in bulk, targets/sql/rawrows.py) and on the reference
lane (``fast_path: false``, record by record). The tables must be equal as PostgreSQL renders
them, equal to the input strings (less NUL, which PostgreSQL cannot store), and the fast lane
must have built every row in bulk.
"""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol._writer import MessageWriter
from targets.postgres.target import PostgresTarget

pytestmark = pytest.mark.usefixtures("pg_server_dsn")

SCHEMA: dict[str, Any] = {"type": "object", "required": ["id"], "properties": {
    "id": {"type": "integer"}, "name": {"type": ["string", "null"]}, "note": {"type": ["string", "null"]}}}
# What JSON escapes, what CSV quotes, letters that follow a backslash in an escape, and text that
# merely looks like structure; weighted towards the usual quotes, newlines and non-ASCII text.
_PIECES = ['"', "\n", "é", "☃", "😀", "n", "u", "a", ",", " ", '","', "]\n[", "null", "\\", "\\n", '\\"', "\r",
           "\t", "\b", "\f", "\x00", "\x01", "\x1f", "\x7f", "\u2028", "00e9"]
TEXT = st.lists(st.sampled_from(_PIECES), max_size=8).map("".join)


def _stream(rows: list[tuple[str | None, str | None]], ascii_only: bool) -> bytes:
    lines = [json.dumps({"type": "SCHEMA", "stream": "s", "schema": SCHEMA, "key_properties": ["id"]})]
    lines += [json.dumps({"type": "RECORD", "stream": "s", "record": {"id": i, "name": name, "note": note}},
                         ensure_ascii=ascii_only) for i, (name, note) in enumerate(rows)]
    lines.append(json.dumps({"type": "STATE", "value": {"n": len(rows)}}))
    return "\n".join(lines).encode() + b"\n"


def _load(dsn: str, data: bytes, fast: bool) -> tuple[list[tuple[Any, ...]], list[str], int]:
    """(rows as tuples, rows as PostgreSQL renders them in JSON, rows built in bulk)."""
    schema = f"esc_{uuid.uuid4().hex[:10]}"
    target = PostgresTarget({"sqlalchemy_url": dsn, "default_target_schema": schema, "fast_path": fast,
                             "state_flush_seconds": 0})
    target.run(io.BufferedReader(io.BytesIO(data)), MessageWriter(io.BytesIO()))
    bulk = sum(getattr(sink, "bulk_rows", 0) for sink in target.sinks.values())
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(f"SELECT id, name, note FROM {schema}.s ORDER BY id".encode()).fetchall()
        rendered = conn.execute(f"SELECT row_to_json(t)::text FROM {schema}.s t ORDER BY id".encode()).fetchall()
        conn.execute(f"DROP SCHEMA {schema} CASCADE".encode())
    return rows, [r[0] for r in rendered], bulk


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.none() | TEXT, st.none() | TEXT), min_size=1, max_size=40), st.booleans())
def test_escaped_text_lands_the_same_on_both_lanes(pg_dsn: str, rows: list[tuple[str | None, str | None]],
                                                   ascii_only: bool) -> None:
    data = _stream(rows, ascii_only)
    fast_rows, fast_json, fast_bulk = _load(pg_dsn, data, True)
    ref_rows, ref_json, ref_bulk = _load(pg_dsn, data, False)
    expected = [(i, *(None if v is None else v.replace("\x00", "") for v in pair)) for i, pair in enumerate(rows)]
    assert ref_rows == expected
    assert fast_rows == expected
    assert fast_json == ref_json
    assert (fast_bulk, ref_bulk) == (len(rows), 0)  # every row of the fast lane was built in bulk
