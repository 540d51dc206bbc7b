"""Mapped input on both record lanes (protocol/_mapinput.py) against an oracle.

A target with maps hands fast-lane runs to its sinks as mapped runs; the reference lane maps record
by record. Both must give what the engine gives applied to each input record in plain Python (the
oracle below calls ``StreamMaps`` directly, message by message), for a stream long enough to span many
chunks, with a ``__source__`` copy (one input stream, two outputs), records carrying
``time_extracted``, a filter, flattening, exact decimals and integers beyond 64 bits, and
ACTIVATE_VERSION fanned out to every output.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from protocol import SchemaMessage
from protocol.maps import StreamMaps
from tests.conftest import exe, run
from tests.integration.destinations import exact, make

SCHEMA = {"type": "object", "properties": {
    "id": {"type": "integer"}, "email": {"type": ["string", "null"]}, "amount": {"type": ["number", "null"]},
    "big": {"type": ["integer", "null"]},
    "meta": {"type": ["object", "null"], "properties": {"tag": {"type": ["string", "null"]},
                                                        "n": {"type": ["integer", "null"]}}}}}
MAPS: dict[str, Any] = {
    "stream_maps": {
        "orders": {"__filter__": "id % 7 != 3", "email": "sha256(email)", "tag_len": "int(len(meta['tag']))"},
        "orders_copy": {"__source__": "orders", "__else__": None, "id": "id", "big": "big"},
        "noise": None,
    },
    "flattening_enabled": True,
    "flattening_max_depth": 1,
}
COUNT = 3000


def _line(message: dict[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False).encode() + b"\n"


def stream_bytes(count: int = COUNT) -> bytes:
    out = [_line({"type": "SCHEMA", "stream": "orders", "schema": SCHEMA, "key_properties": ["id"]}),
           _line({"type": "SCHEMA", "stream": "noise", "schema": {"type": "object", "properties": {
               "id": {"type": "integer"}}}, "key_properties": ["id"]})]
    for i in range(1, count + 1):
        record = {"id": i, "email": f"user{i}@exämple.org", "amount": f"{i}.{i % 100:02d}",
                  "big": 2**70 + i if i % 500 == 0 else i, "meta": {"tag": "t" * (i % 9), "n": i}}
        line = _line({"type": "RECORD", "stream": "orders", "record": record,
                      **({"time_extracted": "2024-01-01T00:00:00Z"} if 1000 < i <= 1200 else {})})
        out.append(line.replace(f'"{record["amount"]}"'.encode(), record["amount"].encode()))  # a JSON number
        if i % 400 == 0:
            out.append(_line({"type": "RECORD", "stream": "noise", "record": {"id": i}}))
        if i % 1000 == 0:
            out.append(_line({"type": "STATE", "value": {"at": i}}))
    out.append(_line({"type": "ACTIVATE_VERSION", "stream": "orders", "version": 1}))
    return b"".join(out)


def oracle(data: bytes) -> dict[str, list[dict[str, Any]]]:
    """Each output stream's records, from the engine applied message by message."""
    maps = StreamMaps.from_config(MAPS, program="oracle")
    assert maps is not None
    out: dict[str, list[dict[str, Any]]] = {}
    for n, raw in enumerate(data.splitlines(), 1):
        msg = json.loads(raw, parse_float=Decimal)
        if msg["type"] == "SCHEMA":
            for mapped in maps.schema(SchemaMessage(msg["stream"], msg["schema"], msg["key_properties"])):
                out.setdefault(mapped.stream, [])
        elif msg["type"] == "RECORD":
            for stream, record in maps.record(msg["stream"], msg["record"], n):
                out[stream].append(_as_written(record))
    return out


def _as_written(value: Any) -> Any:
    """A mapped value as its JSON text reads back exactly: a float as the Decimal of its repr (the
    engine hands a decimal that only passes through on as the float the usual decode makes of it)."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _as_written(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_written(v) for v in value]
    return value


@pytest.mark.parametrize("fast", [True, False], ids=["fast-lane", "reference-lane"])
def test_mapped_lanes_match_the_engine_applied_record_by_record(fast: bool, tmp_path: Path) -> None:
    data = stream_bytes()
    dest = make("jsonl", tmp_path, None, **MAPS)
    done = dest.load(data, fast=fast)
    assert done.returncode == 0, done.stderr.decode()
    expected = oracle(data)
    assert set(expected) == {"orders", "orders_copy"}
    files = {p.stem for p in dest.out.iterdir()}
    assert files == {"orders", "orders_copy"}
    for stream, records in expected.items():
        landed = [exact(line) for line in (dest.out / f"{stream}.jsonl").read_text().splitlines()]
        assert landed == records, stream
    orders = expected["orders"]
    assert len(orders) == COUNT - len([i for i in range(1, COUNT + 1) if i % 7 == 3])
    first = orders[0]
    assert first["email"] == hashlib.sha256(b"user1@ex\xc3\xa4mple.org").hexdigest()
    assert (first["meta__tag"], first["tag_len"], "meta" in first) == ("t", 1, False)
    assert [r["big"] for r in expected["orders_copy"] if r["id"] == 500] == [2**70 + 500]
    assert any(r["amount"] == Decimal("1234.34") for r in orders)
    assert [json.loads(s) for s in done.stdout.splitlines()][-1] == {"at": 3000}


def test_runs_mapped_by_workers_match_the_engine_applied_record_by_record(tmp_path: Path) -> None:
    """The same, long enough for worker processes to map the runs (protocol/_mapruns.py)."""
    data = stream_bytes(16 * COUNT)
    dest = make("jsonl", tmp_path, None, **MAPS, map_workers=2)
    done = run([exe("target-jsonl"), "--config", str(dest.config_path)], input=data,
               env={**os.environ, "SLUICE_LOG_LEVEL": "DEBUG"}, timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    assert b"mapping runs with 2 worker processes" in done.stderr
    for stream, records in oracle(data).items():
        landed = [exact(line) for line in (dest.out / f"{stream}.jsonl").read_text().splitlines()]
        assert landed == records, stream
    assert [json.loads(s) for s in done.stdout.splitlines()][-1] == {"at": 16 * COUNT}


@pytest.mark.parametrize("fast", [True, False], ids=["fast-lane", "reference-lane"])
def test_an_expression_failing_on_a_record_names_its_line(fast: bool, tmp_path: Path) -> None:
    maps = {"stream_maps": {"orders": {"ratio": "int(100 // (id - 1500))"}}}
    dest = make("jsonl", tmp_path, None, **maps)
    data = stream_bytes()
    line = 1 + next(n for n, raw in enumerate(data.splitlines(), 1) if b'"id": 1500,' in raw) - 1
    done = dest.load(data, fast=fast)
    assert done.returncode == 1
    errors = [ln for ln in done.stderr.decode().splitlines() if "| ERROR" in ln]
    assert len(errors) == 1 and "Traceback" not in done.stderr.decode()
    assert f"line {line}" in errors[0] and "orders" in errors[0] and "ratio" in errors[0], errors[0]


def test_batch_records_are_mapped(tmp_path: Path) -> None:
    batch = tmp_path / "part-1.jsonl"
    rows = [{"id": i, "email": f"b{i}@example.org", "big": i, "meta": {"tag": "x", "n": i}} for i in range(1, 6)]
    batch.write_text("".join(json.dumps(row) + "\n" for row in rows))
    data = (_line({"type": "SCHEMA", "stream": "orders", "schema": SCHEMA, "key_properties": ["id"]})
            + _line({"type": "BATCH", "stream": "orders", "encoding": {"format": "jsonl", "compression": "none"},
                     "manifest": [batch.as_uri()]}))
    dest = make("jsonl", tmp_path, None, **MAPS)
    done = dest.load(data)
    assert done.returncode == 0, done.stderr.decode()
    orders = [exact(line) for line in (dest.out / "orders.jsonl").read_text().splitlines()]
    assert [(r["id"], r["email"], r["meta__n"]) for r in orders] == [
        (i, hashlib.sha256(f"b{i}@example.org".encode()).hexdigest(), i) for i in (1, 2, 4, 5)]
    copies = [exact(line) for line in (dest.out / "orders_copy.jsonl").read_text().splitlines()]
    assert [r["id"] for r in copies] == [1, 2, 3, 4, 5]


def test_mapped_runs_keep_every_digit_in_postgres(tmp_path: Path, pg_dsn: str) -> None:
    """A mapped run is written from its decoded values, and the SQL sinks search the text for numbers
    a float rounds only when the run was not encoded from floats (``RecordRun.faithful``): a run
    with one 20-digit amount among plain ones, whose masked emails often hold 16-digit runs, lands
    every digit of that amount and every other row as it came; a number a tiny exponent makes 0.0
    is searched for only where the decoded input holds a 0.0 (``TinyNumbers``), and found."""
    schema = {"type": "object", "properties": {"id": {"type": "integer"}, "amount": {"type": ["number", "null"]},
                                               "email": {"type": ["string", "null"]}}}
    long, tiny = "0.12345678901234567891", "2.5e-400"  # a float rounds the one, reads the other as 0.0
    lines = [_line({"type": "SCHEMA", "stream": "orders", "schema": schema, "key_properties": ["id"]})]
    for i in range(1, 401):
        amount = {200: long, 300: tiny}.get(i, f"{i}.25")
        lines.append(_line({"type": "RECORD", "stream": "orders",
                            "record": {"id": i, "amount": 0, "email": f"u{i}@example.org"}}).replace(
            b'"amount": 0', b'"amount": ' + amount.encode()))
    maps = {"stream_maps": {"orders": {"email": "sha256(email)", "n": "int(len(email))"}}}
    dest = make("postgres", tmp_path, pg_dsn, **maps)
    done = dest.load(b"".join(lines))
    assert done.returncode == 0, done.stderr.decode()
    rows = dest.rows("orders", {"id": "int", "amount": "str", "email": "str", "n": "int"})
    assert len(rows) == 400
    digests = [hashlib.sha256(f"u{i}@example.org".encode()).hexdigest() for i in range(1, 401)]
    assert sum(re.search("[0-9]{16}", d) is not None for d in digests) >= 2  # text a float could round
    for (i, amount, email, n) in sorted(rows):
        assert Decimal(amount) == Decimal({200: long, 300: tiny}.get(i, f"{i}.25")), (i, amount)
        assert (email, n) == (digests[i - 1], len(f"u{i}@example.org"))


@pytest.mark.parametrize("kind", ["postgres", "duckdb"])
@pytest.mark.parametrize("fast", [True, False])
def test_an_error_in_a_filtered_run_names_its_own_line(tmp_path: Path, request: pytest.FixtureRequest,
                                                        kind: str, fast: bool) -> None:
    """The filter drops every odd record, so a mapped run's records are no longer one per line: an
    error on one of them (here a number past what its column holds) names the line it came from,
    not the run's first line or its place among the kept ones."""
    pg_dsn = request.getfixturevalue("pg_dsn") if kind == "postgres" else None
    if kind == "duckdb":
        pytest.importorskip("duckdb")
    schema = {"type": "object", "properties": {"id": {"type": "integer"}, "q": {"type": ["integer", "null"]}}}
    lines = [_line({"type": "SCHEMA", "stream": "orders", "schema": schema, "key_properties": ["id"]})]
    lines += [_line({"type": "RECORD", "stream": "orders", "record": {"id": i, "q": i}}) for i in range(1, 301)]
    # PostgreSQL's BIGINT ends at 2**63 (id 128, on line 129); DuckDB's DECIMAL(38,18) at 10**20 (id 100, line 101)
    grow = "int(q * 2**56)" if kind == "postgres" else "float(q) * 1e18"  # typed integer, number
    maps = {"stream_maps": {"orders": {"__filter__": "id % 2 == 0", "big": grow}}}
    dest = make(kind, tmp_path, pg_dsn, **maps)
    done = dest.load(b"".join(lines), fast=fast)
    assert done.returncode == 1, done.stderr.decode()
    errors = [line for line in done.stderr.decode().splitlines() if "| ERROR" in line]
    assert len(errors) == 1, errors
    line = 129 if kind == "postgres" else 101
    assert f"line {line}, stream 'orders', field 'big'" in errors[0], errors[0]


@pytest.mark.parametrize("fast", [True, False], ids=["fast-lane", "reference-lane"])
def test_a_decimal_made_text_keeps_the_digits_it_was_written_with(fast: bool, tmp_path: Path) -> None:
    """singer-sdk reads 2.50 as Decimal('2.50'): ``str(price)`` is '2.50' there. The usual decode reads
    a float (2.5), so a stream whose map makes a decimal text is read with its decimals as written;
    a number that only passes through is written as without the map (2.5), and a line holding a long
    digit run (read exactly anyway) gives the same text as a line without one."""
    schema = {"type": "object", "properties": {"id": {"type": "integer"}, "price": {"type": "number"},
                                               "note": {"type": ["string", "null"]}}}
    lines = [_line({"type": "SCHEMA", "stream": "p", "schema": schema, "key_properties": ["id"]})]
    texts = {1: "2.50", 2: "19.90", 3: "1e5", 4: "2.50"}
    for i, text in texts.items():
        note = "12345678901234567890" if i == 4 else None  # a 20-digit run: this line is read exactly
        lines.append(_line({"type": "RECORD", "stream": "p", "record": {"id": i, "price": 0, "note": note}})
                     .replace(b'"price": 0', b'"price": ' + text.encode()))
    maps = {"stream_maps": {"p": {"label": "str(price)", "line": "f'{price} each'",
                                  "h": "sha256(str(price))"}}}
    dest = make("jsonl", tmp_path, None, **maps)
    done = dest.load(b"".join(lines), fast=fast)
    assert done.returncode == 0, done.stderr.decode()
    landed = [json.loads(line) for line in (dest.out / "p.jsonl").read_text().splitlines()]
    want = {1: "2.50", 2: "19.90", 3: "1E+5", 4: "2.50"}  # Decimal's text, as singer-sdk's str() gives it
    assert [(r["id"], r["label"], r["line"], r["h"]) for r in landed] == [
        (i, want[i], f"{want[i]} each", hashlib.sha256(want[i].encode()).hexdigest()) for i in texts]
    assert [r["price"] for r in landed] == [2.5, 19.9, 100000.0, 2.5]


@pytest.mark.parametrize("fast", [True, False], ids=["fast-lane", "reference-lane"])
def test_a_mapped_value_its_schema_does_not_allow_is_an_error_not_a_wrong_row(fast: bool, tmp_path: Path) -> None:
    """``x / 2`` keeps the integer type of ``x`` but gives 0.5: target-sqlite stored 0.5 in an
    INTEGER column and exited 0, where ``mapper-sluice | target-sqlite`` fails on the line."""
    schema = {"type": "object", "properties": {"id": {"type": "integer"}, "x": {"type": ["integer", "null"]}}}
    lines = [_line({"type": "SCHEMA", "stream": "u", "schema": schema, "key_properties": ["id"]}),
             _line({"type": "RECORD", "stream": "u", "record": {"id": 1, "x": 2}}),
             _line({"type": "STATE", "value": {"at": 1}}),
             _line({"type": "RECORD", "stream": "u", "record": {"id": 2, "x": 1}}),
             _line({"type": "STATE", "value": {"at": 2}})]
    dest = make("sqlite", tmp_path, None, stream_maps={"u": {"x": "x / 2"}})
    done = dest.load(b"".join(lines), fast=fast)
    assert done.returncode == 1, done.stderr.decode()
    errors = [ln for ln in done.stderr.decode().splitlines() if "| ERROR" in ln]
    assert len(errors) == 1 and "line 4, stream 'u', field 'x'" in errors[0], errors
    assert [json.loads(s) for s in done.stdout.splitlines()] == [{"at": 1}]
    assert dest.rows("u", {"id": "int", "x": "int"}) == [(1, 1)]
