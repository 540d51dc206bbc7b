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

GNU time's ``%M`` comes from ``wait4``, whose ``ru_maxrss`` is the larger of the process's own
peak and that of its largest reaped child. For a runner (whose children are the connectors) that
is the wrong figure, so ``rss="self"`` samples the process's own ``VmHWM`` from
``/proc/<pid>/status`` every 10 ms instead (a fresh address space after ``exec``, so no
inherited high-water mark; VmHWM only grows, so only growth in the last 10 ms can be missed).
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import orjson

__all__ = ["Run", "cat_floor", "orjson_floor", "rss_exact", "run_child"]

SAMPLE_SECONDS = 0.01
_REPORTED = re.compile(rb"^seconds=([0-9.]+)", re.MULTILINE)

STDERR_TAIL = 600
GNU_TIME = "/usr/bin/time"
rss_exact = os.access(GNU_TIME, os.X_OK)


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_rss_mb: float | None     # None when not measured (in-process floor)
    returncode: int
    error: str = ""               # stderr tail, or why the run does not count
    note: str = ""                # what the program's ``note`` hook said after the run

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
    rss: Literal["child", "self"] = "child",
    timing: Literal["wall", "reported"] = "wall",
) -> Run:
    """Run ``argv`` to completion; wall seconds and the child's own peak RSS.

    ``rss="self"``: the process's own peak only, its children excluded (sampled VmHWM).
    ``timing="reported"``: the seconds the program printed as ``seconds=S`` on stderr.
    """
    rss_path = stderr_path.with_suffix(".rss")
    timed = rss_exact and rss == "child"
    wrapped = [GNU_TIME, "-f", "%M", "-o", str(rss_path), *argv] if timed else list(argv)
    with (
        open(stdin if stdin is not None else os.devnull, "rb") as fin,
        open(os.devnull, "wb") as fout,
        stderr_path.open("wb") as ferr,
    ):
        started = time.perf_counter()
        proc = subprocess.Popen(wrapped, stdin=fin, stdout=fout, stderr=ferr, cwd=cwd,
                                env=dict(env) if env is not None else None)
        sampler = _HwmSampler(proc.pid) if rss == "self" else None
        _pid, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code  # reaped by wait4; tell Popen so it never waits again
    rss_kb = float(usage.ru_maxrss)
    if sampler is not None:
        rss_kb = sampler.stop()
    elif timed:
        last = rss_path.read_text().strip().splitlines()[-1:]  # "Command exited with ..." may come first
        rss_kb = float(last[0]) if last and last[0].isdigit() else float("nan")
    error = ""
    if code != 0:
        error = stderr_path.read_bytes()[-STDERR_TAIL:].decode("utf-8", "replace").strip() or f"exit {code}"
    elif timing == "reported":
        found = _REPORTED.findall(stderr_path.read_bytes())
        if found:
            seconds = float(found[-1])
        else:
            error = "no seconds=S line on stderr"
    return Run(seconds, rss_kb / 1024.0, code, error)


class _HwmSampler:
    """Reads ``VmHWM`` of one process every ``SAMPLE_SECONDS`` until stopped; keeps the largest."""

    def __init__(self, pid: int) -> None:
        self._path = f"/proc/{pid}/status"
        self._done = threading.Event()
        self.peak_kb = float("nan")
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        try:
            with open(self._path, "rb") as fh:
                for line in fh:
                    if line.startswith(b"VmHWM:"):
                        kb = float(line.split()[1])
                        self.peak_kb = kb if self.peak_kb != self.peak_kb else max(self.peak_kb, kb)
                        return
        except OSError:
            return

    def _loop(self) -> None:
        self._sample()  # Popen returned: the child has exec'd, its address space is its own
        while not self._done.wait(SAMPLE_SECONDS):
            self._sample()

    def stop(self) -> float:
        self._done.set()
        self._thread.join()
        return self.peak_kb


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
