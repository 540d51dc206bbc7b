"""Runner hosts for the many-hosts tests: each its own directory, copy of the project, and
``SLUICE_HOST``, all with ``state_store:`` naming the same PostgreSQL database."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import yaml

from tests.conftest import exe
from tests.integration.runner.helpers import FIXTURES, sluice, sluice_env

TAP = Path(__file__).parent / "counter_tap.py"
LOCK_TIMEOUT = 8  # seconds (lock_timeout_seconds); the default is 30


@dataclass(eq=False)
class Host:
    name: str
    dir: Path
    store: str  # the state store URL this host uses (directly, or through a proxy)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[IO[bytes]] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return sluice_env(SLUICE_HOST=self.name)

    def write_project(self, pipelines: list[str], slow: dict[str, float] | None = None) -> None:
        """``pipelines`` in this order, all counter | sink; those in ``slow`` sleep that long
        (in this host's copy only) and write ``<host dir>/<pipeline>.started`` when they start."""
        slow = slow or {}
        py = sys.executable
        conns: list[dict[str, Any]] = [
            {"name": "counter", "executable": py, "args": [str(TAP)]},
            {"name": "sink", "executable": py, "args": [str(FIXTURES / "fixture_target.py")],
             "config": {"path": "out.jsonl"}},
        ]
        for name, seconds in slow.items():
            conns.append({"name": f"counter-{name}", "executable": py, "args": [str(TAP)],
                          "config": {"sleep": seconds, "started_file": f"{name}.started"}})
        pipes = [{"name": p, "tap": f"counter-{p}" if p in slow else "counter", "target": "sink"} for p in pipelines]
        project = {"state_store": self.store, "lock_timeout_seconds": LOCK_TIMEOUT, "connectors": conns,
                   "pipelines": pipes}
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "sluice.yml").write_text(yaml.safe_dump(project, sort_keys=False))

    def start(self, args: list[str]) -> subprocess.Popen[bytes]:
        """``sluice ARGS`` in the background; its stderr goes to ``<host dir>/sluice-N.err``."""
        log = (self.dir / f"sluice-{len(self.procs)}.err").open("wb")
        proc = subprocess.Popen([exe("sluice"), *args], cwd=self.dir, env=self.env, stdout=subprocess.DEVNULL,
                                stderr=log)
        self.procs.append(proc)
        self.logs.append(log)
        return proc

    def err(self, proc: subprocess.Popen[bytes]) -> str:
        return (self.dir / f"sluice-{self.procs.index(proc)}.err").read_text()

    def sluice(self, args: list[str]) -> subprocess.CompletedProcess[str]:
        return sluice(args, self.dir, env=self.env)

    def json_lines(self, args: list[str]) -> list[dict[str, Any]]:
        done = self.sluice([*args, "--json"])
        assert done.returncode == 0, done.stderr
        return [json.loads(line) for line in done.stdout.splitlines()]

    def kill9(self, proc: subprocess.Popen[bytes]) -> None:
        """The host dies: its ``sluice run --all`` and every runner it started, killed -9 (their
        connectors die with them)."""
        children = [pid for pid in _pids() if _ppid(pid) == proc.pid]
        for pid in [proc.pid, *children]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait(30)

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)
        for log in self.logs:
            log.close()


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _ppid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def overlaps(history: list[dict[str, Any]]) -> list[str]:
    """Runs of one pipeline whose [start, end] intervals overlap (the store's clock)."""
    found = []
    by_pipeline: dict[str, list[dict[str, Any]]] = {}
    for run in history:
        by_pipeline.setdefault(run["pipeline"], []).append(run)
    for name, runs in by_pipeline.items():
        runs.sort(key=lambda r: r["started_at"])
        for before, after in itertools.pairwise(runs):
            if before["ended_at"] is None or before["ended_at"] > after["started_at"]:
                found.append(f"{name}: run {before['run']} ({before['host']}) and run {after['run']} ({after['host']})")
    return found
