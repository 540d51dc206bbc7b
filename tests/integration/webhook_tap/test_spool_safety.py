"""What the spool must never lose or double, end to end: `tap-webhook serve` over real HTTP (GitHub-signed
deliveries, an SQLite spool) -> tap-webhook -> target-jsonl through `sluice run`, states kept by sluice.

- a spool recreated under an old state: the run is refused and deletes nothing (it pruned the new
  spool's first N deliveries, unread);
- two pipelines reading one spool: each gets every delivery (the first pruned what the second had not
  read), and a pipeline left behind by a prune fails loudly instead of missing deliveries;
- a provider's retry of a delivery already loaded and pruned: answered "duplicate", not stored and
  loaded again (for spool.dedupe_days; after that it is a new delivery);
- a body orjson refuses (a number past a double's range) is a string whatever the other bodies of its
  batch are (it was spliced in as JSON alone, and a string beside a 1e400 body).
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import exe
from tests.integration.runner.helpers import sluice, sluice_env

pytest.importorskip("starlette", reason="tap-webhook serve needs the 'webhooks' extra")
from tests.integration.webhook_receiver.receiver import SECRET, Receiver
from tests.integration.webhook_receiver.test_receiver_http import gh_headers


def _config(root: Path, **spool: Any) -> dict[str, Any]:
    return {"spool": {"path": str(root / "webhooks.db"), **spool}, "server": {"port": 0},
            "sources": {"gh": {"provider": "github", "secrets": [SECRET]}}}


def _project(root: Path, config: dict[str, Any], outs: tuple[str, ...] = ("out",)) -> None:
    """A pipeline per output directory, each tap-webhook (same config, same spool) -> target-jsonl."""
    connectors: list[dict[str, Any]] = [{"name": "wh", "executable": exe("tap-webhook"), "config": config}]
    pipelines = []
    for out in outs:
        connectors.append({"name": f"jl-{out}", "executable": exe("target-jsonl"),
                           "config": {"destination_path": str(root / out)}})
        pipelines.append({"name": f"to-{out}", "tap": "wh", "target": f"jl-{out}"})
    (root / "sluice.yml").write_text(yaml.safe_dump({"connectors": connectors, "pipelines": pipelines},
                                                    sort_keys=False))


def _post(receiver: Receiver, delivery_id: str, body: bytes | None = None) -> bytes:
    body = body if body is not None else json.dumps({"id": delivery_id}).encode()
    status, answer = receiver.post("gh", body, gh_headers(body, delivery=delivery_id))
    assert status == 200, (status, answer)
    return answer


def _run(root: Path, pipeline: str = "to-out") -> Any:
    return sluice(["run", pipeline], root, env=sluice_env())


def _loaded(root: Path, out: str = "out") -> list[str]:
    path = root / out / "gh.jsonl"
    if not path.exists():
        return []
    return [json.loads(line)["delivery_id"] for line in path.read_text().splitlines()]


def _spooled(root: Path) -> list[str]:
    with closing(sqlite3.connect(root / "webhooks.db")) as db:
        return [r[0] for r in db.execute("SELECT delivery_id FROM deliveries ORDER BY seq")]


def _state(root: Path, pipeline: str = "to-out") -> Any:
    done = sluice(["state", "get", pipeline], root)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _set_state(root: Path, state: Any, pipeline: str = "to-out") -> None:
    done = sluice(["state", "set", pipeline, json.dumps(state)], root)
    assert done.returncode == 0, done.stderr


def _recreate(receiver: Receiver, root: Path) -> Receiver:
    """The spool file is lost (a new disk, a deleted volume): the receiver starts a new one."""
    receiver.stop()
    for path in root.glob("webhooks.db*"):
        path.unlink()
    return Receiver(root, receiver.config).start()


@pytest.mark.parametrize("old_state", ["kept", "without_ids"])
def test_a_spool_recreated_under_an_old_state_is_refused_and_nothing_is_pruned(tmp_path: Path,
                                                                                 old_state: str) -> None:
    config = _config(tmp_path)
    _project(tmp_path, config)
    receiver = Receiver(tmp_path, config).start()
    try:
        for i in range(1, 4):
            _post(receiver, f"old-{i}")
        assert _run(tmp_path).returncode == 0
        assert _state(tmp_path)["seq"] == 3
        if old_state == "without_ids":  # a state written before spools had ids
            _set_state(tmp_path, {"seq": 3})
        receiver = _recreate(receiver, tmp_path)
        fresh = [f"fresh-{i}" for i in range(1, 6)]
        for delivery_id in fresh:
            assert _post(receiver, delivery_id) == b'{"status":"stored"}'

        refused = _run(tmp_path)
        assert refused.returncode != 0
        assert "recreated?" in refused.stderr and "clear the state" in refused.stderr, refused.stderr
        assert _spooled(tmp_path) == fresh  # nothing pruned
        assert _loaded(tmp_path) == ["old-1", "old-2", "old-3"]

        assert sluice(["state", "clear", "to-out"], tmp_path).returncode == 0
        assert _run(tmp_path).returncode == 0
        assert _loaded(tmp_path) == ["old-1", "old-2", "old-3", *fresh]
    finally:
        receiver.stop()


def test_a_retry_of_a_pruned_delivery_is_a_duplicate_within_dedupe_days(tmp_path: Path) -> None:
    config = _config(tmp_path, dedupe_days=3 / 86_400)  # ids of pruned deliveries kept 3 s
    _project(tmp_path, config)
    receiver = Receiver(tmp_path, config).start()
    try:
        for i in range(1, 4):
            _post(receiver, f"a-{i}")
        assert _run(tmp_path).returncode == 0
        _post(receiver, "b-1")
        assert _run(tmp_path).returncode == 0  # starts past a-1..3: prunes them
        assert _spooled(tmp_path) == ["b-1"]

        assert _post(receiver, "a-1") == b'{"status":"duplicate"}'  # the provider retries a-1
        assert _post(receiver, "b-1") == b'{"status":"duplicate"}'
        assert _run(tmp_path).returncode == 0
        assert _loaded(tmp_path) == ["a-1", "a-2", "a-3", "b-1"]

        time.sleep(3.5)  # past the window: the next run forgets a-1..3
        assert _run(tmp_path).returncode == 0
        assert _post(receiver, "a-2") == b'{"status":"stored"}'
    finally:
        receiver.stop()


def test_two_pipelines_reading_one_spool_each_get_every_delivery(tmp_path: Path) -> None:
    config = _config(tmp_path)
    _project(tmp_path, config, outs=("files", "copy"))
    receiver = Receiver(tmp_path, config).start()
    try:
        for i in range(1, 4):
            _post(receiver, f"a-{i}")
        assert _run(tmp_path, "to-files").returncode == 0
        assert _run(tmp_path, "to-copy").returncode == 0
        for i in range(1, 4):
            _post(receiver, f"b-{i}")
        every = ["a-1", "a-2", "a-3", "b-1", "b-2", "b-3"]
        for _ in range(2):  # these runs start past a-1..3 and b-1..3, which to-copy has not confirmed
            done = _run(tmp_path, "to-files")
            assert done.returncode == 0, done.stderr
        assert _spooled(tmp_path) == every
        done = _run(tmp_path, "to-copy")  # starts past a-1..3: now both pipelines have them
        assert done.returncode == 0, done.stderr
        assert _spooled(tmp_path) == every[3:]
        assert _loaded(tmp_path, "files") == every
        assert _loaded(tmp_path, "copy") == every
        assert _run(tmp_path, "to-copy").returncode == 0  # both have confirmed everything: all pruned
        assert _spooled(tmp_path) == []
        assert _loaded(tmp_path, "files") == _loaded(tmp_path, "copy") == every
    finally:
        receiver.stop()


def test_a_pipeline_left_behind_by_a_prune_fails_instead_of_missing_deliveries(tmp_path: Path) -> None:
    config = _config(tmp_path, reader_idle_days=2 / 86_400)  # a pipeline idle 2 s no longer holds the prune
    _project(tmp_path, config, outs=("files", "copy"))
    receiver = Receiver(tmp_path, config).start()
    try:
        _post(receiver, "a-1")
        assert _run(tmp_path, "to-files").returncode == 0
        assert _run(tmp_path, "to-copy").returncode == 0
        _post(receiver, "b-1")
        time.sleep(2.5)
        for _ in range(2):
            assert _run(tmp_path, "to-files").returncode == 0
        assert _spooled(tmp_path) == []  # to-copy was idle: b-1 pruned without it

        behind = _run(tmp_path, "to-copy")
        assert behind.returncode != 0
        assert "behind what" in behind.stderr and "b-1" not in _loaded(tmp_path, "copy"), behind.stderr
        assert _state(tmp_path, "to-copy")["seq"] == 1  # its state is not moved past what it never got
    finally:
        receiver.stop()


def test_a_body_orjson_refuses_is_a_string_whatever_its_batch_holds(tmp_path: Path) -> None:
    config = _config(tmp_path)
    _project(tmp_path, config)
    big = b'{"a":1' + b"0" * 400 + b".5}"  # a double overflows; no exponent
    receiver = Receiver(tmp_path, config).start()
    try:
        _post(receiver, "big-alone", big)
        assert _run(tmp_path).returncode == 0
        _post(receiver, "big-with-neighbour", big)
        _post(receiver, "neighbour", b'{"x":1e400}')
        assert _run(tmp_path).returncode == 0
        lines = (tmp_path / "out" / "gh.jsonl").read_text().splitlines()
        bodies = {r["delivery_id"]: r["body"] for r in map(json.loads, lines)}
        assert bodies == {"big-alone": big.decode(), "big-with-neighbour": big.decode(), "neighbour": '{"x":1e400}'}
    finally:
        receiver.stop()


def test_a_state_from_before_spool_ids_carries_on_over_the_spool_it_came_from(tmp_path: Path) -> None:
    """Upgrading: a spool an earlier receiver wrote gets its id when the new receiver opens it, at its
    position then, so the pipeline's old ``{"seq": N}`` state (N at most that) is read as before."""
    from tests.integration.webhook_tap.spool import deliveries, fill_sqlite

    fill_sqlite(tmp_path / "webhooks.db", deliveries(3))  # the old receiver's spool, no bookkeeping
    config = _config(tmp_path)
    _project(tmp_path, config)
    _set_state(tmp_path, {"seq": 2})  # the old tap's state: d-00000 and d-00001 loaded
    receiver = Receiver(tmp_path, config).start()
    try:
        _post(receiver, "new-1")
        done = _run(tmp_path)
        assert done.returncode == 0, done.stderr
        assert _loaded(tmp_path) == ["d-00002", "new-1"]
        assert _spooled(tmp_path) == ["d-00002", "new-1"]  # pruned what the old state covered
        assert _state(tmp_path)["seq"] == 4
    finally:
        receiver.stop()
