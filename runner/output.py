"""Where a run's lines go: the per-run log file (everything) and the terminal (with a prefix).

Every line passes through the run's :class:`~runner.isolation.Redactor` first. On a TTY a
live progress line (records emitted and committed, per stream, records/s, elapsed) is kept at
the bottom; off a TTY there is none, unless ``SLUICE_PROGRESS=SECONDS`` asks for a progress
line every SECONDS (on the terminal and in the log). ``SLUICE_PROGRESS=0`` turns it off.

The emitted counts are the tap's METRIC ``record_count`` lines (the runner never reads the
records themselves), so they move as often as the tap reports: our taps about every second.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import IO

from protocol import plural
from runner.isolation import Redactor
from runner.pumps import SideStats

__all__ = ["PROGRESS_ENV", "RunOutput", "progress_text"]

_CLEAR = "\r\x1b[K"
PROGRESS_ENV = "SLUICE_PROGRESS"
LIVE_SECONDS = 1.0  # the live line on a terminal is redrawn this often
_STREAMS_SHOWN = 4  # more streams than this: totals only
MAX_RUNNER_LINE = 4096  # characters of a runner line kept (once redacted); the rest is counted


def progress_text(emitted: SideStats, committed: SideStats, elapsed: float) -> str:
    """``1,200 records (1,200 emitted, 1,000 committed), 400 records/s, 00:03 elapsed; items: ...``"""
    e, c = emitted.total, committed.total
    records = max(e, c)
    rate = records / elapsed if elapsed > 0 else 0.0
    minutes, seconds = divmod(int(elapsed), 60)
    text = (f"{plural(records, 'record')} ({e:,} emitted, {c:,} committed), "
            f"{rate:,.0f} records/s, {minutes:02d}:{seconds:02d} elapsed")
    streams = sorted(set(emitted.counts) | set(committed.counts))
    if 1 < len(streams) <= _STREAMS_SHOWN or (len(streams) == 1 and e != c):
        text += "; " + "; ".join(f"{s}: {emitted.counts.get(s, 0):,} emitted, {committed.counts.get(s, 0):,} committed"
                                 for s in streams)
    elif len(streams) > _STREAMS_SHOWN:
        text += f"; {plural(len(streams), 'stream')}"
    return text


def _progress_every(tty: bool, progress: bool | None) -> tuple[float | None, str | None]:
    """Seconds between progress lines (None: none), and a complaint about the setting if any."""
    if progress is not None:
        return (LIVE_SECONDS if progress else None), None
    setting = os.environ.get(PROGRESS_ENV, "").strip()
    if setting:
        try:
            seconds = float(setting)
        except ValueError:
            return (LIVE_SECONDS if tty else None), f"{PROGRESS_ENV}={setting!r} is not a number of seconds; ignored"
        return (seconds if seconds > 0 else None), None
    return (LIVE_SECONDS if tty else None), None


class RunOutput:
    def __init__(
        self,
        log_path: Path | None,
        redactor: Redactor,
        terminal: IO[str],
        *,
        verbose: bool = False,
        progress: bool | None = None,
    ) -> None:
        self.log_path = log_path
        self.redact = redactor
        self.terminal = terminal
        self.verbose = verbose
        tty = terminal.isatty()
        self.progress_every, complaint = _progress_every(tty, progress)
        self.tty = tty if progress is None else progress  # a live line, redrawn in place
        self._next_progress = time.monotonic() + (self.progress_every or 0.0)
        self._progress_shown = False
        self._log: IO[str] | None = None
        if log_path is not None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(log_path, "a", encoding="utf-8", errors="replace")
        if complaint:
            self.runner_line(complaint)

    def _stamp(self) -> str:
        now = time.time()
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"

    def connector_line(self, role: str, name: str, text: str, *, metric: bool = False) -> None:
        text = self.redact(text)
        if self._log is not None:
            self._log.write(f"{self._stamp()} {role:<6} {name} | {text}\n")
        if not metric or self.verbose:
            self._to_terminal(f"{name} | {text}")

    def runner_line(self, text: str, *, terminal: bool = True) -> None:
        text = self.redact(text)  # then cut: a secret cut in two first would be no secret to the Redactor
        if len(text) > MAX_RUNNER_LINE:  # a target's non-STATE line on stdout (runner/pumps.py StateReader)
            text = f"{text[:MAX_RUNNER_LINE]}... ({len(text) - MAX_RUNNER_LINE:,} more characters not shown)"
        if self._log is not None:
            self._log.write(f"{self._stamp()} sluice | {text}\n")
        if terminal:
            self._to_terminal(f"sluice | {text}")

    def _to_terminal(self, text: str) -> None:
        if self._progress_shown:
            self.terminal.write(_CLEAR)
            self._progress_shown = False
        self.terminal.write(text + "\n")
        self.terminal.flush()

    def progress_due(self, now: float) -> bool:
        """True (once per interval) when a progress line is due."""
        if self.progress_every is None or now < self._next_progress:
            return False
        self._next_progress = now + self.progress_every
        return True

    def progress(self, emitted: SideStats, committed: SideStats, elapsed: float) -> None:
        text = self.redact(progress_text(emitted, committed, elapsed))  # a stream's name may hold a secret
        if not self.tty:
            self.runner_line(f"progress: {text}")
            return
        import shutil  # a terminal's progress line only

        width = shutil.get_terminal_size((200, 24)).columns - 1
        self.terminal.write(_CLEAR + text[:max(width, 40)])
        self.terminal.flush()
        self._progress_shown = True

    def end_progress(self) -> None:
        if self._progress_shown:
            self.terminal.write(_CLEAR)
            self.terminal.flush()
            self._progress_shown = False

    def flush(self) -> None:
        if self._log is not None:
            self._log.flush()

    def close(self) -> None:
        self.end_progress()
        if self._log is not None:
            self._log.close()
            self._log = None
