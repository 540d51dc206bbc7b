"""Helpers of the exactly-once fault tests: a sluice project from the keyless fixture tap into
one of our targets, the destination's rows, and the processes of a running pipeline."""

from __future__ import annotations

import csv
import fcntl
import json
import os
import sqlite3
import struct
import subprocess
import termios
import time
from collections import Counter
from contextlib import closing
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import exe
from tests.integration.runner.helpers import FIXTURES, PY, wait_for
from tests.integration.sql.helpers import require_duckdb

TARGETS = ("jsonl", "csv", "sqlite", "postgres", "duckdb")
STATE_ID = "demo"


def source_rows(total: int) -> list[tuple[int, int]]:
    """What the keyless tap emits, computed here independently: (seq, amount) per record."""
    return [(i, i * 7919 % 10007) for i in range(1, total + 1)]


class Pipeline:
    """keyless_tap -> target-<kind> in a project directory; ``dsn`` for PostgreSQL."""

    def __init__(self, root: Path, kind: str, dsn: str | None = None, **target: Any) -> None:
        self.root, self.kind, self.dsn = root, kind, dsn
        self.out = root / "out"
        self.paused = root / "tap.paused"
        self.release = root / "tap.release"
        base: dict[str, Any] = {"batch_size_rows": 20, "state_flush_seconds": 0}
        if kind == "jsonl":
            base["destination_path"] = str(self.out)
        elif kind == "csv":
            base["output_path"] = str(self.out)
        elif kind == "sqlite":
            base["database"] = str(root / "dest.db")
        elif kind == "duckdb":
            require_duckdb()
            base["path"] = str(root / "dest.duckdb")
        else:
            base["sqlalchemy_url"] = dsn
        base.update(target)
        self.target_config = base

    def write(self, **tap: Any) -> None:
        config = {"records": 400, "state_every": 50, "paused_file": str(self.paused),
                  "release_file": str(self.release), **tap}
        project = {
            "connectors": [
                {"name": "tap-keyless", "executable": PY, "args": [str(FIXTURES / "keyless_tap.py")],
                 "config": config},
                {"name": f"target-{self.kind}", "executable": exe(f"target-{self.kind}"),
                 "config": self.target_config},
            ],
            "pipelines": [{"name": STATE_ID, "tap": "tap-keyless", "target": f"target-{self.kind}"}],
        }
        (self.root / "sluice.yml").write_text(yaml.safe_dump(project, sort_keys=False))

    def rows(self) -> list[tuple[int, int]]:
        """(seq, amount) of every row in the destination, duplicates included."""
        if self.kind == "jsonl":
            path = self.out / "events.jsonl"
            lines = path.read_text().splitlines() if path.exists() else []
            return [(r["seq"], r["amount"]) for r in map(json.loads, lines)]
        if self.kind == "csv":
            path = self.out / "events.csv"
            if not path.exists():
                return []
            with path.open(newline="") as fh:
                return [(int(r["seq"]), int(r["amount"])) for r in csv.DictReader(fh)]
        if self.kind == "sqlite":
            with closing(sqlite3.connect(self.root / "dest.db")) as db:
                if not db.execute("select 1 from sqlite_master where name = 'events'").fetchone():
                    return []  # nothing was ever committed, not even the table
                return [(int(s), int(a)) for s, a in db.execute("select seq, amount from events")]
        if self.kind == "duckdb":
            import duckdb

            if not (self.root / "dest.duckdb").exists():
                return []
            with closing(duckdb.connect(str(self.root / "dest.duckdb"))) as ddb:
                if not ddb.execute("select 1 from duckdb_tables() where table_name = 'events'").fetchone():
                    return []
                return [(int(s), int(a)) for s, a in ddb.execute("select seq, amount from events").fetchall()]
        import psycopg

        with psycopg.connect(str(self.dsn)) as conn:
            if not conn.execute("select to_regclass('public.events')").fetchone()[0]:  # type: ignore[index]
                return []
            return [(int(s), int(a)) for s, a in conn.execute("select seq, amount from public.events")]


def assert_exactly_once(rows: list[tuple[int, int]], total: int) -> None:
    """Every source row once: no duplicate, none missing, the same values (a checksum of both)."""
    dupes = sorted(k for k, n in Counter(seq for seq, _ in rows).items() if n > 1)
    assert not dupes, f"{len(dupes)} duplicated rows, e.g. seq {dupes[:5]}"
    expected = source_rows(total)
    assert len(rows) == total, f"{len(rows)} rows, expected {total}"
    assert sorted(rows) == expected
    assert sum(s * a for s, a in rows) == sum(s * a for s, a in expected)


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def target_pid(runner: subprocess.Popen[bytes], kind: str) -> int:
    pids: list[int] = []
    wait_for(lambda: bool(pids.extend(p for p in children(runner.pid) if f"target-{kind}" in cmdline(p)) or pids),
             what=f"target-{kind} started")
    return pids[0]


def _idle_once(pid: int) -> bool:
    """The target read all of its input (stdin pipe empty) and its main thread sleeps in a read."""
    try:
        fd = os.open(f"/proc/{pid}/fd/0", os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        pending = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
    finally:
        os.close(fd)
    with open(f"/proc/{pid}/stat") as fh:
        state = fh.read().rsplit(")", 1)[1].split()[0]
    return pending == 0 and state == "S"


def wait_target_idle(pid: int) -> None:
    """Wait until the target has processed everything the paused tap wrote."""
    streak = 0
    deadline = time.monotonic() + 60
    while streak < 4:
        assert time.monotonic() < deadline, "the target never went idle"
        streak = streak + 1 if _idle_once(pid) else 0
        time.sleep(0.05)


def wait_gone(pid: int) -> None:
    def gone() -> bool:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            return True
    wait_for(gone, what=f"process {pid} to end")
