"""One side of a run (the tap or the target) as the supervisor sees it, and how it ended."""

from __future__ import annotations

import signal
import subprocess
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from protocol import ExitCode, signal_exit_code
from runner.pumps import SideStats

if TYPE_CHECKING:
    from runner.supervise import SideSpec

__all__ = ["Side"]


@dataclass
class Side:
    spec: SideSpec
    proc: subprocess.Popen[bytes] | None = None
    rc: int | None = None
    stats: SideStats = field(default_factory=SideStats)
    term_sent: float | None = None
    stopped_by_us: bool = False
    start_error: str | None = None
    exited_at: float | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.rc is None

    @property
    def failed_by_itself(self) -> bool:
        """It exited non-zero, and not because we stopped it."""
        return self.rc not in (None, ExitCode.OK) and not self.stopped_by_us

    @property
    def broke_pipe(self) -> bool:
        """Its output pipe was closed under it: the consequence of a failure, not a cause."""
        return self.rc in (-signal.SIGPIPE, signal_exit_code(signal.SIGPIPE)) or self.stats.broken_pipe

    def describe_exit(self) -> str:
        if self.start_error:
            return f"cannot start: {self.start_error}"
        rc = self.rc
        if rc is None:
            return "still running"
        if rc < 0:
            try:
                name = signal.Signals(-rc).name
            except ValueError:
                name = f"signal {-rc}"
            return f"killed by {name}"
        return f"exit code {rc}"

    def failure_reason(self) -> str:
        """How it ended, with what it said last: for a signal only its last ERROR line (a
        killed program's last INFO line explains nothing), else also the end of a traceback."""
        status = self.describe_exit()
        if self.rc is not None and self.rc < 0:
            error = self.stats.last_error
            return f"{status}; its last error: {error}" if error else status
        message = self.stats.last_error or self.stats.last_line
        return f"{message} ({status})" if message else status
