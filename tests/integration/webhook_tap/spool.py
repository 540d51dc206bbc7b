"""Spools for tap-webhook's tests, written directly in the contract's schema (taps/webhook/spool.py
is the receiver's writer; these tests fill spools the way any writer must), and varied deliveries
with an independent oracle of what each body becomes in a record."""

from __future__ import annotations

import base64
import json
import random
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from taps.webhook.spool import SCHEMA  # the receiver's table: one definition for both sides

EVENTS = ("push", "issues", "pull_request", "Push Hook", "invoice.paid", None)


@dataclass(frozen=True)
class Delivery:
    source: str
    delivery_id: str
    event_type: str | None
    received_at: float
    headers: dict[str, str]
    body: bytes


def body_value(body: bytes) -> Any:
    """What a record's body must be, decided here with the standard library (not the tap's code):
    the parsed JSON (numbers as Decimal: exact), else the text, else ``base64:`` and the bytes."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(body).decode()
    try:
        value = json.loads(text, parse_constant=_refuse, parse_float=Decimal, parse_int=Decimal)
    except (ValueError, RecursionError):
        return text
    if _overflows(value):
        return text
    return value


def exact(text: str) -> Any:
    """JSON text parsed with every number exact (how a body read back from a database compares)."""
    return json.loads(text, parse_float=Decimal, parse_int=Decimal)


def _refuse(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _overflows(value: Any) -> bool:
    if isinstance(value, Decimal):
        return abs(value) > Decimal("1.7976931348623157e308")  # a double's largest value
    if isinstance(value, dict):
        return any(_overflows(v) for v in value.values())
    if isinstance(value, list):
        return any(_overflows(v) for v in value)
    return False


def varied_body(rnd: random.Random, i: int) -> bytes:
    """Bodies of the shapes webhooks send, and a few that are not JSON at all."""
    kind = i % 9
    doc = {"action": rnd.choice(["opened", "closed", "édité", "削除"]), "number": i,
           "sha": f"{rnd.getrandbits(160):040x}", "amount": rnd.randint(-10**6, 10**6) / 100,
           "nested": {"labels": [{"name": f"l{j}"} for j in range(rnd.randint(0, 3))], "ok": i % 2 == 0},
           "text": "line one\nline two \"quoted\" \\ tab\t"}
    if kind == 0:
        return json.dumps(doc, indent=2).encode()  # pretty: raw line breaks between tokens
    if kind == 1:
        return json.dumps(doc, ensure_ascii=False).encode()
    if kind == 2:
        return json.dumps([doc, None, True, 1e-5]).encode()
    if kind == 3:
        return b"payload=%7B%22a%22%3A1%7D"  # form-encoded: text
    if kind == 4:
        return b'{"big": 123456789012345678901234567890, "r": 1e300}\r\n'
    if kind == 5:
        return b'{"too_big": 1e400}'
    if kind == 6:
        return b"\xff\xfe not text"
    return json.dumps(doc).encode()


def deliveries(count: int, *, source: str = "gh", start: int = 0, seed: int = 7) -> list[Delivery]:
    rnd = random.Random(seed + start)
    out = []
    for i in range(start, start + count):
        event = EVENTS[i % len(EVENTS)]
        headers = {"x-github-event": event or "", "x-github-delivery": f"d-{i:05d}"}
        out.append(Delivery(source, f"d-{i:05d}", event, 1_764_900_000 + i * 1.000001, headers,
                            varied_body(rnd, i)))
    return out


def fill_sqlite(path: Path, items: list[Delivery]) -> None:
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(SCHEMA)
        db.executemany("INSERT OR IGNORE INTO deliveries (source, delivery_id, event_type, received_at, headers, body) "
                       "VALUES (?, ?, ?, ?, ?, ?)",
                       [(d.source, d.delivery_id, d.event_type, d.received_at, json.dumps(d.headers), d.body)
                        for d in items])
        db.commit()


def spooled_ids(path: Path) -> list[str]:
    with closing(sqlite3.connect(path)) as db:
        return [r[0] for r in db.execute("SELECT delivery_id FROM deliveries ORDER BY seq")]
