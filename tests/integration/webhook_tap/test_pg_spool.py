"""tap-webhook over a PostgreSQL spool (the contract's columns in ``spool.table``), including the
case a plain ``seq > N`` reader gets wrong: a delivery whose transaction commits after a later one's."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from taps.webhook.lines import Heads
from taps.webhook.reader import Head
from taps.webhook.reader_pg import PgSpoolReader
from tests.conftest import exe
from tests.integration.webhook_tap.spool import Delivery, deliveries
from tests.tapio import TapResult, run_tap

TABLE = "hooks.deliveries"
CREATE = """
CREATE SCHEMA IF NOT EXISTS hooks;
CREATE TABLE hooks.deliveries (seq BIGSERIAL PRIMARY KEY, source TEXT NOT NULL, delivery_id TEXT NOT NULL,
  event_type TEXT, received_at DOUBLE PRECISION NOT NULL, headers TEXT NOT NULL, body BYTEA NOT NULL,
  UNIQUE (source, delivery_id))"""
INSERT = ("INSERT INTO hooks.deliveries (source, delivery_id, event_type, received_at, headers, body) "
          "VALUES (%s, %s, %s, %s, %s, %s)")


def _row(d: Delivery) -> tuple[Any, ...]:
    return (d.source, d.delivery_id, d.event_type, d.received_at, json.dumps(d.headers), d.body)


def _config(dsn: str) -> dict[str, Any]:
    return {"spool": {"backend": "postgres", "dsn": dsn, "table": TABLE},
            "sources": {"gh": {"provider": "github", "secrets": ["a"]}}}


def _spooled(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        return [r[0] for r in conn.execute("SELECT delivery_id FROM hooks.deliveries ORDER BY seq")]


def test_a_late_commit_below_the_horizon_is_read_not_skipped(tmp_path: Path, pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(CREATE)
        with conn.cursor() as cur:
            cur.executemany(INSERT, [_row(d) for d in deliveries(10)])
    late, early = deliveries(2, start=10)
    slow = psycopg.connect(pg_dsn)  # draws position 11 and does not commit yet
    slow.execute(INSERT, _row(late))
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(INSERT, _row(early))  # position 12, committed first
    config = tmp_path / "config.json"
    config.write_text(json.dumps(_config(pg_dsn)))
    with subprocess.Popen([exe("tap-webhook"), "--config", str(config)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as proc:
        try:
            time.sleep(1.5)
            waited = proc.poll() is None
            slow.commit()
            out, err = proc.communicate(timeout=60)
        finally:
            slow.close()
            if proc.poll() is None:
                proc.kill()
    assert waited, "the tap must wait for the transaction holding position 11"
    assert proc.returncode == 0, err.decode()
    lines = [json.loads(line) for line in out.splitlines()]
    ids = [m["record"]["delivery_id"] for m in lines if m["type"] == "RECORD"]
    assert ids == [d.delivery_id for d in deliveries(10)] + [late.delivery_id, early.delivery_id]
    assert lines[-1]["type"] == "STATE" and lines[-1]["value"]["seq"] == 12
    record = next(m["record"] for m in lines if m["type"] == "RECORD")
    assert record["headers"] == deliveries(1)[0].headers and record["received_at"].endswith("Z")


def test_prune_and_resume_on_postgres(tmp_path: Path, pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(CREATE)
        with conn.cursor() as cur:
            cur.executemany(INSERT, [_row(d) for d in deliveries(20)])
    done = run_tap("tap-webhook", tmp_path, _config(pg_dsn), state={"seq": 8}, result=TapResult)
    assert [r["delivery_id"] for r in done.records("gh")] == [d.delivery_id for d in deliveries(20)][8:]
    assert _spooled(pg_dsn) == [d.delivery_id for d in deliveries(20)][8:]
    assert done.state["seq"] == 20
    tested = run_tap("tap-webhook", tmp_path, _config(pg_dsn), "--test", result=TapResult)
    assert "12 deliveries spooled (positions 9 to 20)" in tested.stderr
    run_tap("tap-webhook", tmp_path, _config(pg_dsn), state=done.state, result=TapResult)
    assert _spooled(pg_dsn) == []


def test_built_heads_are_byte_for_byte_what_postgres_writes(pg_dsn: str) -> None:
    """The record heads built from the raw columns (taps/webhook/lines.py) against PostgreSQL's own JSON
    (``PgSpoolReader.heads``), on ids and times both paths must handle: plain, escaped, non-ASCII, pre-1970."""
    odd = [Delivery("gh", i, e, t, {"k": "v é", "\t": '"q"'}, b"{}") for i, e, t in
           (('a"b', "push", 1.5e9), ("tab\there", None, 1.5e9), ("é\u2028", "Push Hook", 1.5e9),
            ("x", "push", -0.25), ("y", "é", 1_764_900_000.9999995))]
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(CREATE)
        with conn.cursor() as cur:
            cur.executemany(INSERT, [_row(d) for d in deliveries(12) + odd])
    reader = PgSpoolReader(pg_dsn, TABLE)
    heads = Heads(reader)
    try:
        for size in (1, 4, 17):
            for rows in reader.batches(0, reader.horizon(), size):
                seqs, _sources, types, ids, micros, headers, _bodies = zip(*rows, strict=True)
                built = [b"".join(parts) for parts in zip(*heads.columns(seqs, types, ids, micros, headers),
                                                           strict=False)]
                oracle = reader.heads(seqs[0], seqs[-1])
                assert built == [_expected(oracle[seq]) for seq in seqs]
    finally:
        reader.close()


def _expected(head: Head) -> bytes:
    text, second, tail = head
    return text + datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S").encode() + tail
