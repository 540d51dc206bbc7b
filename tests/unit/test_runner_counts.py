"""Emitted against committed counts: which shortfalls fail a run."""

from __future__ import annotations

import json
from pathlib import Path

from runner.counts import Shortfall, keyless_shortfalls, stream_keys
from runner.pumps import SideStats


def _stats(**counts: int) -> SideStats:
    stats = SideStats()
    for stream, n in counts.items():
        point = {"type": "counter", "metric": "record_count", "value": n, "tags": {"stream": stream}}
        stats.take("METRIC: " + json.dumps(point))
    return stats


def test_stream_keys_from_key_properties_or_metadata(tmp_path: Path) -> None:
    schema = {"type": "object", "properties": {"id": {"type": "integer"}}}
    cat = {"streams": [
        {"tap_stream_id": "public-a", "stream": "a", "schema": schema, "key_properties": []},
        {"tap_stream_id": "b", "schema": schema, "metadata": [{"breadcrumb": [], "metadata": {
            "table-key-properties": ["id"]}}]},
        {"tap_stream_id": "c", "schema": schema},
    ]}
    path = tmp_path / "cat.json"
    path.write_text(json.dumps(cat))
    assert stream_keys(path) == {"a": False, "public-a": False, "b": True, "c": False}
    assert stream_keys(None) == {}
    path.write_text("{not json")
    assert stream_keys(path) == {}


def test_only_keyless_shortfalls_count() -> None:
    keyed = {"a": False, "b": True, "d": False}
    found = keyless_shortfalls(_stats(a=10, b=10, c=10, d=5), _stats(a=7, b=3, c=1, d=5), keyed)
    assert found == [Shortfall("a", 10, 7)]
    assert keyless_shortfalls(_stats(a=10), _stats(), keyed) == []  # the target reported nothing
    assert keyless_shortfalls(_stats(a=10), _stats(x=1), keyed) == []  # renamed by a stream map
    assert keyless_shortfalls(_stats(a=10, d=3), _stats(x=1, d=2), keyed) == [Shortfall("d", 3, 2)]
    assert keyless_shortfalls(_stats(a=10), _stats(a=12), keyed) == []
