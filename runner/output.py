"""Where a run's lines go: the per-run log file (everything) and the terminal (with a prefix).

Every line passes through the run's :class:`~runner.isolation.Redactor` first. On a TTY a
live progress line (records/s, elapsed) is kept at the bottom; off a TTY there is none.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import IO

from runner.isolation import Redactor

__all__ = ["RunOutput"]

_CLEAR = "\r\x1b[K"


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
        self.tty = terminal.isatty() if progress is None else progress
        self._progress_shown = False
        self._log: IO[str] | None = None
        if log_path is not None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(log_path, "a", encoding="utf-8", errors="replace")

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
        text = self.redact(text)
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

    def progress(self, emitted: int, committed: int, elapsed: float) -> None:
        if not self.tty:
            return
        records = max(emitted, committed)
        rate = records / elapsed if elapsed > 0 else 0.0
        minutes, seconds = divmod(int(elapsed), 60)
        line = (
            f"{records:,} records ({emitted:,} emitted, {committed:,} committed), "
            f"{rate:,.0f} records/s, {minutes:02d}:{seconds:02d} elapsed"
        )
        self.terminal.write(_CLEAR + line)
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
