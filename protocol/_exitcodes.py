"""The exit codes of Sluice, in one table: every connector and the ``sluice`` runner use these.

    code  name         connectors                        sluice (the runner)
    0     OK           done                              success
    1     FAILED       failed at run time                a run (or a connector check) failed
    2     USAGE        bad usage or invalid config       bad usage or an invalid project file / config
    3     LOCKED       -                                 the pipeline is locked by another live run
    124   TIMEOUT      -                                 the run timed out (--timeout), as GNU timeout
    127   NOT_STARTED  -                                 (never returned) a connector that could not start
    130   INTERRUPTED  interrupted by SIGINT (Ctrl-C)    the same (128 + SIGINT, as a shell)
    143   TERMINATED   stopped by SIGTERM                the same (128 + SIGTERM, as a shell)

127 is what the runner records for a connector whose program could not be started (a shell's
"command not found"); the run then fails with 1. The phrases below are the ones the README, the
connector CLI and ``sluice --help`` show; ``tests/unit/test_exit_codes.py`` holds them together.
"""

from __future__ import annotations

import signal
from enum import IntEnum

__all__ = ["CONNECTOR_CODES", "RUNNER_CODES", "ExitCode", "describe_exit_codes", "signal_exit_code"]


def signal_exit_code(signum: int) -> int:
    """The shell's exit code for a program ended by signal ``signum``: 128 + its number."""
    return 128 + int(signum)


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    LOCKED = 3
    TIMEOUT = 124
    NOT_STARTED = 127
    INTERRUPTED = signal_exit_code(signal.SIGINT)  # 130
    TERMINATED = signal_exit_code(signal.SIGTERM)  # 143

    @property
    def meaning(self) -> str:
        """What the code means, in the runner's words (the fuller of the two)."""
        return _RUNNER[self]


_CONNECTOR: dict[ExitCode, str] = {
    ExitCode.OK: "done",
    ExitCode.FAILED: "failed at run time",
    ExitCode.USAGE: "bad usage or invalid config",
    ExitCode.INTERRUPTED: "interrupted by SIGINT (Ctrl-C)",
    ExitCode.TERMINATED: "stopped by SIGTERM",
}
_RUNNER: dict[ExitCode, str] = {
    ExitCode.OK: "success",
    ExitCode.FAILED: "a run (or a connector check) failed",
    ExitCode.USAGE: "bad usage or an invalid project file / config",
    ExitCode.LOCKED: "the pipeline is locked by another live run (the run was refused)",
    ExitCode.TIMEOUT: "the run timed out (--timeout)",
    ExitCode.NOT_STARTED: "a connector could not be started (recorded for the connector; the run exits 1)",
    ExitCode.INTERRUPTED: "interrupted by SIGINT (Ctrl-C)",
    ExitCode.TERMINATED: "interrupted by SIGTERM",
}

#: what a connector (tap or target) may exit with
CONNECTOR_CODES = tuple(_CONNECTOR)
#: what ``sluice`` may exit with
RUNNER_CODES = tuple(code for code in _RUNNER if code is not ExitCode.NOT_STARTED)


def describe_exit_codes(codes: tuple[ExitCode, ...], *, connector: bool = False, sep: str = "; ") -> str:
    """``codes`` with their meanings, "0 success; 1 ..." (a connector's words with ``connector``)."""
    words = _CONNECTOR if connector else _RUNNER
    return sep.join(f"{int(code)} {words[code]}" for code in codes)
