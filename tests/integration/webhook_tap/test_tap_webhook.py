"""tap-webhook as a program over an SQLite spool filled per the contract's schema: discovery, the
catalog, the state and pruning, --test, stream maps, and what a record holds."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import exe, run
from tests.integration.webhook_tap.spool import body_value, deliveries, fill_sqlite, spooled_ids
from tests.tapio import TapResult, run_tap


class Out(TapResult):
    exact_numbers = True


def _config(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return {"spool": {"path": str(tmp_path / "webhooks.db")},
            "sources": {"gh": {"provider": "github", "secrets": ["a"]},
                        "shop": {"provider": "hmac", "secrets": ["b"], "streams": "event_type"}}, **extra}


def _spool(tmp_path: Path) -> None:
    fill_sqlite(tmp_path / "webhooks.db", deliveries(12) + deliveries(12, source="shop", start=100))


def _exact(value: Any) -> Any:
    """A record's value with integers as Decimal, as the oracle parses them (floats are already)."""
    if isinstance(value, dict):
        return {k: _exact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_exact(v) for v in value]
    return Decimal(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _stdout_is_singer(done: TapResult) -> None:
    for line in done.stdout.splitlines():
        assert json.loads(line)["type"] in ("SCHEMA", "RECORD", "STATE")


def test_records_hold_each_delivery_and_state_is_the_spool_position(tmp_path: Path) -> None:
    _spool(tmp_path)
    done = run_tap("tap-webhook", tmp_path, _config(tmp_path), result=Out)
    _stdout_is_singer(done)
    sent = {d.delivery_id: d for d in deliveries(12)}
    records = done.records("gh")
    assert [r["delivery_id"] for r in records] == sorted(sent)
    for r in records:
        d = sent[r["delivery_id"]]
        assert _exact(r["body"]) == body_value(d.body), d.delivery_id
        assert r["event_type"] == d.event_type and r["headers"] == d.headers
        at = datetime.fromisoformat(r["received_at"])
        assert at.tzinfo == UTC and abs(at.timestamp() - d.received_at) < 1e-5
    assert done.schema("gh")["key_properties"] == ["delivery_id"]
    assert done.state["seq"] == 24 and set(done.state) == {"seq", "spool", "reader"}


def test_discover_lists_each_source_and_the_event_types_spooled(tmp_path: Path) -> None:
    empty = run_tap("tap-webhook", tmp_path, _config(tmp_path), "--discover", result=Out)
    assert [s["stream"] for s in json.loads(empty.stdout)["streams"]] == ["gh"]  # no spool yet
    _spool(tmp_path)
    done = run_tap("tap-webhook", tmp_path, _config(tmp_path), "--discover", result=Out)
    streams = json.loads(done.stdout)["streams"]
    assert sorted(s["stream"] for s in streams) == ["gh", "shop__invoice_paid", "shop__issues", "shop__none",
                                              "shop__pull_request", "shop__push", "shop__push_hook"]
    assert all(s["key_properties"] == ["delivery_id"] for s in streams)
    synced = run_tap("tap-webhook", tmp_path, _config(tmp_path), result=Out)
    by_event = {d.delivery_id: d.event_type for d in deliveries(12, source="shop", start=100)}
    for s in streams[1:]:
        for r in synced.records(s["stream"]):
            assert s["stream"] == "shop__" + (by_event[r["delivery_id"]] or "none").lower().replace(" ", "_") \
                .replace(".", "_")


def test_catalog_drops_deselected_streams_and_fields(tmp_path: Path) -> None:
    _spool(tmp_path)
    catalog = json.loads(run_tap("tap-webhook", tmp_path, _config(tmp_path), "--discover", result=Out).stdout)
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            if entry["stream"] == "shop__push" and item["breadcrumb"] == []:
                item["metadata"]["selected"] = False
            if entry["stream"] == "gh" and item["breadcrumb"] in (["properties", "headers"],
                                                                  ["properties", "body"]):
                item["metadata"]["selected"] = False
    done = run_tap("tap-webhook", tmp_path, _config(tmp_path), catalog=catalog, result=Out)
    assert not done.records("shop__push") and done.records("shop__issues")
    assert "shop__push" not in {m.get("stream") for m in done.messages}
    gh = done.records("gh")
    assert len(gh) == 12 and all(set(r) == {"delivery_id", "received_at", "event_type"} for r in gh)
    assert set(done.schema("gh")["schema"]["properties"]) == {"delivery_id", "received_at", "event_type"}


def test_a_new_event_type_after_discovery_is_synced(tmp_path: Path) -> None:
    _spool(tmp_path)
    catalog = json.loads(run_tap("tap-webhook", tmp_path, _config(tmp_path), "--discover", result=Out).stdout)
    fill_sqlite(tmp_path / "webhooks.db", [d.__class__(**{**d.__dict__, "event_type": "refund.created"})
                                           for d in deliveries(2, source="shop", start=500)])
    done = run_tap("tap-webhook", tmp_path, _config(tmp_path), catalog=catalog, result=Out)
    assert len(done.records("shop__refund_created")) == 2
    assert done.schema("shop__refund_created")["key_properties"] == ["delivery_id"]


def test_state_resumes_after_its_position_and_prunes_only_up_to_it(tmp_path: Path) -> None:
    _spool(tmp_path)
    spool = tmp_path / "webhooks.db"
    everything = spooled_ids(spool)
    done = run_tap("tap-webhook", tmp_path, _config(tmp_path), state={"seq": 5}, result=Out)
    sent = [r["delivery_id"] for m in done.messages if m["type"] == "RECORD" for r in [m["record"]]]
    assert sorted(sent) == sorted(everything[5:])
    assert spooled_ids(spool) == everything[5:]  # 1..5 were covered by the state the run started from
    assert done.state["seq"] == 24  # a state from before spool ids carries on, with this spool's ids
    again = run_tap("tap-webhook", tmp_path, _config(tmp_path), state={"bookmarks": {}, **done.state}, result=Out)
    assert not [m for m in again.messages if m["type"] == "RECORD"] and again.state == done.state
    assert spooled_ids(spool) == []
    fill_sqlite(spool, deliveries(3, start=40))
    more = run_tap("tap-webhook", tmp_path, _config(tmp_path), state=again.state, result=Out)
    assert [r["delivery_id"] for r in more.records("gh")] == ["d-00040", "d-00041", "d-00042"]
    assert more.state == {**done.state, "seq": 27}


@pytest.mark.parametrize("state", [{"seq": 99}, {"seq": -1}, {"seq": "3"}])
def test_a_state_the_spool_cannot_have_is_refused_and_nothing_is_pruned(tmp_path: Path, state: Any) -> None:
    _spool(tmp_path)
    done = run_tap("tap-webhook", tmp_path, _config(tmp_path), state=state, result=Out, ok=False)
    assert done.code == 2 and not done.stdout.strip(b"\n").count(b'"RECORD"')
    assert (len(done.stderr.strip().splitlines()) == 1 and "seq" in done.stderr) or "position" in done.stderr
    assert len(spooled_ids(tmp_path / "webhooks.db")) == 24


def test_test_flag_reports_the_spool_or_its_absence(tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text(json.dumps(_config(tmp_path)))
    missing = run([exe("tap-webhook"), "--config", str(tmp_path / "c.json"), "--test"])
    assert missing.returncode == 1 and b"does not exist" in missing.stderr
    assert not (tmp_path / "webhooks.db").exists()  # the tap never creates the receiver's spool
    _spool(tmp_path)
    done = run([exe("tap-webhook"), "--config", str(tmp_path / "c.json"), "--test"])
    assert done.returncode == 0 and done.stdout == b""
    assert b"24 deliveries spooled (positions 1 to 24)" in done.stderr


def test_stream_maps_and_flattening_apply_to_webhook_records(tmp_path: Path) -> None:
    _spool(tmp_path)
    about = json.loads(run([exe("tap-webhook"), "--about", "--format", "json"]).stdout)
    assert {"stream-maps", "schema-flattening"} <= set(about["capabilities"])
    maps = {"stream_maps": {"gh": {"__alias__": "github", "kind": "'github'", "event_type": None},
                            "shop__push": None},
            "flattening_enabled": True, "flattening_max_depth": 1}
    done = run_tap("tap-webhook", tmp_path, _config(tmp_path, **maps), result=TapResult)
    assert not done.records("gh") and not done.records("shop__push")
    records = done.records("github")
    assert len(records) == 12
    for r, d in zip(records, deliveries(12), strict=True):
        assert set(r) == {"delivery_id", "received_at", "headers", "body", "kind"} and r["kind"] == "github"
        assert json.loads(r["headers"]) == d.headers  # flattened below depth 1: JSON text
        assert r["body"] is None or isinstance(r["body"], str)


def test_received_at_rounds_to_the_microsecond_across_a_second(tmp_path: Path) -> None:
    d = deliveries(1)[0]
    fill_sqlite(tmp_path / "webhooks.db", [d.__class__(**{**d.__dict__, "received_at": 1_764_900_059.9999996}),
                                           d.__class__(**{**d.__dict__, "delivery_id": "x", "received_at": 0.5})])
    done = run_tap("tap-webhook", tmp_path, _config(tmp_path), result=Out)
    assert [r["received_at"] for r in done.records("gh")] == ["2025-12-05T02:01:00.000000Z",
                                                              "1970-01-01T00:00:00.500000Z"]


def test_an_unknown_nested_setting_is_a_warning_unless_strict(tmp_path: Path) -> None:
    """docs/unknown-settings.md: "it is ignored (set strict_settings to make this an error)" means a
    run that goes on; strict_settings makes it exit 2."""
    _spool(tmp_path)
    config = _config(tmp_path)
    config["spool"]["dedup_days"] = 3
    config["sources"]["gh"]["keep_header"] = ["a"]
    done = run_tap("tap-webhook", tmp_path, config, result=Out)
    assert "unknown setting 'spool.dedup_days' (did you mean 'dedupe_days'?); it is ignored" in done.stderr
    assert "unknown setting 'sources.gh.keep_header' (did you mean 'keep_headers'?)" in done.stderr
    assert len(done.records("gh")) == 12
    strict = run_tap("tap-webhook", tmp_path, {**config, "strict_settings": True}, result=Out, ok=False)
    assert strict.code == 2 and "unknown setting 'spool.dedup_days'" in strict.stderr
