"""mapper-sluice with worker processes writes what it writes alone: the same bytes, the same error.

The inputs span many reads (256 KiB each), so blocks go to workers; SCHEMA, ACTIVATE_VERSION and
STATE lines fall inside blocks, a SCHEMA changes a stream's maps half-way (blocks already handed
out are mapped again), and lines that leave the fast path (integers past 64 bits, time_extracted,
blank lines, spaced JSON, a last line without a newline) are spread through them.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.maps.streams import ours, run, through_a_pause

_ORDERS = {"type": "object", "properties": {
    "id": {"type": "integer"}, "email": {"type": ["string", "null"]}, "total": {"type": ["number", "null"]},
    "note": {"type": ["string", "null"]}}}
_ORDERS_V2 = {"type": "object", "properties": {**_ORDERS["properties"], "tier": {"type": ["string", "null"]}}}
_EVENTS = {"type": "object", "properties": {"id": {"type": "integer"}, "kind": {"type": "string"}}}
MAPS: dict[str, Any] = {"stream_maps": {
    "orders": {"__alias__": "sales", "__filter__": "id % 7 != 3", "email": "sha256(email or '')",
               "note_len": "len(note or '')", "tier_upper": "str(record.get('tier', '')).upper()"},
    "events": {"kind": "kind + '!'"},
}}


def _schema(stream: str, schema: dict[str, Any]) -> str:
    return json.dumps({"type": "SCHEMA", "stream": stream, "schema": schema, "key_properties": ["id"]},
                      separators=(",", ":"))


def _order(i: int) -> str:
    record: dict[str, Any] = {"id": i, "email": f"user{i}@example.com", "total": round(i * 1.25, 2),
                              "note": "é\n\"q\"" * (i % 3)}
    if i % 101 == 0:
        record["id"] = 2**70 + i  # past 64 bits: the strict reader's exact parse
    if i % 997 == 0:
        return json.dumps({"type": "RECORD", "stream": "orders", "record": record})  # spaced
    line = json.dumps({"type": "RECORD", "stream": "orders", "record": record}, separators=(",", ":"))
    if i % 613 == 0:
        line = line[:-1] + ',"time_extracted":"2024-01-01T00:00:00Z"}'
    return line


def big_input(records: int = 30_000) -> bytes:
    lines = [_schema("orders", _ORDERS)]
    for i in range(1, records + 1):
        lines.append(_order(i))
        if i % 1_000 == 0:
            lines.append(json.dumps({"type": "STATE", "value": {"orders": i}}))
        if i % 4_999 == 0:
            lines.append("")  # a blank line
        if i == records // 3:  # a new stream half-way through a block
            lines.append(_schema("events", _EVENTS))
        if i > records // 3 and i % 50 == 0:
            lines.append(json.dumps({"type": "RECORD", "stream": "events", "record": {"id": i, "kind": "k"}}))
        if i == records // 2:  # the stream's maps change: a new property the map reads
            lines.append(_schema("orders", _ORDERS_V2))
            lines.append('{"type":"ACTIVATE_VERSION","stream":"orders","version":3}')
    return ("\n".join(lines)).encode()  # the last line has no newline


def _mapped(tmp: Path, config: dict[str, Any], data: bytes, workers: int) -> subprocess.CompletedProcess[bytes]:
    return run(ours(), {**config, "workers": workers}, tmp, data)


def test_workers_write_the_same_bytes(tmp_path: Path) -> None:
    data = big_input()
    assert len(data) > 8 * 256 * 1024
    alone = _mapped(tmp_path, MAPS, data, 1)
    assert alone.returncode == 0, alone.stderr.decode()
    for workers in (2, 3):
        together = _mapped(tmp_path, MAPS, data, workers)
        assert together.returncode == 0, together.stderr.decode()
        assert together.stdout == alone.stdout
    lines = alone.stdout.splitlines()
    assert sum(b'"tier_upper":""' in line for line in lines) > 1_000  # before the second SCHEMA
    assert sum(b'"stream":"events"' in line for line in lines) > 100
    assert sum(line.startswith(b'{"type":"SCHEMA","stream":"sales"') for line in lines) == 2


def test_a_failing_expression_is_the_same_error_after_the_same_states(tmp_path: Path) -> None:
    data = big_input()
    config = {"stream_maps": {"orders": {"x": "1 // (id - 20123)"}}}  # fails on record 20,123 only
    alone = _mapped(tmp_path, config, data, 1)
    together = _mapped(tmp_path, config, data, 2)
    assert alone.returncode == together.returncode == 1
    assert _error(alone) == _error(together)
    line = next(i for i, text in enumerate(data.split(b"\n"), 1) if b'"id":20123,' in text)
    assert f"line {line}, stream 'orders', field 'x'" in _error(together)
    states = [line for line in together.stdout.splitlines() if line.startswith(b'{"type":"STATE"')]
    assert states == [line for line in alone.stdout.splitlines() if line.startswith(b'{"type":"STATE"')]
    assert states[-1] == b'{"type":"STATE","value":{"orders":20000}}'
    # everything before the last STATE is out, as alone
    cut = together.stdout.index(states[-1])
    assert together.stdout[:cut] == alone.stdout[:cut]


def test_bad_input_in_a_block_names_its_line(tmp_path: Path) -> None:
    lines = big_input().split(b"\n")
    lines[12_345] = b'{"type":"RECORD","stream":"orders","record":{"id":1,'  # malformed, mid-input
    data = b"\n".join(lines)
    alone = _mapped(tmp_path, MAPS, data, 1)
    together = _mapped(tmp_path, MAPS, data, 2)
    assert alone.returncode == together.returncode == 1
    assert "line 12346: malformed JSON" in _error(together)
    assert _error(together) == _error(alone)


def test_a_small_input_starts_no_worker(tmp_path: Path) -> None:
    data = big_input(200)
    done = subprocess.run([*ours(), "--config", str(_config(tmp_path, {**MAPS, "workers": 4}))], input=data,
                          capture_output=True, env=_debug_env(), timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode()
    assert b"worker processes" not in done.stderr
    done = subprocess.run([*ours(), "--config", str(_config(tmp_path, {**MAPS, "workers": 2}))],
                          input=big_input(), capture_output=True, env=_debug_env(), timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode()
    assert b"mapping with 2 worker processes" in done.stderr


@pytest.mark.parametrize("workers", [0, "two", 1.5])
def test_workers_must_be_a_positive_whole_number(tmp_path: Path, workers: Any) -> None:
    done = _mapped(tmp_path, MAPS, b"", workers)
    assert done.returncode == 2
    assert "workers" in done.stderr.decode()


def _error(done: subprocess.CompletedProcess[bytes]) -> str:
    """The error line's text, without its time."""
    return done.stderr.decode().strip().splitlines()[-1].split(" | ", 2)[-1]


def _config(tmp: Path, config: dict[str, Any]) -> Path:
    path = tmp / "config.json"
    path.write_text(json.dumps(config))
    return path


def _debug_env() -> dict[str, str]:
    return {**os.environ, "SLUICE_LOG_LEVEL": "DEBUG"}


def test_a_pausing_tap_gets_its_state_through(tmp_path: Path) -> None:
    """Blocks handed to workers are written before the mapper waits for more input: the STATE a
    tap wrote before pausing reaches the target during the pause, not after it."""
    data = big_input()
    cut = data.index(b'{"type": "STATE", "value": {"orders": 20000}}\n') + 46
    config = _config(tmp_path, {**MAPS, "workers": 2})
    seen, _, code = through_a_pause([*ours(), "--config", str(config)], data[:cut],
                                    b'{"type":"STATE","value":{"orders":20000}}')
    assert seen.count(b'"type":"STATE"') == 20
    assert code == 0
