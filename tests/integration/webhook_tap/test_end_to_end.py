"""Deliveries -> `tap-webhook serve` (real HTTP, GitHub-signed) -> tap-webhook -> target-postgres through
`sluice run`, with the receiver taking deliveries throughout. Three runs with a target failure in the
middle: every acknowledged (2xx) delivery lands exactly once (upserted on delivery_id, a re-delivery
included), none that was refused does, and the spool loses a delivery only after a later run started
from a state past it."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from tests.conftest import exe
from tests.integration.runner.helpers import sluice, sluice_env
from tests.integration.webhook_tap.spool import Delivery, body_value, deliveries, exact, spooled_ids

pytest.importorskip("starlette", reason="tap-webhook serve needs the 'webhooks' extra")
from tests.integration.webhook_receiver.receiver import SECRET, Receiver

REJECTED = "d-00045"  # the target's table refuses this delivery during the second run


def _config(root: Path) -> dict[str, Any]:
    return {"spool": {"path": str(root / "webhooks.db")}, "server": {"port": 0},
            "sources": {"gh": {"provider": "github", "secrets": [SECRET]}}}


def _project(root: Path, dsn: str) -> None:
    target = {"sqlalchemy_url": dsn, "batch_size_rows": 7, "state_flush_seconds": 0}
    project = {"connectors": [{"name": "tap-webhook", "executable": exe("tap-webhook"), "config": _config(root)},
                              {"name": "target-postgres", "executable": exe("target-postgres"), "config": target}],
               "pipelines": [{"name": "hooks", "tap": "tap-webhook", "target": "target-postgres"}]}
    (root / "sluice.yml").write_text(yaml.safe_dump(project, sort_keys=False))


def _post(receiver: Receiver, items: list[Delivery]) -> list[tuple[Delivery, float]]:
    """Send each delivery as GitHub signs it; those acknowledged, with when."""
    acked = []
    for d in items:
        headers = {"Content-Type": "application/json", "X-GitHub-Delivery": d.delivery_id,
                   "X-Hub-Signature-256": "sha256=" + hmac.new(SECRET.encode(), d.body, hashlib.sha256).hexdigest()}
        if d.event_type is not None:
            headers["X-GitHub-Event"] = d.event_type
        before = time.time()
        status, _ = receiver.post("gh", d.body, headers)
        if 200 <= status < 300:
            acked.append((d, before))
        else:
            assert status in (400, 415), (d.delivery_id, status)
    return acked


def _loaded(dsn: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return [tuple(r) for r in conn.execute(
            "SELECT delivery_id, body::text, event_type, received_at, headers::text FROM public.gh")]


def _stored_state(root: Path) -> Any:
    done = sluice(["state", "get", "hooks"], root)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _stored_seq(root: Path) -> int:
    state = _stored_state(root)
    assert set(state) == {"seq", "spool", "reader"}, state
    return int(state["seq"])


def _assert_exactly_once(dsn: str, acked: list[tuple[Delivery, float]]) -> None:
    rows = _loaded(dsn)
    twice = [k for k, n in Counter(r[0] for r in rows).items() if n > 1]
    assert not twice, f"delivered twice: {twice}"
    expected = {d.delivery_id: (d, at) for d, at in acked}
    assert sorted(r[0] for r in rows) == sorted(expected)
    for delivery_id, body, event_type, received_at, headers in rows:
        d, sent_at = expected[delivery_id]
        assert exact(body) == body_value(d.body), delivery_id
        assert event_type == d.event_type
        assert json.loads(headers)["x-github-delivery"] == delivery_id
        assert sent_at - 1 <= received_at.timestamp() <= sent_at + 60


def test_failed_target_loses_nothing_and_a_rerun_lands_each_delivery_once(tmp_path: Path, pg_dsn: str) -> None:
    _project(tmp_path, pg_dsn)
    receiver = Receiver(tmp_path, _config(tmp_path)).start()
    spool = tmp_path / "webhooks.db"
    env = sluice_env()
    try:
        first = _post(receiver, deliveries(30))
        assert len(first) >= 25  # a refusal is the receiver's to decide; most of these are plain JSON
        done = sluice(["run", "hooks"], tmp_path, env=env)
        assert done.returncode == 0, done.stderr
        _assert_exactly_once(pg_dsn, first)
        assert _stored_seq(tmp_path) == len(first)
        assert spooled_ids(spool) == [d.delivery_id for d, _ in first]  # kept until a later run starts past them

        with psycopg.connect(pg_dsn, autocommit=True) as conn:  # the target's table now refuses one row
            conn.execute(f"ALTER TABLE public.gh ADD CONSTRAINT no_45 CHECK (delivery_id <> '{REJECTED}')")
        second = _post(receiver, deliveries(30, start=30))
        assert REJECTED in {d.delivery_id for d, _ in second}
        done = sluice(["run", "hooks"], tmp_path, env=env)
        assert done.returncode != 0, "the target should have failed on the refused row"
        assert "no_45" in done.stderr
        state = _stored_seq(tmp_path)
        assert len(first) <= state < len(first) + len(second)  # at most what the target committed
        assert REJECTED not in {r[0] for r in _loaded(pg_dsn)}
        # pruned: exactly what the run's starting state covered; everything after it is still spooled
        assert spooled_ids(spool) == [d.delivery_id for d, _ in second]

        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute("ALTER TABLE public.gh DROP CONSTRAINT no_45")
        third = _post(receiver, deliveries(10, start=60))
        # a re-delivery of one pruned from the spool: acknowledged as a duplicate (its id was kept), not stored
        redelivered = _post(receiver, [first[3][0]])
        assert len(redelivered) == 1
        done = sluice(["run", "hooks"], tmp_path, env=env)
        assert done.returncode == 0, done.stderr
        _assert_exactly_once(pg_dsn, first + second + third)
        assert _stored_seq(tmp_path) == len(first) + len(second) + len(third)
        # the third run started from the failed run's state: it pruned what that state covered, no more
        assert spooled_ids(spool) == [d.delivery_id for d, _ in second + third][state - len(first):]

        done = sluice(["run", "hooks"], tmp_path, env=env)  # nothing new: everything loaded is pruned
        assert done.returncode == 0, done.stderr
        assert spooled_ids(spool) == []
        _assert_exactly_once(pg_dsn, first + second + third)
    finally:
        receiver.stop()
