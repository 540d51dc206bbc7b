"""One chaos trial: start `sluice run`, kill one process at a seeded moment, rerun, compare.

A trial is fully described by its seed (see :meth:`Trial.from_seed`): the tap (``chatty``,
the chaos tap with a STATE every few rows, or ``final``, tap-csv whose bookmark moves only
at the end), the victim (tap, target or the runner itself), the signal (SIGKILL or
SIGTERM) and the delay after the victim started. Rerun a failing trial alone with
``SLUICE_CHAOS_SEEDS=<seed>``.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import exe
from tests.faults.chaos.chaos_tap import SCHEMAS
from tests.faults.chaos.source import STREAMS, Check, Destination, check_stream, target_config, write_source_csv

__all__ = ["ROWS", "Trial", "TrialResult", "run_trial"]

TAP_SCRIPT = Path(__file__).with_name("chaos_tap.py")
ROWS = 1500  # per stream
STATE_EVERY = 100
# the chatty tap pauses 4 times between two STATEs, 1.2 s asleep in a whole run: its lifetime is
# set by the sleeps, not by how busy the machine is
PAUSE_EVERY, TAP_SLEEP = 25, 0.02
BATCH_ROWS = 30  # targets commit several batches between two STATEs: rows that no STATE covers yet
VICTIMS = ("tap", "target", "runner")
SIGNALS = (signal.SIGKILL, signal.SIGTERM)
# the delay window (s after the victim started) per tap kind and victim: within the victim's
# lifetime on a quiet machine (a busy one only makes the victims live longer). The chatty tap
# sleeps 1.2 s per run; tap-csv ("final") reads its 3,000 rows in about 0.3 s.
WINDOWS = {("chatty", "tap"): 1.1, ("chatty", "target"): 1.2, ("chatty", "runner"): 1.6,
           ("final", "tap"): 0.2, ("final", "target"): 0.4, ("final", "runner"): 0.7}
RUN_TIMEOUT = 120.0
ORPHAN_TIMEOUT = 30.0
RERUNS = 3


@dataclass(frozen=True)
class Trial:
    seed: int
    kind: str
    tap: str  # chatty | final
    victim: str
    sig: signal.Signals
    delay: float

    @classmethod
    def from_seed(cls, seed: int, kind: str) -> Trial:
        """Trial parameters from the seed alone: the tap from its parity, the victim and signal
        from the rest of it (so consecutive seeds cycle through every pair), the delay drawn."""
        tap = ("chatty", "final")[seed % 2]
        victim = VICTIMS[(seed // 2) % 3]
        sig = signal.Signals(SIGNALS[(seed // 6) % 2])
        delay = round(random.Random(seed).uniform(0.0, WINDOWS[(tap, victim)]), 3)
        return cls(seed, kind, tap, victim, sig, delay)

    def describe(self) -> str:
        return (f"seed={self.seed} target={self.kind} tap={self.tap} victim={self.victim} "
                f"signal={self.sig.name} delay={self.delay:.3f}s")


@dataclass
class TrialResult:
    trial: Trial
    killed: str = "not yet"  # what happened to the victim
    first_rc: int | None = None
    reruns: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # problems other than the data
    checks: dict[str, Check] = field(default_factory=dict)

    def failed(self, stream: str) -> bool:
        return bool(self.errors) or stream not in self.checks or not self.checks[stream].ok

    def describe(self, stream: str) -> str:
        head = (f"{self.trial.describe()}: victim {self.killed}; first run exit {self.first_rc}; "
                f"reruns exit {self.reruns}")
        parts = [*self.errors]
        if stream in self.checks:
            parts.append(self.checks[stream].describe())
        return head + "\n    " + "\n    ".join(parts)


def _project(root: Path, trial: Trial, dest: Destination) -> None:
    if trial.tap == "chatty":
        tap: dict[str, Any] = {"name": "tap-chaos", "executable": sys.executable, "args": [str(TAP_SCRIPT)],
                               "config": {"rows": ROWS, "state_every": STATE_EVERY, "pause_every": PAUSE_EVERY,
                                          "sleep": TAP_SLEEP}}
    else:
        files = write_source_csv(root / "source", ROWS)
        tap = {"name": "tap-csv", "executable": exe("tap-csv"), "config": {"files": [
            {"entity": s, "path": str(p), "keys": STREAMS[s], "schema": {"properties": SCHEMAS[s]["properties"]}}
            for s, p in files.items()]}}
    target = {"name": f"target-{trial.kind}", "executable": exe(f"target-{trial.kind}"),
              "config": target_config(dest, BATCH_ROWS)}
    project = {"connectors": [tap, target], "pipelines": [{"name": "chaos", "tap": tap["name"],
                                                           "target": target["name"]}]}
    (root / "sluice.yml").write_text(yaml.safe_dump(project, sort_keys=False))


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}


def _sluice(root: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([exe("sluice"), "--project", str(root / "sluice.yml"), "run", "chaos"], cwd=root,
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _children(ppid: int) -> dict[int, list[str]]:
    """pid -> argv of the live children of a process."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
            if int(fields[1]) != ppid or fields[0] == b"Z":
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                argv = fh.read().decode(errors="replace").split("\0")
        except (OSError, IndexError, ValueError):
            continue
        found[int(entry)] = argv
    return found


QUERIES = {"--about", "--discover", "--test", "--committed-state"}  # short calls before the run proper


def _role(argv: list[str]) -> str | None:
    """'tap' or 'target' for the runner's child that moves the data, None for any other."""
    if "--config" not in argv or QUERIES.intersection(argv):
        return None
    names = [Path(a).name for a in argv[:3]]
    if "chaos_tap.py" in names or "tap-csv" in names:
        return "tap"
    if any(n.startswith("target-") for n in names):
        return "target"
    return None


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


class _Killer(threading.Thread):
    """Watches the runner's children; sends the trial's signal to the victim at its moment."""

    def __init__(self, trial: Trial, runner: subprocess.Popen[bytes]) -> None:
        super().__init__(daemon=True)
        self.trial, self.runner = trial, runner
        self.seen: dict[str, int] = {}
        self.outcome = "never seen (the run ended first)"

    def run(self) -> None:
        started = {"runner": time.monotonic()}
        self.seen["runner"] = self.runner.pid
        while self.runner.poll() is None:
            for pid, argv in _children(self.runner.pid).items():
                role = _role(argv)
                if role and role not in self.seen:
                    self.seen[role], started[role] = pid, time.monotonic()
            victim = self.trial.victim
            if victim in started and time.monotonic() - started[victim] >= self.trial.delay:
                self._strike(self.seen[victim])
                break
            time.sleep(0.01)
        while self.runner.poll() is None:  # keep noting the children, for the orphan check
            for pid, argv in _children(self.runner.pid).items():
                role = _role(argv)
                if role and role not in self.seen:
                    self.seen[role] = pid
            time.sleep(0.05)

    def _strike(self, pid: int) -> None:
        if not alive(pid):
            self.outcome = "had exited before the signal"
            return
        try:
            os.kill(pid, self.trial.sig)
        except ProcessLookupError:
            self.outcome = "had exited before the signal"
            return
        self.outcome = f"sent {self.trial.sig.name}"


def _wait_orphans(pids: list[int]) -> list[int]:
    deadline = time.monotonic() + ORPHAN_TIMEOUT
    while time.monotonic() < deadline:
        if not any(alive(p) for p in pids):
            return []
        time.sleep(0.05)
    left = [p for p in pids if alive(p)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    return left


def _last_line(stderr: bytes) -> str:
    lines = stderr.decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else "(no stderr)"


def _finish(proc: subprocess.Popen[bytes], result: TrialResult, what: str) -> bytes:
    """The stderr of a `sluice run` once it ended; killed (and noted) after RUN_TIMEOUT."""
    try:
        _, err = proc.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()  # its connectors get SIGTERM from PR_SET_PDEATHSIG
        _, err = proc.communicate()
        result.errors.append(f"{what} did not end within {RUN_TIMEOUT:.0f} s")
    return err


def run_trial(trial: Trial, root: Path, dest: Destination) -> TrialResult:
    result = TrialResult(trial)
    root.mkdir(parents=True, exist_ok=True)
    _project(root, trial, dest)
    runner = _sluice(root)
    killer = _Killer(trial, runner)
    killer.start()
    err = _finish(runner, result, "the killed run")
    killer.join()
    result.killed, result.first_rc = killer.outcome, runner.returncode
    (root / "first-run.stderr").write_bytes(err)
    left = _wait_orphans([pid for role, pid in killer.seen.items() if role != "runner"])
    if left:
        result.errors.append(f"tap/target pids {left} still alive {ORPHAN_TIMEOUT:.0f} s after the run ended")
    for attempt in range(RERUNS):
        rerun = _sluice(root)
        err = _finish(rerun, result, f"rerun {attempt + 1}")
        (root / f"rerun-{attempt + 1}.stderr").write_bytes(err)
        result.reruns.append(rerun.returncode)
        if rerun.returncode == 0:
            break
    else:
        result.errors.append(f"no clean rerun in {RERUNS}: {_last_line(err)}")
    for stream in STREAMS:
        result.checks[stream] = check_stream(dest, stream, ROWS)
    return result
