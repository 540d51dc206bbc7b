"""Deliveries -> tap-webhook -> target-postgres through `sluice run`, three runs with a target failure
in the middle: every spooled delivery lands exactly once (upserted on delivery_id, a re-delivery
included), and the spool loses a delivery only after a later run started from a state past it."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import yaml

from tests.conftest import exe
from tests.integration.runner.helpers import sluice, sluice_env
from tests.integration.webhook_tap.spool import Delivery, body_value, deliveries, exact, fill_sqlite, spooled_ids

REJECTED = "d-00045"  # the target's table refuses this delivery during the second run


def _project(root: Path, dsn: str) -> None:
    tap = {"spool": {"path": str(root / "webhooks.db")},
           "sources": {"gh": {"provider": "github", "secrets": ["s3cret"]}}}
    target = {"sqlalchemy_url": dsn, "batch_size_rows": 7, "state_flush_seconds": 0}
    project = {"connectors": [{"name": "tap-webhook", "executable": exe("tap-webhook"), "config": tap},
                              {"name": "target-postgres", "executable": exe("target-postgres"), "config": target}],
               "pipelines": [{"name": "hooks", "tap": "tap-webhook", "target": "target-postgres"}]}
    (root / "sluice.yml").write_text(yaml.safe_dump(project, sort_keys=False))


def _loaded(dsn: str) -> list[tuple[str, Any, str | None, datetime]]:
    with psycopg.connect(dsn) as conn:
        return [tuple(r) for r in conn.execute(  # type: ignore[misc]
            "SELECT delivery_id, body::text, event_type, received_at FROM public.gh")]


def _stored_state(root: Path) -> Any:
    done = sluice(["state", "get", "hooks"], root)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _assert_exactly_once(dsn: str, sent: list[Delivery]) -> None:
    rows = _loaded(dsn)
    twice = [k for k, n in Counter(r[0] for r in rows).items() if n > 1]
    assert not twice, f"delivered twice: {twice}"
    expected = {d.delivery_id: d for d in sent}
    assert sorted(r[0] for r in rows) == sorted(expected)
    for delivery_id, body, event_type, received_at in rows:
        d = expected[delivery_id]
        assert exact(body) == body_value(d.body), delivery_id
        assert event_type == d.event_type
        assert abs(received_at.timestamp() - d.received_at) < 1e-5
        assert received_at.tzinfo is not None and received_at.utcoffset() == UTC.utcoffset(None)


def test_failed_target_loses_nothing_and_a_rerun_lands_each_delivery_once(tmp_path: Path, pg_dsn: str) -> None:
    _project(tmp_path, pg_dsn)
    spool = tmp_path / "webhooks.db"
    env = sluice_env()

    first = deliveries(30)
    fill_sqlite(spool, first)
    done = sluice(["run", "hooks"], tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    _assert_exactly_once(pg_dsn, first)
    assert _stored_state(tmp_path) == {"seq": 30}
    assert spooled_ids(spool) == [d.delivery_id for d in first]  # kept until a later run starts past them

    with psycopg.connect(pg_dsn, autocommit=True) as conn:  # the target's table now refuses one row
        conn.execute(f"ALTER TABLE public.gh ADD CONSTRAINT no_45 CHECK (delivery_id <> '{REJECTED}')")
    second = deliveries(30, start=30)
    fill_sqlite(spool, second)
    done = sluice(["run", "hooks"], tmp_path, env=env)
    assert done.returncode != 0, "the target should have failed on the refused row"
    assert "no_45" in done.stderr
    state = _stored_state(tmp_path)["seq"]
    assert 30 <= state < 45  # at most what the target committed before it failed
    loaded = {r[0] for r in _loaded(pg_dsn)}
    assert REJECTED not in loaded
    # pruned: exactly what the run's starting state covered; everything after it is still spooled
    assert spooled_ids(spool) == [d.delivery_id for d in second]

    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("ALTER TABLE public.gh DROP CONSTRAINT no_45")
    third = deliveries(10, start=60)
    redelivered = deliveries(1, start=3)  # pruned from the spool, sent again by the provider: stored again
    fill_sqlite(spool, third + redelivered)
    done = sluice(["run", "hooks"], tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    _assert_exactly_once(pg_dsn, first + second + third)
    assert _stored_state(tmp_path) == {"seq": 71}
    # the third run started from the failed run's state: it pruned what that state covered, no more
    assert spooled_ids(spool) == [d.delivery_id for d in second + third + redelivered][state - 30:]

    done = sluice(["run", "hooks"], tmp_path, env=env)  # nothing new: everything loaded is pruned
    assert done.returncode == 0, done.stderr
    assert spooled_ids(spool) == []
    _assert_exactly_once(pg_dsn, first + second + third)
