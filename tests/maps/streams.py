"""Canned Singer input for the stream-map tests: five streams, nested objects, nulls, unicode,
integers past 64 bits, decimals past a float's digits and with trailing zeros, STATE and
ACTIVATE_VERSION lines."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.conftest import exe

HERE = Path(__file__).resolve().parent
REFERENCE = HERE / "sdk_reference_mapper.py"

USERS_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "email": {"type": ["string", "null"]},
        "name": {"type": "string"},
        "ssn": {"type": ["string", "null"]},
        "age": {"type": ["integer", "null"]},
        "score": {"type": ["number", "null"]},
        "big": {"type": "integer"},
        "amount": {"type": "number"},
        "created_at": {"type": "string", "format": "date-time"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "address": {
            "type": ["object", "null"],
            "properties": {
                "city": {"type": "string"},
                "geo": {"type": "object", "properties": {"lat": {"type": "number"}, "lon": {"type": "number"},
                                                          "meta": {"type": "object",
                                                                   "properties": {"src": {"type": "string"}}}}},
                "lines": {"type": "array", "items": {"type": "string"}},
            },
        },
        "prefs": {"type": "object"},
    },
    "required": ["id", "ssn"],
}
ORDERS_SCHEMA = {
    "type": "object",
    "properties": {"id": {"type": "integer"}, "user_id": {"type": "integer"}, "total": {"type": "number"},
                   "status": {"type": "string"}},
}
LONG = "a_rather_long_property_name_" * 5  # 140 characters: two levels of it flatten past 255
ODD_SCHEMA = {"type": "object", "properties": {
    "id": {"type": "integer"},
    "choice": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    # its first key is not the anyOf: both engines make it a nullable string (SDK: the first value is
    # no list; ours: the string branch); anyOf integer first, which they flatten apart, is in
    # test_sdk_differences.py
    "options": {"description": "a count", "anyOf": [{"type": "string"}, {"type": "null"}]},
    "loose": {},
    "described": {"description": "no type"},
    LONG: {"type": "object", "properties": {LONG: {"type": "string"}, "short_one": {"type": "integer"}}},
}}
EVENTS_SCHEMA = {"type": "object", "properties": {"kind": {"type": "string"}, "payload": {"type": "string"}}}
PRICES_SCHEMA = {"type": "object", "properties": {
    "id": {"type": "integer"}, "price": {"type": "number"}, "qty": {"type": "integer"},
    "box": {"type": ["object", "null"], "properties": {"inner": {"type": "object", "properties": {
        "w": {"type": "number"}}}}},
}}

_USERS = [
    '{"id": 1, "email": "Ada@Example.com", "name": "Ada Lovelace", "ssn": "111-22-3333", "age": 36, '
    '"score": 9.5, "big": 18446744073709551617, "amount": 12345678901234567890.123456789, '
    '"created_at": "2024-01-02T03:04:05+00:00", "tags": ["math", "poet"], '
    '"address": {"city": "London", "geo": {"lat": 51.5, "lon": -0.12, "meta": {"src": "gps"}}, '
    '"lines": ["12 St James", "Flat 2"]}, "prefs": {"theme": "dark", "n": [1, 2]}}',
    '{"id": 2, "email": null, "name": "Zoë Ünïcødé 漢字", "ssn": null, "age": null, "score": null, '
    '"big": -99999999999999999999999, "amount": 0.1, "created_at": "2023-12-31T23:59:59+00:00", '
    '"tags": [], "address": null, "prefs": {}}',
    '{"id": 3, "email": "grace@navy.mil", "name": "Grace", "ssn": "999-88-7777", "age": 85, "score": 7.25, '
    '"big": 42, "amount": 3.5, "created_at": "2020-06-15T12:00:00+00:00", "tags": ["cobol"], '
    '"address": {"city": "Arlington", "geo": {"lat": 38.88, "lon": -77.1, "meta": {"src": "map"}}, "lines": []}, '
    '"prefs": {"emoji": "\\ud83d\\ude00"}}',
]
_ORDERS = ['{"id": 10, "user_id": 1, "total": 19.99, "status": "paid"}',
           '{"id": 11, "user_id": 3, "total": 5, "status": "open"}']
_ODD = [json.dumps({"id": 1, "choice": "b", "options": "3", "loose": {"k": [1, "ü"]}, "described": 5,
                    LONG: {LONG: "deep", "short_one": 1}}),
        json.dumps({"id": 2, "choice": None, "options": None, "loose": None, "described": None,
                    LONG: None})]
# decimals written with trailing zeros or an exponent, on lines without a long digit run: their text is
# what str(), an f-string or flattening's JSON text shows (singer-sdk reads each as a Decimal of its text)
_PRICES = ['{"id": 1, "price": 2.50, "qty": 3, "box": {"inner": {"w": 0.50}}}',
           '{"id": 2, "price": 1e5, "qty": 1, "box": {"inner": {"w": -0.0}}}',
           '{"id": 3, "price": 19.90, "qty": 2, "box": null}']
_EVENTS = ['{"kind": "click", "payload": "a"}', '{"kind": "click", "payload": "a"}',
           '{"kind": "view", "payload": "b"}']


def _schema(stream: str, schema: dict[str, Any], keys: list[str]) -> str:
    return json.dumps({"type": "SCHEMA", "stream": stream, "schema": schema, "key_properties": keys})


def _records(stream: str, bodies: list[str]) -> list[str]:
    return [f'{{"type": "RECORD", "stream": "{stream}", "record": {body}}}' for body in bodies]


def input_lines() -> bytes:
    lines = [
        _schema("users", USERS_SCHEMA, ["id"]),
        _schema("orders", ORDERS_SCHEMA, ["id"]),
        _schema("events", EVENTS_SCHEMA, []),
        _schema("odd", ODD_SCHEMA, ["id"]),
        _schema("prices", PRICES_SCHEMA, ["id"]),
        '{"type": "ACTIVATE_VERSION", "stream": "users", "version": 7}',
        *_records("users", _USERS[:2]),
        '{"type": "STATE", "value": {"bookmarks": {"users": {"id": 2}}}}',
        *_records("orders", _ORDERS),
        *_records("users", _USERS[2:]),
        *_records("events", _EVENTS),
        *_records("odd", _ODD),
        *_records("prices", _PRICES),
        '{"type": "STATE", "value": {"bookmarks": {"users": {"id": 3}, "orders": {"id": 11}}}}',
    ]
    return ("\n".join(lines) + "\n").encode()


def run(program: list[str], config: dict[str, Any], tmp: Path, data: bytes | None = None
        ) -> subprocess.CompletedProcess[bytes]:
    path = tmp / "maps.json"
    path.write_text(json.dumps(config))
    return subprocess.run([*program, "--config", str(path)], input=input_lines() if data is None else data,
                          capture_output=True, timeout=120, check=False)


def ours() -> list[str]:
    return [exe("mapper-sluice")]


def reference() -> list[str]:
    return [sys.executable, str(REFERENCE)]


def parsed(stdout: bytes) -> list[dict[str, Any]]:
    """The output lines as values to compare: numbers exact, empty optional fields dropped."""
    out = []
    for line in stdout.decode().splitlines():
        msg = json.loads(line, parse_float=Decimal)
        if msg.get("type") == "SCHEMA":
            msg["key_properties"] = msg.get("key_properties") or []
            if not msg.get("bookmark_properties"):
                msg.pop("bookmark_properties", None)
        out.append({k: v for k, v in msg.items() if v is not None})
    return out


def through_a_pause(argv: list[str], data: bytes, wanted: bytes, env: dict[str, str] | None = None
                    ) -> tuple[bytes, bytes, int]:
    """Write ``data`` to the program and keep its input open, as a tap pausing: ``wanted`` must come out
    on its stdout during the pause (20 s at most). Then the input is closed: (its stdout up to
    ``wanted`` and a little more, its stderr, its exit code)."""
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    stdin, stderr = proc.stdin, [b""]
    errors = threading.Thread(target=lambda: stderr.__setitem__(0, proc.stderr.read()))  # type: ignore[union-attr]
    writer = threading.Thread(target=lambda: (stdin.write(data), stdin.flush()))  # and the tap pauses
    errors.start()
    writer.start()
    try:
        deadline = time.monotonic() + 20
        seen = b""
        while wanted not in seen:
            ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
            assert ready, f"{wanted!r}, written before the pause, did not come out during it"
            chunk = os.read(proc.stdout.fileno(), 1 << 20)
            assert chunk, "the program ended"
            seen += chunk
    finally:
        writer.join()
        stdin.close()
        proc.stdout.read()
        proc.stdout.close()
        proc.wait(timeout=60)
        errors.join()
        proc.stderr.close()
    return seen, stderr[0], proc.returncode
