"""Timing and peak memory of one child process, and the two floors.

A program runs as a real subprocess: stdin from a file (or /dev/null), stdout to /dev/null,
stderr to a file kept for the error report. Wall time is taken around spawn and reap, so it
includes interpreter start-up, as a user would see it.

Peak RSS is the child's own ``ru_maxrss``. Linux carries a process's high-water mark across
``exec``, and a child forked (or vforked) from this harness starts with the harness's pages, so
``os.wait4`` on a direct child reports max(harness, child). The child is therefore started by
GNU ``/usr/bin/time``, a ~2 MB process, which forks, waits for it and writes its ``%M`` (peak RSS
in KB). Without /usr/bin/time the figure falls back to ``os.wait4`` on the child's pid, and
``rss_exact`` says it may include the harness's own RSS.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

__all__ = ["Run", "cat_floor", "orjson_floor", "rss_exact", "run_child"]

STDERR_TAIL = 600
GNU_TIME = "/usr/bin/time"
rss_exact = os.access(GNU_TIME, os.X_OK)


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_rss_mb: float | None     # None when not measured (in-process floor)
    returncode: int
    error: str = ""               # stderr tail, or why the run does not count

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.error


def run_child(
    argv: Sequence[str],
    *,
    stdin: Path | None,
    cwd: Path,
    stderr_path: Path,
    env: Mapping[str, str] | None = None,
) -> Run:
    """Run ``argv`` to completion; wall seconds and the child's own peak RSS."""
    rss_path = stderr_path.with_suffix(".rss")
    wrapped = [GNU_TIME, "-f", "%M", "-o", str(rss_path), *argv] if rss_exact else list(argv)
    with (
        open(stdin if stdin is not None else os.devnull, "rb") as fin,
        open(os.devnull, "wb") as fout,
        stderr_path.open("wb") as ferr,
    ):
        started = time.perf_counter()
        proc = subprocess.Popen(wrapped, stdin=fin, stdout=fout, stderr=ferr, cwd=cwd,
                                env=dict(env) if env is not None else None)
        _pid, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code  # reaped by wait4; tell Popen so it never waits again
    rss_kb = float(usage.ru_maxrss)
    if rss_exact:
        last = rss_path.read_text().strip().splitlines()[-1:]  # "Command exited with ..." may come first
        rss_kb = float(last[0]) if last and last[0].isdigit() else float("nan")
    error = ""
    if code != 0:
        error = stderr_path.read_bytes()[-STDERR_TAIL:].decode("utf-8", "replace").strip() or f"exit {code}"
    return Run(seconds, rss_kb / 1024.0, code, error)


def orjson_floor(path: Path) -> Run:
    """``orjson.loads`` of every line, in this process, over a file already read into memory."""
    with path.open("rb") as fh:
        lines = fh.readlines()
    loads = orjson.loads
    started = time.perf_counter()
    for line in lines:
        loads(line)
    return Run(time.perf_counter() - started, None, 0)


def cat_floor(path: Path, cwd: Path, stderr_path: Path) -> Run:
    """``cat file > /dev/null``: what reading the bytes alone costs."""
    return run_child(["cat", str(path)], stdin=None, cwd=cwd, stderr_path=stderr_path)
