"""target-postgres with and without rows built in bulk (targets/sql/rawrows.py): the same rows.

Random streams of records with awkward values (quotes, commas, the string "null",
backslashes, newlines, NUL, unicode, long digit runs, integers in number columns,
date-times with offsets), duplicate keys, schema changes, table versions and bad
records, each fed to a real target-postgres twice: as is, and with
``SLUICE_FAST_PATH=0`` (the reference, record by record). The landed tables are compared
as PostgreSQL renders them (``row_to_json``: a numeric 5 and 5.0 differ), with the
states, the exit code and the error lines. Both are also compared with a table computed
independently in plain Python from the input lines (:func:`_expected`): the last record of
a key wins (all records, for append-only), committed at the drain points (STATE, a batch
full, a schema change, ACTIVATE_VERSION), and nothing after the last one survives a bad record.
"""

from __future__ import annotations

import json
import os
import random
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from psycopg.rows import dict_row

from protocol._recordtype import compile_record_type
from targets.sql.rawrows import RawRows
from tests.conftest import exe, run, target_states

pytestmark = pytest.mark.usefixtures("pg_server_dsn")

SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["id"],
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": ["string", "null"]},
        "amount": {"type": ["number", "null"]},
        "qty": {"type": ["integer", "null"]},
        "ok": {"type": ["boolean", "null"]},
        "at": {"type": ["string", "null"], "format": "date-time"},
        "day": {"type": ["string", "null"], "format": "date"},
    },
}
NAMES = ["Ada", 'say "hi"', "a,b", "null", "", "Zoë ✓", "back\\slash", "two\nlines", "tab\there", "nul\x00x",
         "😀", None]
AMOUNTS = [b"2.50", b"7", b"-0.10", b"1e3", b"12345678901234567.891", b"null", b"0.1", b"1E-7", b"2.5e-400",
           b"-1E-330", b"1.23456789e-315"]  # the last three: below a float's normal range (read as 0.0 by
# orjson and msgspec, or with fewer digits)
TIMES = ["2023-07-04T18:01:41Z", "2024-02-29T00:00:00.123456+02:00", "2023-01-01T00:00:00-05:30", None]
BAD = [
    b'{"type":"RECORD","stream":"s","record":{"id":"x"}}\n',
    b'{"type":"RECORD","stream":"s","record":{"id":1,"at":"2023-02-30T00:00:00Z"}}\n',
    b'{"type":"RECORD","stream":"s","record":{"id":1,"qty":1.5}}\n',
]


def _line(obj: Any) -> bytes:
    return orjson.dumps(obj) + b"\n"


def _record(rng: random.Random, key: int, wider: bool, version: int | None) -> bytes:
    rec: dict[str, Any] = {"id": key, "name": rng.choice(NAMES), "qty": rng.choice([3, None, -40])}
    if rng.random() < 0.8:
        rec["ok"] = rng.choice([True, False, None])
    if rng.random() < 0.8:
        rec["at"] = rng.choice(TIMES)
    if rng.random() < 0.5:
        rec["day"] = rng.choice(["2024-02-29", None])
    if wider:
        rec["extra"] = rng.choice(["x", None])
    text = orjson.dumps(rec)
    body = text[:-1] + b',"amount":' + rng.choice(AMOUNTS) + b"}"
    head = b'{"type":"RECORD","stream":"s",'
    if version is not None:
        head += b'"version":' + str(version).encode() + b","
    return head + b'"record":' + body + b"}\n"


def _stream(rng: random.Random) -> bytes:
    out = [_line({"type": "SCHEMA", "stream": "s", "schema": SCHEMA, "key_properties": ["id"]})]
    wider = False
    version: int | None = None
    keys = rng.choice([50, 5000])  # few keys: many upserts of one key, in a chunk and across chunks
    count = rng.choice([400, 6000])
    bad_at = rng.randrange(count) if rng.random() < 0.3 else -1
    for i in range(count):
        roll = rng.random()
        if i == bad_at:
            out.append(rng.choice(BAD))
        elif roll < 0.01:
            out.append(_line({"type": "STATE", "value": {"at": i}}))
        elif roll < 0.012:
            wider = True
            schema = orjson.loads(orjson.dumps(SCHEMA))
            schema["properties"]["extra"] = {"type": ["string", "null"]}
            out.append(_line({"type": "SCHEMA", "stream": "s", "schema": schema, "key_properties": ["id"]}))
        elif roll < 0.013:
            version = i
            out.append(_line({"type": "ACTIVATE_VERSION", "stream": "s", "version": version}))
        else:
            out.append(_record(rng, rng.randrange(keys), wider, version))
    out.append(_line({"type": "STATE", "value": {"done": True}}))
    return b"".join(out)


FIELDS = ("id", "name", "amount", "qty", "ok", "at", "day", "extra")


def _normal_row(values: dict[str, Any], version: Any, deleted: bool) -> tuple[Any, ...]:
    """One row as comparable values: exact numbers, UTC times, dates; None where absent."""
    out: list[Any] = []
    for f in FIELDS:
        v = values.get(f)
        if f == "amount" and v is not None:
            v = Decimal(v).normalize()
        elif f == "at" and isinstance(v, str):
            v = datetime.fromisoformat(v)
        elif f == "day" and isinstance(v, str):
            v = date.fromisoformat(v)
        elif f == "name" and v is not None:
            v = v.replace("\x00", "")  # PostgreSQL text cannot hold NUL: the targets drop it
        if isinstance(v, datetime):
            v = v.astimezone(UTC)
        out.append(v)
    return (*out, version, deleted)


def _expected(data: bytes, config: dict[str, Any]) -> dict[str, Any]:
    """The oracle: what a correct target commits, from the input lines alone."""
    keyed = config["load_method"] != "append-only"
    batch, hard = config["batch_size_rows"], config["hard_delete"]
    table: dict[Any, tuple[Any, ...]] | list[tuple[Any, ...]] = {} if keyed else []
    committed: list[tuple[Any, ...]] = []
    states: list[Any] = []
    held: list[Any] = []
    pending, schema = 0, None

    def rows() -> list[tuple[Any, ...]]:
        return list(table.values()) if isinstance(table, dict) else list(table)

    def drain() -> None:
        nonlocal pending, committed
        committed, pending = rows(), 0
        states.extend(held)
        held.clear()

    for line in data.splitlines(keepends=True):
        if line in BAD:
            return {"code": 1, "states": states, "values": sorted(committed, key=repr)}
        msg = json.loads(line, parse_float=Decimal)
        if msg["type"] == "SCHEMA":
            if schema is not None and msg["schema"] != schema:
                drain()
            schema = msg["schema"]
        elif msg["type"] == "RECORD":
            row = _normal_row(msg["record"], msg.get("version"), False)
            if isinstance(table, dict):
                table[row[0]] = row
            else:
                table.append(row)
            pending += 1
            if pending >= batch:
                drain()
        elif msg["type"] == "STATE":
            held.append(msg["value"])
            drain()  # state_flush_seconds is 0
        elif msg["type"] == "ACTIVATE_VERSION":
            drain()
            v = msg["version"]
            old = [r for r in rows() if r[-2] is None or r[-2] < v]
            kept = [r for r in rows() if r not in old] + ([] if hard else [(*r[:-1], True) for r in old])
            table = {r[0]: r for r in kept} if keyed else kept
            committed = rows()
    drain()
    return {"code": 0, "states": states, "values": sorted(committed, key=repr)}


def _landed_values(dsn: str, schema: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        found = conn.execute("SELECT to_regclass(%s) IS NOT NULL AS t", (f"{schema}.s",)).fetchone()
        if not (found and found["t"]):
            return []
        rows = conn.execute(f"SELECT * FROM {schema}.s".encode()).fetchall()
    return sorted((_normal_row(r, r.get("_sdc_table_version"), r.get("_sdc_deleted_at") is not None) for r in rows),
                  key=repr)


_STAMP = re.compile(r"^\S+ \S+ \| ")
_DELETED_AT = re.compile(r'"_sdc_deleted_at":"[^"]+"')  # when the run marked the row: differs


def _outcome(tmp: Path, dsn: str, data: bytes, fast: bool, config: dict[str, Any]) -> dict[str, Any]:
    schema = "fast" if fast else "slow"
    cfg = tmp / f"{schema}.json"
    cfg.write_bytes(orjson.dumps({"sqlalchemy_url": dsn, "default_target_schema": schema, **config}))
    env = {**os.environ, "SLUICE_FAST_PATH": "1" if fast else "0"}
    result = run([exe("target-postgres"), "--config", str(cfg)], input=data, env=env)
    stderr = result.stderr.decode()
    with psycopg.connect(dsn) as conn:
        exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{schema}.s",)).fetchone()
        rows = conn.execute(f"SELECT row_to_json(t)::text FROM {schema}.s t").fetchall() \
            if exists and exists[0] else []
    return {
        "code": result.returncode,
        "states": target_states(result.stdout),
        "rows": sorted(_DELETED_AT.sub(r'"_sdc_deleted_at":"(a time)"', r[0]) for r in rows),  # append-only: no key
        "errors": [_STAMP.sub("", x) for x in stderr.splitlines() if "| ERROR" in x],
        "bulk": re.findall(r"(\d+) built in bulk", stderr),
        "values": _landed_values(dsn, schema),
    }


@pytest.mark.parametrize("seed", range(12))
def test_rows_built_in_bulk_land_as_record_by_record(tmp_path: Path, pg_dsn: str, seed: int) -> None:
    rng = random.Random(seed)
    data = _stream(rng)
    config = {"batch_size_rows": rng.choice([7, 1000, 100_000]), "state_flush_seconds": 0,
              "hard_delete": rng.choice([True, False]),
              "load_method": ["upsert", "append-only", "overwrite"][seed % 3]}
    fast = _outcome(tmp_path, pg_dsn, data, True, config)
    slow = _outcome(tmp_path, pg_dsn, data, False, config)
    expected = _expected(data, config)
    assert (slow["code"], slow["states"]) == (expected["code"], expected["states"])
    assert slow["values"] == expected["values"]
    assert fast["values"] == expected["values"]
    assert fast["code"] == slow["code"]
    assert fast["errors"] == slow["errors"]
    assert fast["states"] == slow["states"]
    assert fast["rows"] == slow["rows"]
    assert slow["bulk"] == []
    if fast["code"] == 0:
        assert fast["bulk"] and int(fast["bulk"][0]) > 0  # the bulk path did run


def test_a_clean_stream_is_built_in_bulk_with_exact_values(tmp_path: Path, pg_dsn: str) -> None:
    records = [{"id": i, "name": f'n"{i},x', "amount": 5 if i % 2 else 2.25, "qty": i, "ok": i % 3 == 0,
                "at": "2024-02-29T10:00:00+02:00", "day": "2024-02-29"} for i in range(3000)]
    data = _line({"type": "SCHEMA", "stream": "s", "schema": SCHEMA, "key_properties": ["id"]}) + b"".join(
        _line({"type": "RECORD", "stream": "s", "record": r}) for r in records) + _line(
        {"type": "STATE", "value": {"n": 3000}})
    fast = _outcome(tmp_path, pg_dsn, data, True, {})
    assert fast["code"] == 0 and fast["states"] == [{"n": 3000}]
    assert fast["bulk"] == ["3000"]
    oracle = {"load_method": "upsert", "batch_size_rows": 100_000, "hard_delete": False}
    assert fast["values"] == _expected(data, oracle)["values"]
    rows = sorted(fast["rows"], key=lambda text: orjson.loads(text)["id"])
    first, second = orjson.loads(rows[0]), orjson.loads(rows[1])
    assert first == {"id": 0, "name": 'n"0,x', "amount": 2.25, "qty": 0, "ok": True,
                     "at": "2024-02-29T08:00:00+00:00", "day": "2024-02-29"}
    assert '"amount":5,' in rows[1] and second["name"] == 'n"1,x'  # 5 stays 5, not 5.0


def _values(records: list[bytes]) -> list[Any]:
    import msgspec

    kind = compile_record_type(SCHEMA, ["id"])
    return list(msgspec.json.Decoder(kind).decode_lines(b"\n".join(records)))


def test_csv_text_of_decoded_records() -> None:
    rows = RawRows([("id", "id"), ("name", "name"), ("amount", "amount"), ("ok", "ok")],
                   [("gone", "null"), ("_sdc_table_version", "version")])
    recs = [b'{"id":1,"name":"a \\"q\\", b","amount":5,"ok":true}', b'{"id":2,"name":"null","amount":0.5}']
    assert rows.build(_values(recs), b"\n".join(recs), 9) == (
        b'1,"a ""q"", b",5,true,null,9\n2,"null",0.5,null,null,9\n')
    assert rows.columns == ["id", "name", "amount", "ok", "gone", "_sdc_table_version"]
    # a line with an escape is rewritten from its values; a record with a digit run a
    # float could round, from its exact parse (the other lines stay as encoded)
    esc = [b'{"id":1,"name":"a\\nb\\u0000\\"c"}', b'{"id":2,"amount":12345678901234567.5}', b'{"id":3}']
    assert rows.build(_values(esc), b"\n".join(esc), None) == (
        b'1,"a\nb""c",null,null,null,null\n2,null,12345678901234567.5,null,null,null\n3,null,null,null,null,null\n')
