"""How a run ended, as types: its status, what stopped it, and the exit code that follows.

The status is what the run history records (``sluice runs``); the exit code comes from the
one table, :class:`protocol.ExitCode`. Nothing here reads an error's text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from protocol import ExitCode, signal_exit_code

if TYPE_CHECKING:
    from runner.sides import Side

__all__ = ["ALL_EXIT_HELP", "ALL_PRECEDENCE", "Outcome", "RunStatus", "StopCause", "combine_exit_codes"]


class RunStatus(StrEnum):
    """The status of a finished run in the history (the stores also write "running" and
    "abandoned" themselves, for runs still going or whose runner died)."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


class StopCause(StrEnum):
    """Why the runner stopped a run before its connectors finished by themselves. The value
    is also the word the target hears on its control channel (runner/reconcile.py)."""

    SIGINT = "SIGINT"
    SIGTERM = "SIGTERM"
    TIMEOUT = "timeout"
    LOCK = "lock"  # the pipeline lock was lost: a failure of the run, not a stop someone asked for


#: the exit code of a run the runner stopped: the shell's for a death by that signal, GNU timeout's for --timeout
_STOP_EXIT_CODES = {
    StopCause.SIGINT: ExitCode.INTERRUPTED,
    StopCause.SIGTERM: ExitCode.TERMINATED,
    StopCause.TIMEOUT: ExitCode.TIMEOUT,
}


@dataclass
class Outcome:
    status: RunStatus
    failed_side: str | None  # "tap", "mapper", "target" or "runner"
    reason: str | None
    tap: Side
    target: Side
    states: int
    elapsed: float
    stopped_by: StopCause | None = None  # the stop that cut the run short (never LOCK: that one failed it)
    mappers: list[Side] = field(default_factory=list)  # between the tap and the target, in pipe order
    failed_name: str | None = None  # the name of the failed tap, mapper or target
    state_overlong: int | None = None  # bytes of a target's stdout line too long to read: its STATE unstored

    @property
    def ok(self) -> bool:
        return self.status is RunStatus.SUCCEEDED

    @property
    def exit_code(self) -> ExitCode:
        if self.ok:
            return ExitCode.OK
        if self.stopped_by is not None:
            return _STOP_EXIT_CODES[self.stopped_by]
        return ExitCode.FAILED

    def fail(self, side: str, reason: str, name: str | None = None) -> None:
        """Turn a run that looked fine into a failure of ``side`` (e.g. records went missing)."""
        self.status, self.failed_side, self.reason, self.failed_name = RunStatus.FAILED, side, reason, name


#: ``sluice run --all``: the first of these that any pipeline returned is the exit code
#: (a pipeline refused with ExitCode.LOCKED is running already, here or on another host: skipped, not counted)
ALL_PRECEDENCE = (ExitCode.FAILED, ExitCode.USAGE, ExitCode.TIMEOUT, ExitCode.INTERRUPTED, ExitCode.TERMINATED)
ALL_EXIT_HELP = (f"A pipeline already running (its lock held, on any host) is skipped, not failed. "
                 f"Exit code: {int(ExitCode.INTERRUPTED)} or {int(ExitCode.TERMINATED)} when sluice itself is "
                 f"interrupted; else the first of {', '.join(str(int(c)) for c in ALL_PRECEDENCE)} that a "
                 f"pipeline returned; 0 when all that ran succeeded.")


def combine_exit_codes(codes: Iterable[int], stopped_by: int | None = None) -> ExitCode:
    """The exit code of ``sluice run --all`` from those of its pipelines (see :data:`ALL_EXIT_HELP`).

    ``stopped_by`` is the signal that stopped sluice itself: then the run as a whole was
    interrupted, whatever its pipelines returned (those not started count as failed in the
    summary). A pipeline refused as already running (3) is skipped, not counted. Any other code (a
    runner killed by a signal) counts as a failure.
    """
    if stopped_by is not None:
        return ExitCode(signal_exit_code(stopped_by))
    seen = set(codes) - {ExitCode.LOCKED}  # running already (here or on another host): skipped
    for code in ALL_PRECEDENCE:
        if code in seen:
            return code
    return ExitCode.FAILED if seen - {ExitCode.OK} else ExitCode.OK
