"""The PostgreSQL spool behind the real receiver: stored once per (source, delivery id), a lost
connection answers 503 and stores nothing, and the next delivery reconnects."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest

from tests.integration.webhook_receiver.receiver import SECRET, Receiver
from tests.integration.webhook_receiver.test_receiver_http import body, gh_headers

pytestmark = pytest.mark.postgres

TABLE = "hooks.inbox"


def pg_rows(dsn: str) -> list[dict[str, Any]]:
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        return conn.execute(f"SELECT * FROM {TABLE} ORDER BY seq").fetchall()


def test_postgres_spool(tmp_path: Path, pg_dsn: str) -> None:
    import psycopg

    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA hooks")
    config = {"spool": {"backend": "postgres", "dsn": pg_dsn, "table": TABLE}, "server": {"port": 0},
              "sources": {"gh": {"provider": "github", "secrets": [SECRET]}}}
    rec = Receiver(tmp_path, config).start()
    try:
        marker = secrets.token_hex(5)
        first, second = body(f"{marker}-1"), body(f"{marker}-2")
        assert rec.post("gh", first, gh_headers(first, delivery="a", event="ping")) == (200, b'{"status":"stored"}')
        assert rec.post("gh", first, gh_headers(first, delivery="a")) == (200, b'{"status":"duplicate"}')
        assert rec.post("gh", second, gh_headers(second, delivery="b"))[0] == 200
        stored = pg_rows(pg_dsn)
        assert [(r["source"], r["delivery_id"], r["event_type"], bytes(r["body"])) for r in stored] == [
            ("gh", "a", "ping", first), ("gh", "b", "push", second)]
        assert json.loads(stored[0]["headers"]) == {"x-github-event": "ping", "x-github-delivery": "a"}
        assert stored[0]["seq"] < stored[1]["seq"]

        with psycopg.connect(pg_dsn, autocommit=True) as conn:  # the spool's connection dies
            killed = conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE application_name = 'sluice tap-webhook serve'").fetchall()
        assert killed
        lost = body(f"{marker}-3")
        assert rec.post("gh", lost, gh_headers(lost, delivery="c"))[0] == 503
        again = body(f"{marker}-4")
        assert rec.post("gh", again, gh_headers(again, delivery="d"))[0] == 200  # reconnected
        assert [r["delivery_id"] for r in pg_rows(pg_dsn)] == ["a", "b", "d"]
        metrics = rec.metrics()
        assert metrics["sluice_webhook_spool_depth"] == 3
        assert metrics['sluice_webhook_deliveries_rejected_total{source="gh",reason="spool_error"}'] == 1
    finally:
        rec.stop()
    assert pg_dsn.rsplit("/", 1)[0] not in rec.stderr()  # the DSN (a secret setting) is not logged


def test_a_nul_in_an_event_id_refuses_that_delivery_alone(tmp_path: Path, pg_dsn: str) -> None:
    """PostgreSQL text cannot hold U+0000, which a signed Stripe body may put in its id or type: that
    delivery alone gets 422 (and a log line), every time; deliveries sharing its commits are stored."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    from tests.integration.webhook_receiver.test_receiver_http import STRIPE_SECRET, stripe_headers

    config = {"spool": {"backend": "postgres", "dsn": pg_dsn, "table": "inbox"},
              "server": {"port": 0, "commit_window_ms": 50},
              "sources": {"st": {"provider": "stripe", "secrets": [STRIPE_SECRET]}}}
    poisons = [b'{"id":"evt_\\u0000x","type":"invoice.paid"}', b'{"id":"evt_ok","type":"invoice.\\u0000paid"}']
    good = [json.dumps({"id": f"evt_{r}_{i}", "type": "x"}).encode() for r in range(4) for i in range(20)]
    rec = Receiver(tmp_path, config).start()
    try:
        with ThreadPoolExecutor(32) as pool:
            got = dict(zip(good + poisons * 4, pool.map(
                lambda sent: rec.post("st", sent, stripe_headers(sent, time.time())), good + poisons * 4),
                strict=True))
        assert all(got[sent] == (200, b'{"status":"stored"}') for sent in good)
        assert all(got[sent] == (422, b'{"error":"unstorable"}') for sent in poisons)
        assert sorted(r["delivery_id"] for r in pg_rows_of(pg_dsn, "inbox")) == sorted(
            json.loads(sent)["id"] for sent in good)
        assert rec.metrics()['sluice_webhook_deliveries_rejected_total{source="st",reason="unstorable"}'] == 8
    finally:
        rec.stop()
    log = rec.stderr()
    assert "its delivery id holds U+0000" in log and "its event type holds U+0000" in log
    assert "spool commit of" not in log  # no batch failed


def pg_rows_of(dsn: str, table: str) -> list[dict[str, Any]]:
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        return conn.execute(f"SELECT * FROM {table} ORDER BY seq").fetchall()
