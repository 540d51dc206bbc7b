"""Fixtures of the tap-postgres tests: a source database with a private replication slot name.

Slots outlive connections and pin the WAL, and a database with an active slot cannot be
dropped: every slot of the test database is dropped here, before ``pg_dsn`` drops the database.
"""

from __future__ import annotations

import json
import signal
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from protocol._jsoncodec import loads
from tests.conftest import exe, run


@dataclass
class Src:
    dsn: str
    slot: str
    tmp: Path

    def sql(self, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.dsn, autocommit=True) as conn, conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall() if cur.description else []

    def config(self, **extra: Any) -> Path:
        cfg = {"sqlalchemy_url": self.dsn, "replication_slot_name": self.slot, "filter_schemas": ["public"], **extra}
        path = self.tmp / f"tap-{uuid.uuid4().hex[:6]}.json"
        path.write_text(json.dumps(cfg))
        return path

    def catalog(self, config: Path, streams: dict[str, dict[str, Any]]) -> Path:
        """Discover, keep only ``streams`` (id -> replication method/key), and write the catalog file."""
        done = run([exe("tap-postgres"), "--config", str(config), "--discover"])
        assert done.returncode == 0, done.stderr.decode()
        catalog = json.loads(done.stdout)
        kept = []
        for entry in catalog["streams"]:
            if entry["tap_stream_id"] in streams:
                wanted = streams[entry["tap_stream_id"]]
                root = next(m for m in entry["metadata"] if m["breadcrumb"] == [])
                root["metadata"].update({"selected": True, **wanted})
                kept.append(entry)
        assert len(kept) == len(streams), [e["tap_stream_id"] for e in catalog["streams"]]
        path = self.tmp / f"catalog-{uuid.uuid4().hex[:6]}.json"
        path.write_text(json.dumps({"streams": kept}))
        return path

    def slot_position(self) -> int | None:
        rows = self.sql("SELECT confirmed_flush_lsn - '0/0'::pg_lsn FROM pg_replication_slots WHERE slot_name = %s",
                        [self.slot])
        return int(rows[0][0]) if rows else None


@pytest.fixture
def src(pg_dsn: str, tmp_path: Path) -> Iterator[Src]:
    name = pg_dsn.rsplit("/", 1)[1]
    yield Src(pg_dsn, f"slot_{uuid.uuid4().hex[:10]}", tmp_path)
    with psycopg.connect(pg_dsn.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
                     "WHERE database = %s AND active_pid IS NOT NULL", [name])
        conn.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = %s",
                     [name])


def messages(stdout: bytes) -> list[dict[str, Any]]:
    """Every stdout line as a Singer message (each must parse and carry a type)."""
    out = []
    for line in stdout.splitlines():
        msg = loads(line)  # exact: long numbers as Decimal
        assert msg["type"] in ("SCHEMA", "RECORD", "STATE", "ACTIVATE_VERSION"), line
        out.append(msg)
    return out


def records(msgs: list[dict[str, Any]], stream: str | None = None) -> list[dict[str, Any]]:
    return [m["record"] for m in msgs if m["type"] == "RECORD" and (stream is None or m["stream"] == stream)]


def last_state(msgs: list[dict[str, Any]]) -> dict[str, Any]:
    states = [m["value"] for m in msgs if m["type"] == "STATE"]
    assert states, "no STATE emitted"
    return states[-1]


def tap(config: Path, catalog: Path | None = None, state: dict[str, Any] | None = None,
        tmp: Path | None = None) -> list[dict[str, Any]]:
    """Run tap-postgres to the end; its messages."""
    args = [exe("tap-postgres"), "--config", str(config)]
    if catalog is not None:
        args += ["--catalog", str(catalog)]
    if state is not None:
        assert tmp is not None
        path = tmp / f"state-{uuid.uuid4().hex[:6]}.json"
        path.write_text(json.dumps(state))
        args += ["--state", str(path)]
    done = run(args)
    assert done.returncode == 0, done.stderr.decode()
    return messages(done.stdout)


def tap_killed_at(args: list[str], stop: Callable[[dict[str, Any]], bool]) -> tuple[list[dict[str, Any]], Any]:
    """Run tap-postgres with ``args``; SIGKILL it at the first STATE whose value ``stop`` accepts.

    Returns every message read until then, and that state value (None: the tap ended first).
    """
    proc = subprocess.Popen([exe("tap-postgres"), *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    seen: list[dict[str, Any]] = []
    state = None
    for line in proc.stdout:
        msg = json.loads(line)
        seen.append(msg)
        if msg["type"] == "STATE" and stop(msg["value"]):
            state = msg["value"]
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait()
    proc.stdout.close()
    return seen, state
