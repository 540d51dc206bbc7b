"""mapper-sluice with workers and SCHEMAs in the middle of the input: the same bytes as one process,
and no work thrown away for a SCHEMA that changes nothing.

singer-sdk taps send a stream's SCHEMA again per partition or parent record: the workers map such
a SCHEMA themselves and go on (an ACTIVATE_VERSION too). A changed SCHEMA reaches every worker,
and only the blocks handed out that may hold a line of its stream (its name in quotes, or written
with ``\\u`` escapes) are mapped again. The DEBUG line at the end counts what happened; the input
is read with ``--input`` from a file, so the blocks (256 KiB each) and the blocks handed out at
each SCHEMA are the same on every run.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from protocol._lines import line_blocks
from protocol.maps._program import READ_BYTES
from tests.maps.streams import ours

_A: dict[str, Any] = {"type": "object", "properties": {"id": {"type": "integer"}, "v": {"type": ["string", "null"]}}}
_A_V2: dict[str, Any] = {"type": "object", "properties": {**_A["properties"], "w": {"type": ["string", "null"]}}}
MAPS: dict[str, Any] = {"stream_maps": {"a": {"v": "v.upper()", "w_len": "len(record.get('w') or '')"}},
                        "flattening_enabled": True, "flattening_max_depth": 1}
_COUNTS = re.compile(rb"(\d+) stopped in, (\d+) changed SCHEMAs sent to every worker, (\d+) blocks mapped again")


def _schema(stream: str, schema: dict[str, Any], *, spaced: bool = False, keys: tuple[str, ...] = ("id",)) -> str:
    if spaced:  # the same SCHEMA written another way: keys and properties in another order, spaces
        props = dict(reversed(list(schema["properties"].items())))
        return json.dumps({"stream": stream, "key_properties": list(keys), "type": "SCHEMA",
                           "schema": {"properties": props, "type": "object"}})
    return json.dumps({"type": "SCHEMA", "stream": stream, "schema": schema, "key_properties": list(keys)},
                      separators=(",", ":"))


def _b_schema(version: int) -> dict[str, Any]:
    """Stream b's SCHEMA, version ``version``: ``o`` is a string in even versions and an object in odd
    ones, so a record of b flattens differently under each."""
    o: dict[str, Any] = {"type": ["string", "null"]}
    if version % 2:
        o = {"type": ["object", "null"], "properties": {"x": {"type": ["integer", "null"]}}}
    return {"type": "object", "properties": {"id": {"type": "integer"}, "o": o, f"p{version}": {"type": "string"}}}


def _a(i: int) -> str:
    return json.dumps({"type": "RECORD", "stream": "a", "record": {"id": i, "v": f"v{i}", "w": "w" * (i % 5)}},
                      separators=(",", ":"))


def _b(i: int, stream: str = '"b"') -> str:
    return f'{{"type":"RECORD","stream":{stream},"record":{{"id":{i},"o":{{"x":{i}}}}}}}'


def _mapped(tmp: Path, data: bytes, workers: int) -> subprocess.CompletedProcess[bytes]:
    (tmp / "input.jsonl").write_bytes(data)
    (tmp / "maps.json").write_text(json.dumps({**MAPS, "workers": workers}))
    done = subprocess.run([*ours(), "--config", str(tmp / "maps.json"), "--input", str(tmp / "input.jsonl")],
                          capture_output=True, env={**os.environ, "SLUICE_LOG_LEVEL": "DEBUG"}, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr.decode()
    return done


def _counts(done: subprocess.CompletedProcess[bytes]) -> tuple[int, int, int]:
    """(blocks a worker stopped in, changed SCHEMAs sent to every worker, blocks mapped again)."""
    found = _COUNTS.search(done.stderr)
    assert found, done.stderr.decode()[-2000:]
    stopped, schemas, again = (int(g) for g in found.groups())
    return stopped, schemas, again


def _resent_input(records: int = 40_000, *, new_keys_from: int = -1) -> bytes:
    """Stream a's SCHEMA sent again every 300 records; from record ``new_keys_from`` on (when not -1),
    with other key properties."""
    lines = [_schema("b", _b_schema(1))]
    for i in range(records):
        if i % 300 == 0:  # the tap sends the SCHEMA again (every other time written another way)
            keys = ("v", "id") if 0 <= new_keys_from <= i else ("id",)
            lines.append(_schema("a", _A, spaced=(i // 300) % 2 == 1, keys=keys))
        lines.append(_a(i))
        if i % 500 == 0:
            lines.append(json.dumps({"type": "STATE", "value": {"a": i}}))
        if i % 4_000 == 7:
            lines += [_schema("b", _b_schema(1), spaced=True), _b(i)]
        if i % 3_000 == 11:
            lines.append(json.dumps({"type": "ACTIVATE_VERSION", "stream": "a", "version": i}))
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("workers", [2, 4])
def test_a_schema_sent_again_is_mapped_by_the_workers(tmp_path: Path, workers: int) -> None:
    data = _resent_input()
    assert len(data) > 8 * READ_BYTES
    alone = _mapped(tmp_path, data, 1)
    together = _mapped(tmp_path, data, workers)
    assert together.stdout == alone.stdout
    sent = data.count(b'"SCHEMA"')
    assert alone.stdout.count(b'{"type":"SCHEMA"') == sent > 140  # each written through, in its place
    assert alone.stdout.count(b'{"type":"ACTIVATE_VERSION","stream":"a"') == 14
    # no worker stopped at a line, no SCHEMA was sent to every worker, no block was mapped twice
    assert _counts(together) == (0, 0, 0)


def test_a_schema_with_other_key_properties_is_a_change(tmp_path: Path) -> None:
    data = _resent_input(new_keys_from=20_100)
    alone = _mapped(tmp_path, data, 1)
    together = _mapped(tmp_path, data, 2)
    assert together.stdout == alone.stdout
    assert alone.stdout.count(b'"key_properties":["v","id"]') == len(range(20_100, 40_000, 300))
    assert _counts(together)[1] == 1  # sent to every worker once, the first time


def _changing_input() -> tuple[bytes, dict[int, str]]:
    """Stream a throughout (16 blocks); what happens in some blocks, a third into each: stream b's
    SCHEMA changes and two records of b follow, or a record of b names its stream ``"\\u0062"``,
    or stream a's SCHEMA changes. The blocks, and what happens in each."""
    events = {2: "b", 6: "b", 7: "escaped", 10: "a", 12: "b"}
    lines = [_schema("a", _A), _schema("b", _b_schema(0))]
    size = sum(len(line) + 1 for line in lines)
    version, i = 0, 0
    while size < 16 * READ_BYTES - 1_000:
        block, offset = divmod(size, READ_BYTES)
        more = [_a(i)]
        if events.get(block) and offset > READ_BYTES // 3:
            event = events[block]
            if event == "b":
                version += 1
                more = [_schema("b", _b_schema(version)), _b(i), _b(i + 1), *more]
            elif event == "escaped":
                more = [_b(i, '"\\u0062"'), *more]
            else:
                more = [_schema("a", _A_V2), *more]
            events[block] = ""  # done
        lines += more
        size += sum(len(line) + 1 for line in more)
        i += 1
    data = ("\n".join(lines) + "\n").encode()
    return data, {0: "b", 2: "b", 6: "b", 7: "escaped", 10: "a", 12: "b"}


def _blocks_with(data: bytes, needle: bytes) -> set[int]:
    blocks = line_blocks(io.BytesIO(data), 1 << 30, READ_BYTES)
    return {k for k, (block, cut) in enumerate(blocks) if needle in block[:cut]}


@pytest.mark.parametrize("workers", [2, 4])
def test_a_changed_schema_maps_again_only_the_blocks_of_its_stream(tmp_path: Path, workers: int) -> None:
    data, events = _changing_input()
    # the layout the counts below rely on: b's lines only where it happens, a's SCHEMA changes in block 10
    assert _blocks_with(data, b'"b"') == {k for k, event in events.items() if event == "b"}
    assert _blocks_with(data, b'"\\u0062"') == {7}
    assert _blocks_with(data, json.dumps(_A_V2, separators=(",", ":")).encode()) == {10}
    alone = _mapped(tmp_path, data, 1)
    together = _mapped(tmp_path, data, workers)
    assert together.stdout == alone.stdout
    assert alone.stdout.count(b'"o__x"') > 2 and alone.stdout.count(b'"o":"{') > 2  # b's records differ by SCHEMA
    assert alone.stdout.count(b'"w_len":') > 1_000
    stopped, schemas, again = _counts(together)
    assert (stopped, schemas) == (4, 4)  # the blocks where b's SCHEMA changes (3) and a's (1)
    # a's change: every block handed out after it (workers - 1); b's changes: only block 7, which
    # names b with an escape (handed out when block 6 changes b's SCHEMA); never the others
    assert again == (workers - 1) + 1
