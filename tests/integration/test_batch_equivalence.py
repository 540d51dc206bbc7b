"""target-jsonl with and without the chunked fast path: the same files, states, exit codes, errors.

Random Singer streams, valid and broken (malformed and blank lines, records before their
schema, schema changes mid-stream, bad records and STATEs at random places), each fed to a
real target-jsonl process twice: once as is, once with ``SLUICE_FAST_PATH=0`` (the
reference, line by line).
"""

from __future__ import annotations

import json
import os
import random
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import exe, run, target_states

FAST_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["id"],
    "properties": {
        "id": {"type": "integer"}, "name": {"type": ["string", "null"]},
        "amount": {"type": ["number", "null"]}, "active": {"type": ["boolean", "null"]},
        "at": {"type": ["string", "null"], "format": "date-time"},
        "tags": {"type": ["array", "null"], "items": {"type": "string"}},
        "addr": {"type": ["object", "null"], "properties": {"zip": {"type": "string"}}},
    },
}
SLOW_SCHEMA: dict[str, Any] = {  # an enum: no fast type, records go line by line
    "type": "object", "properties": {"id": {"type": "integer"}, "kind": {"enum": ["x", "y"]}},
}


def _line(obj: Any) -> bytes:
    return orjson.dumps(obj) + b"\n"


def _fast_record(rng: random.Random, i: int, wider: bool) -> bytes:
    rec: dict[str, Any] = {"id": i, "name": rng.choice(["Ada", "Bo, Jr.", "Zoë", None, "a\"b"])}
    if rng.random() < 0.8:
        rec["at"] = rng.choice(["2023-07-04T18:01:41Z", "2024-02-29 00:00:00.123456+02:00", None])
    if rng.random() < 0.3:
        rec["tags"] = ["a", "b"][: rng.randint(0, 2)]
    if rng.random() < 0.2:
        rec["addr"] = {"zip": "0101"}
    if wider and rng.random() < 0.5:
        rec["extra"] = True
    text = orjson.dumps(rec)
    # an amount written as a producer wrote it: trailing zeros and long digit runs kept
    amount = rng.choice([b"2.50", b"12345678901234567.891", b"7", b"-0.10", b"null"])
    return b'{"type":"RECORD","stream":"a","record":' + text[:-1] + b',"amount":' + amount + b"}}\n"


# Each with what it must do: "error" (the run stops there), "record" (loaded) or "skip".
BAD_LINES = [
    (b'{"type":"RECORD","stream":"a","record":{"id":"x"}}\n', "error"),  # wrong type
    (b'{"type":"RECORD","stream":"a","record":{"name":"no id"}}\n', "error"),  # required missing
    (b'{"type":"RECORD","stream":"a","record":{"id":1,"at":"2023-02-30T00:00:00Z"}}\n', "error"),  # bad date
    (b'{"type":"RECORD","stream":"a","record":{"id":1.0}}\n', "record"),  # accepted by the full validator
    (b'{"type":"RECORD","stream":"a","record":{"id":2,"amount":1e400}}\n', "error"),  # out of range
    (b'{"type":"RECORD","stream":"a","record":{"id":3}\n', "error"),  # malformed
    (b'{"type":"RECORD","stream":"zzz","record":{"id":4}}\n', "error"),  # no schema
    (b"\n", "skip"),  # blank: skipped by both
    (b"garbage\n", "error"),
    (b'{"type": "RECORD", "stream": "a", "record": {"id": 5, "amount": 2.50}}\n', "record"),  # spaced JSON
]


def _stream(rng: random.Random) -> tuple[bytes, list[str]]:
    """A random stream, and what each of its lines must do ("error", "record", "state", "skip", "other")."""
    out: list[bytes] = []
    effects: list[str] = []
    if rng.random() < 0.1:
        out.append(b'{"type":"RECORD","stream":"a","record":{"id":0}}\n')  # before its schema
        effects.append("error")
    out.append(_line({"type": "SCHEMA", "stream": "a", "schema": FAST_SCHEMA, "key_properties": ["id"]}))
    out.append(_line({"type": "SCHEMA", "stream": "b", "schema": SLOW_SCHEMA, "key_properties": []}))
    effects += ["other", "other"]
    wider = False
    bad_rate = rng.choice([0.0, 0.0, 0.0005])
    count = rng.choice([5, 300, 3000])
    bad_at = rng.randrange(count) if rng.random() < 0.5 else -1  # one bad line, anywhere
    for i in range(count):
        roll = rng.random()
        if roll < bad_rate or i == bad_at:
            bad, effect = rng.choice(BAD_LINES)
            out.append(bad)
            effects.append(effect)
            continue
        if roll < 0.01:
            out.append(_line({"type": "STATE", "value": {"bookmarks": {"a": {"id": i}}}}))
        elif roll < 0.012:
            wider = not wider
            schema = orjson.loads(orjson.dumps(FAST_SCHEMA))
            if wider:
                schema["properties"]["extra"] = {"type": "boolean"}
            out.append(_line({"type": "SCHEMA", "stream": "a", "schema": schema, "key_properties": ["id"]}))
        elif roll < 0.013:
            out.append(_line({"type": "ACTIVATE_VERSION", "stream": "a", "version": i}))
        elif roll < 0.05:
            out.append(_line({"type": "RECORD", "stream": "b", "record": {"id": i, "kind": rng.choice("xy")}}))
        else:
            out.append(_fast_record(rng, i, wider))
        effects.append("state" if roll < 0.01 else "other" if roll < 0.013 else "record")
    out.append(_line({"type": "STATE", "value": {"done": True}}))
    effects.append("state")
    return b"".join(out), effects


def _expected(data: bytes, effects: list[str], echoed: list[Any]) -> dict[str, Any]:
    """What target-jsonl must leave, worked out from the lines alone (plain Python, stdlib json):
    the exit code, the line an error names, and per file the records it may hold ("upto": all
    records before the bad line, in order) and must hold ("covered": those before the last
    STATE echoed). A run that succeeds holds every record."""
    lines = data.splitlines(keepends=True)
    assert len(lines) == len(effects)
    error = next((n for n, effect in enumerate(effects, 1) if effect == "error"), None)
    upto = len(lines) if error is None else error - 1
    states = [(n, json.loads(lines[n - 1])["value"]) for n in range(1, upto + 1) if effects[n - 1] == "state"]
    # the STATEs echoed are STATEs before the bad line, in order
    positions = [n for n, value in states if value in echoed]
    assert [value for n, value in states if n in positions] == echoed, (echoed, states)
    covered = upto if error is None else (positions[-1] if positions else 0)
    files: dict[str, list[Any]] = {}
    counts: dict[str, int] = {}
    for n in range(1, upto + 1):
        if effects[n - 1] == "record":
            message = json.loads(lines[n - 1], parse_float=Decimal)
            name = f"{message['stream']}.jsonl"
            files.setdefault(name, []).append(message["record"])
            if n <= covered:
                counts[name] = counts.get(name, 0) + 1
    return {"code": 0 if error is None else 1, "error_line": error, "upto": files, "covered": counts,
            "last_state": states[-1][1] if states and error is None else None}


_STAMP = re.compile(rb"^\S+ \S+ \| ")


def _outcome(tmp: Path, data: bytes, config: dict[str, Any], fast: bool) -> dict[str, Any]:
    out = tmp / ("fast" if fast else "slow")
    out.mkdir()
    cfg = out / "config.json"
    cfg.write_bytes(orjson.dumps({**config, "destination_path": str(out / "files")}))
    env = {**os.environ, "SLUICE_FAST_PATH": "1" if fast else "0"}
    result = run([exe("target-jsonl"), "--config", str(cfg)], input=data, env=env)
    files = {}
    for path in sorted((out / "files").glob("*.jsonl")) if (out / "files").exists() else []:
        files[path.name] = [orjson.loads(row) for row in path.read_bytes().splitlines()]
    messages = [
        _STAMP.sub(b"", row) for row in result.stderr.splitlines()
        if b"ERROR" in row or b"record_count" in row
    ]
    exact = {name: [json.loads(row, parse_float=Decimal) for row in raw.splitlines()]
             for name, raw in ((p.name, p.read_bytes()) for p in sorted((out / "files").glob("*.jsonl")))
             } if (out / "files").exists() else {}
    return {"code": result.returncode, "states": target_states(result.stdout), "files": files, "exact": exact,
            "messages": messages, "raw": {p.name: p.read_bytes() for p in (out / "files").glob("*.jsonl")}
            if (out / "files").exists() else {}}


@pytest.mark.parametrize("seed", range(30))
def test_fast_path_gives_what_the_line_reader_gives(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    data, effects = _stream(rng)
    config = {"batch_size_rows": rng.choice([1, 7, 100, 100_000]),
              "state_flush_seconds": rng.choice([0, 1e9])}
    fast = _outcome(tmp_path, data, config, fast=True)
    slow = _outcome(tmp_path, data, config, fast=False)
    assert fast["code"] == slow["code"]
    assert fast["messages"] == slow["messages"]
    assert fast["states"] == slow["states"]
    assert fast["files"] == slow["files"]
    # and both are what the lines say, worked out without either reader
    expected = _expected(data, effects, slow["states"])
    assert fast["code"] == expected["code"]
    if expected["error_line"] is not None:
        errors = [m for m in fast["messages"] if b"ERROR" in m]
        assert len(errors) == 1 and re.search(rb"\| line %d[,:]" % expected["error_line"], errors[0]), errors
    else:
        assert fast["states"][-1] == expected["last_state"] == {"done": True}
    for outcome in (fast, slow):
        files = {name: rows for name, rows in outcome["exact"].items() if rows}
        assert set(files) <= set(expected["upto"])
        for name, rows in expected["upto"].items():
            held = files.get(name, [])
            assert held == rows[:len(held)], name  # the exact records, in order, no gap
            assert len(held) >= expected["covered"].get(name, 0), name
            if expected["code"] == 0:
                assert len(held) == len(rows), name
    written = fast["raw"].get("a.jsonl", b"")
    if fast["code"] == 0 and b'"amount":2.50' in data:
        # the fast path wrote the record bytes as received; the line path renders 2.5
        assert b'"amount":2.50' in written
        assert b'"amount":2.50' not in slow["raw"].get("a.jsonl", b"")
