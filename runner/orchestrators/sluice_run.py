"""``sluice run PIPELINE`` as a subprocess, for orchestrators: its outcome as data.

An orchestrator (Dagster, Airflow) runs each pipeline through the ``sluice`` command, so any
executor of theirs works and a pipeline runs exactly as from cron. The outcome is read from the
exit code, the last ``sluice:`` line on stderr and the ``--summary-json`` file (per-stream
counts, duration, state id, run number). No orchestrator is imported here.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from protocol import ExitCode

__all__ = ["SluiceRunResult", "run_sluice", "safe_name", "sluice_command"]

_TAIL = 200  # stderr lines kept to find the error line
_STOP_GRACE = 30.0  # seconds between SIGTERM and SIGKILL when the orchestrator stops the step


def safe_name(name: str) -> str:
    """A pipeline or stream name as orchestrators accept it (``orders@acme`` -> ``orders_acme``): every
    character but A-Z a-z 0-9 _ becomes ``_``. ``sluice run`` still gets the original name."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name) or "_"


def sluice_command() -> list[str]:
    """The ``sluice`` beside the running interpreter, else the one on PATH, else ``python -m runner``."""
    beside = Path(sys.executable).parent / "sluice"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("sluice")
    return [found] if found else [sys.executable, "-m", "runner"]


@dataclass
class SluiceRunResult:
    """How one ``sluice run`` ended."""

    pipeline: str
    exit_code: int  # negative: killed by that signal
    error_line: str | None  # the last "sluice: ..." line on stderr (without the prefix)
    summary: dict[str, Any] | None  # the --summary-json record; None when the run never reached its connectors
    wall_s: float
    stderr_tail: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.exit_code == ExitCode.OK

    @property
    def refused(self) -> bool:
        """Another run holds the pipeline's lock (exit 3): nothing was done, nothing is broken."""
        return self.exit_code == ExitCode.LOCKED

    def message(self) -> str:
        """One line saying why the run did not succeed (the pipeline's own error line when there is one)."""
        line = self.error_line or f"no error line on stderr (exit code {self.exit_code})"
        if self.refused:  # sluice's line names who holds the lock and says the run is refused
            return line if "refused" in line else f"{line}: refused (exit code {self.exit_code})"
        if self.exit_code < 0:
            return f"sluice run {self.pipeline} was killed by signal {-self.exit_code}: {line}"
        return line


def _error_line(lines: Sequence[str]) -> str | None:
    """The last ``sluice: ...`` line; an error with a list of problems (``summary:`` then one indented
    problem per line) as one line, ``summary: problem; problem``."""
    lines = list(lines)  # a deque cannot be sliced
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].startswith("sluice: "):
            head = lines[i].removeprefix("sluice: ").removeprefix("error: ").strip()
            problems = list(itertools.takewhile(lambda line: line.startswith((" ", "\t")), lines[i + 1:]))
            return " ".join([head, "; ".join(p.strip() for p in problems)]) if problems else head
    return next((line.strip() for line in reversed(lines) if line.strip()), None)


def _read_summary(path: Path) -> dict[str, Any] | None:
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _stop(proc: subprocess.Popen[str]) -> None:
    """The orchestrator stopped the step: stop sluice as cron's user would (it keeps what was committed)."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(_STOP_GRACE)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_sluice(pipeline: str, project: Path, *, args: Sequence[str] = (), command: Sequence[str] | None = None,
               log: Callable[[str], None] | None = None, env: dict[str, str] | None = None,
               on_start: Callable[[subprocess.Popen[str]], None] | None = None,
               environment: str | None = None) -> SluiceRunResult:
    """Run ``sluice --project PROJECT [--environment NAME] run PIPELINE [ARGS]`` in the project directory;
    every stderr line goes to ``log`` as it comes. ``on_start`` gets the process as soon as it runs (to signal it from
    elsewhere, e.g. an orchestrator's kill hook)."""
    project = project.resolve()
    with tempfile.TemporaryDirectory(prefix="sluice-run-") as tmp:
        summary_path = Path(tmp) / "summary.json"
        chosen = ["--environment", environment] if environment else []
        argv = [*(command or sluice_command()), "--project", str(project), *chosen, "run", pipeline,
                "--summary-json", str(summary_path), *args]
        tail: deque[str] = deque(maxlen=_TAIL)
        started = time.monotonic()
        with subprocess.Popen(argv, cwd=project.parent, env=env if env is not None else dict(os.environ),
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True, errors="replace") as proc:
            try:
                if on_start is not None:
                    on_start(proc)
                assert proc.stderr is not None
                for raw in proc.stderr:
                    line = raw.rstrip("\n")
                    tail.append(line)
                    if log is not None:
                        log(line)
                code = proc.wait()
            finally:
                _stop(proc)
        return SluiceRunResult(pipeline, code, None if code == ExitCode.OK else _error_line(tail),
                               _read_summary(summary_path), time.monotonic() - started, list(tail))
