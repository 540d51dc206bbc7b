"""The drain's memory is bounded by body bytes as well as rows (drain.BATCH_BYTES): large bodies are
read and written in pieces, and the pieces change no byte of the output (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
import json
import os
import subprocess
from pathlib import Path

import psycopg
import pytest

from protocol import Catalog, MessageWriter
from taps.webhook.drain import Routes, drain
from taps.webhook.reader import SpoolReader, SqliteSpoolReader
from taps.webhook.reader_pg import PgSpoolReader
from taps.webhook.settings import WebhookSettings
from taps.webhook.tap import TapWebhook
from tests.conftest import exe
from tests.integration.webhook_tap.spool import Delivery, deliveries, fill_sqlite
from tests.integration.webhook_tap.test_pg_spool import CREATE, INSERT, TABLE, _row

MiB = 1 << 20


def _big(count: int) -> list[Delivery]:
    body = json.dumps({"data": ["x" * 1000] * 1040}).encode()  # ~1 MiB of JSON: the default max_body_bytes
    return [Delivery("gh", f"d-{i}", "push", 1_764_900_000 + i, {}, body) for i in range(count)]


def _drain_peak(root: Path, count: int) -> int:
    """Peak RSS (bytes) of tap-webhook draining ``count`` bodies of 1 MiB to a file; checks the output."""
    root.mkdir()
    fill_sqlite(root / "spool.db", _big(count))
    config = root / "config.json"
    config.write_text(json.dumps({"spool": {"path": str(root / "spool.db")},
                                  "sources": {"gh": {"provider": "github", "secrets": ["a"]}}}))
    out = root / "out.jsonl"
    with out.open("wb") as sink:
        proc = subprocess.Popen([exe("tap-webhook"), "--config", str(config)], stdout=sink,
                                stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here (wait4 gives its rusage)
    assert proc.returncode == 0
    lines = [json.loads(line) for line in out.read_bytes().splitlines()]
    assert [m["record"]["delivery_id"] for m in lines if m["type"] == "RECORD"] == [f"d-{i}" for i in range(count)]
    assert lines[-1]["type"] == "STATE" and lines[-1]["value"]["seq"] == count
    out.unlink()
    return int(usage.ru_maxrss) * 1024  # Linux: KiB


def test_large_bodies_are_drained_in_bounded_memory(tmp_path: Path) -> None:
    """All in one 5,000-row batch, 1 MiB bodies were held at once at ~4x their size: 240 more bodies
    took ~1 GB more. Drained in pieces, the peak does not grow with the bodies' total (compared with
    itself on a quarter of them: a baseline that differs from machine to machine cancels out)."""
    small, large = _drain_peak(tmp_path / "small", 80), _drain_peak(tmp_path / "large", 320)
    assert large - small < 128 * MiB, f"peak RSS {small / MiB:.0f} MiB for 80 bodies, {large / MiB:.0f} MiB for 320"


def _output(reader: SpoolReader, config: dict[str, object], batch_size: int, batch_bytes: int) -> bytes:
    tap = TapWebhook(config)
    catalog = Catalog([s.catalog_entry() for s in tap.streams()])
    for entry in catalog:
        entry.select_all()
    sink = io.BytesIO()
    writer = MessageWriter(sink)
    routes = Routes(WebhookSettings.from_config(config).sources, catalog, writer)
    drain(reader, 0, reader.horizon(), routes, writer, lambda seq: writer.write_state({"seq": seq}),
          batch_size, batch_bytes)
    writer.flush()
    return sink.getvalue()


def _same_output_in_pieces(reader: SpoolReader, config: dict[str, object]) -> None:
    whole = _output(reader, config, 7, 1 << 40)
    for batch_bytes in (1, 700, 5_000):  # a piece per row, a few rows, most of a batch
        assert _output(reader, config, 7, batch_bytes) == whole, batch_bytes
    states = [json.loads(line)["value"]["seq"] for line in whole.splitlines() if b'"STATE"' in line]
    assert states == [7, 14, 21, 28, 30]  # after each batch of 7 rows and after the last


def test_pieces_change_no_byte_of_the_output_sqlite(tmp_path: Path) -> None:
    fill_sqlite(tmp_path / "spool.db", deliveries(30))
    config: dict[str, object] = {"spool": {"path": str(tmp_path / "spool.db")},
                                 "sources": {"gh": {"provider": "github", "secrets": ["a"]}}}
    reader = SqliteSpoolReader(str(tmp_path / "spool.db"))
    try:
        _same_output_in_pieces(reader, config)
    finally:
        reader.close()


@pytest.mark.postgres
def test_pieces_change_no_byte_of_the_output_postgres(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(CREATE)
        with conn.cursor() as cur:
            cur.executemany(INSERT, [_row(d) for d in deliveries(30)])
    config: dict[str, object] = {"spool": {"backend": "postgres", "dsn": pg_dsn, "table": TABLE},
                                 "sources": {"gh": {"provider": "github", "secrets": ["a"]}}}
    reader = PgSpoolReader(pg_dsn, TABLE)
    try:
        _same_output_in_pieces(reader, config)
    finally:
        reader.close()
