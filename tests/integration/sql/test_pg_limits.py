"""What JSON holds that PostgreSQL cannot (targets/postgres/limits.py), on every row path of target-postgres:
rows built in bulk from decoded records, record by record (``SLUICE_FAST_PATH=0``), and with metadata columns.

- A key value holding NUL was stored without it, so ``alice\\u0000`` overwrote ``alice`` (exit 0, one
  warning): it is refused with one line naming its line, stream and field; the rows loaded before stay.
- A JSON object whose keys collide once NUL is removed lost one value (``{"k": 1, "k\\u0000": 2}`` stored
  as ``{"k": 2}``): refused the same way. A key holding NUL that collides with none loses its NUL.
- A date-time with a UTC offset past ±15:59 (RFC 3339 allows ±23:59) failed the run with PostgreSQL's
  "time zone displacement out of range", naming nothing: it is stored as the same instant. The oracle
  is Python's own reading of the text (``datetime.fromisoformat``).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest

from tests.conftest import exe, run
from tests.integration.sql.helpers import error_lines, singer, stdout_states

LANES = pytest.mark.parametrize(("fast", "metadata"), [("1", False), ("0", False), ("1", True)],
                                ids=["bulk-rows", "record-by-record", "with-metadata"])

USERS = {"type": "SCHEMA", "stream": "users", "key_properties": ["k"], "schema": {"type": "object", "properties": {
    "k": {"type": "string"}, "v": {"type": ["string", "null"]}}}}
NOTES = {"type": "SCHEMA", "stream": "notes", "key_properties": ["id"], "schema": {"type": "object", "properties": {
    "id": {"type": "integer"}, "meta": {"type": ["object", "null"]}}}}
TIMES = {"type": "SCHEMA", "stream": "ts", "key_properties": ["id"], "schema": {"type": "object", "properties": {
    "id": {"type": "integer"}, "at": {"type": ["string", "null"], "format": "date-time"}}}}


def _load(dsn: str, tmp_path: Path, data: bytes, fast: str, metadata: bool) -> tuple[int, str, list[Any]]:
    config = tmp_path / "target.json"
    config.write_text(orjson.dumps({"sqlalchemy_url": dsn, "batch_size_rows": 10,
                                    "add_record_metadata": metadata}).decode())
    done = run([exe("target-postgres"), "--config", str(config)], input=data,
               env={**os.environ, "SLUICE_FAST_PATH": fast})
    return done.returncode, done.stderr.decode(), stdout_states(done.stdout)


def _rows(dsn: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql.encode()).fetchall()


def _record(stream: str, record: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "RECORD", "stream": stream, "record": record, **extra}


@LANES
def test_a_key_value_holding_nul_is_refused_naming_its_line(pg_dsn: str, tmp_path: Path, fast: str,
                                                            metadata: bool) -> None:
    first = [{"k": f"user{i}", "v": f"first {i}"} for i in range(12)] + [{"k": "alice", "v": "first row"}]
    code, err, _ = _load(pg_dsn, tmp_path, singer(USERS, *(_record("users", r) for r in first),
                                                   {"type": "STATE", "value": {"run": 1}}), fast, metadata)
    assert code == 0, err
    if fast == "1" and not metadata:
        assert "users (13 rows, 13 built in bulk)" in err, err  # the bulk lane is the one tested
    # a NUL outside the key still loads (without it); the key's, on line 20 (after the STATE), fails the run
    second = [{"k": f"new{i}", "v": "v\x00" if i % 4 == 0 else "v"} for i in range(17)]
    second += [{"k": "alice\x00", "v": "second row"}, {"k": "zed", "v": "after"}]
    messages = [USERS, *(_record("users", r) for r in second[:10]), {"type": "STATE", "value": {"run": 2}},
                *(_record("users", r) for r in second[10:])]
    code, err, states = _load(pg_dsn, tmp_path, singer(*messages), fast, metadata)
    assert code == 1, err
    assert len(error_lines(err.encode())) == 1, err
    assert "line 20, stream 'users', field 'k': a key value holds a NUL character" in err, err
    assert "column 'k'" not in err  # no NUL was removed from a key
    landed = dict(_rows(pg_dsn, "SELECT k, v FROM users"))
    assert landed["alice"] == "first row"  # was "second row": the record without its NUL overwrote it
    assert all(landed[r["k"]] == r["v"] for r in first)
    assert "\x00" not in "".join(landed) and "zed" not in landed
    covered = second[:10] if states == [{"run": 2}] else []  # what the run's emitted STATE covers stays
    assert states in ([], [{"run": 2}])
    assert all(landed[r["k"]] == r["v"].replace("\x00", "") for r in covered)


@LANES
def test_json_keys_that_collide_without_nul_are_refused(pg_dsn: str, tmp_path: Path, fast: str,
                                                        metadata: bool) -> None:
    kept = [_record("notes", {"id": 1, "meta": {"a\x00b": 1, "x": [{"k": "v\x00"}]}}),
            _record("notes", {"id": 2, "meta": {"k": 1, "deep": {"k": 2}}})]
    code, err, _ = _load(pg_dsn, tmp_path, singer(NOTES, *kept, {"type": "STATE", "value": {"n": 1}}), fast,
                         metadata)
    assert code == 0, err
    assert "stream 'notes' column 'meta': removed NUL characters from 1 value" in err, err
    colliding = [_record("notes", {"id": 3, "meta": {"k": 1}}),
                 _record("notes", {"id": 4, "meta": {"x": [{"q": 0}, {"k": 1, "k\x00": 2}]}}),
                 _record("notes", {"id": 5, "meta": None})]
    code, err, _ = _load(pg_dsn, tmp_path, singer(NOTES, *colliding, {"type": "STATE", "value": {"n": 2}}), fast,
                         metadata)
    assert code == 1, err
    assert len(error_lines(err.encode())) == 1, err
    assert ("line 3, stream 'notes', field 'meta': object keys \"k\" and \"k\\u0000\" are the same key once "
            "the NUL characters PostgreSQL cannot store are removed") in err, err
    landed = dict(_rows(pg_dsn, "SELECT id, meta FROM notes"))
    assert landed == {1: {"ab": 1, "x": [{"k": "v"}]}, 2: {"k": 1, "deep": {"k": 2}}}


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: the offsets PostgreSQL reads and those it refused, at the ends of datetime's range too
SENT = ["2024-01-01T00:00:00.5-23:59", "2024-03-01T10:00:00+16:00", "2024-02-29T23:30:00.123456-16:00",
        "2024-06-30T12:00:00Z", "2024-06-30T12:00:00+15:59", "2024-06-30T12:00:00-10:00", "2024-06-30T12:00:00+05:30",
        "0001-01-01T05:00:00+23:00", "9999-12-31T23:00:00-20:00", "2023-12-31t22:00:00.75+23:59", None]


def _since_epoch(text: str | None) -> timedelta | None:
    return None if text is None else datetime.fromisoformat(text.upper()) - EPOCH


@LANES
def test_a_date_time_offset_past_15_59_is_stored_as_its_instant(pg_dsn: str, tmp_path: Path, fast: str,
                                                                metadata: bool) -> None:
    plain = [_record("ts", {"id": 100 + i, "at": "2024-05-05T05:05:05Z"}) for i in range(3)]
    code, err, _ = _load(pg_dsn, tmp_path, singer(TIMES, *plain), fast, metadata)
    assert code == 0, err
    if fast == "1" and not metadata:
        assert "ts (3 rows, 3 built in bulk)" in err, err
    extracted = "2024-07-01T00:00:00.25-23:30"
    records = [_record("ts", {"id": i, "at": v}, time_extracted=extracted) for i, v in enumerate(SENT)]
    code, err, states = _load(pg_dsn, tmp_path, singer(TIMES, *records, {"type": "STATE", "value": {"n": 1}}),
                              fast, metadata)
    assert code == 0, err
    assert states == [{"n": 1}]
    landed = dict(_rows(pg_dsn, "SELECT id, at - timestamptz '1970-01-01 00:00:00+00' FROM ts WHERE id < 100"))
    assert landed == {i: _since_epoch(v) for i, v in enumerate(SENT)}
    if metadata:
        stamps = _rows(pg_dsn, "SELECT DISTINCT _sdc_extracted_at - timestamptz '1970-01-01 00:00:00+00' FROM ts "
                               "WHERE id < 100")
        assert stamps == [(_since_epoch(extracted),)]
