"""The spool's safeguards on PostgreSQL (taps/webhook/ledger_pg.py), end to end as in
test_spool_safety.py: `tap-webhook serve` on a PostgreSQL table -> tap-webhook -> target-jsonl."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration.webhook_tap.test_spool_safety import _loaded, _post, _project, _run, _state

pytest.importorskip("starlette", reason="tap-webhook serve needs the 'webhooks' extra")
from tests.integration.webhook_receiver.receiver import SECRET, Receiver

pytestmark = pytest.mark.postgres

TABLE = "hooks.inbox"


def _config(dsn: str) -> dict[str, Any]:
    return {"spool": {"backend": "postgres", "dsn": dsn, "table": TABLE}, "server": {"port": 0},
            "sources": {"gh": {"provider": "github", "secrets": [SECRET]}}}


def _spooled(dsn: str) -> list[str]:
    import psycopg

    with psycopg.connect(dsn) as conn:
        return [r[0] for r in conn.execute(f"SELECT delivery_id FROM {TABLE} ORDER BY seq")]


def test_postgres_spool_dedupes_pruned_retries_and_refuses_a_recreated_table(tmp_path: Path, pg_dsn: str) -> None:
    import psycopg

    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA hooks")
    config = _config(pg_dsn)
    _project(tmp_path, config)
    receiver = Receiver(tmp_path, config).start()
    try:
        for i in range(1, 4):
            _post(receiver, f"a-{i}")
        assert _run(tmp_path).returncode == 0
        _post(receiver, "b-1")
        assert _run(tmp_path).returncode == 0
        assert _spooled(pg_dsn) == ["b-1"]
        assert _post(receiver, "a-2") == b'{"status":"duplicate"}'  # pruned, its id kept
        assert _run(tmp_path).returncode == 0
        assert _loaded(tmp_path) == ["a-1", "a-2", "a-3", "b-1"]
        assert _state(tmp_path)["seq"] == 4

        receiver.stop()
        with psycopg.connect(pg_dsn, autocommit=True) as conn:  # the spool table is dropped and made anew
            conn.execute(f"DROP TABLE {TABLE}")
        receiver = Receiver(tmp_path, config).start()
        fresh = [f"fresh-{i}" for i in range(1, 7)]
        for delivery_id in fresh:
            _post(receiver, delivery_id)
        refused = _run(tmp_path)
        assert refused.returncode != 0 and "recreated?" in refused.stderr, refused.stderr
        assert _spooled(pg_dsn) == fresh
    finally:
        receiver.stop()
