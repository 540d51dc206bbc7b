"""Exactly-once runs: the control channel to the target, and reconciling the state store.

A target that lists ``sluice-exactly-once`` in its ``--about`` capabilities stores its
committed state (STATE value, generation, sequence) with its data, in the same transaction
(protocol/_exactly_once.py). For such a target the runner, before the run:

1. asks it for that committed state (``TARGET --config ... --committed-state STATE_ID``);
2. uses it instead of the store's when its generation is the store's: the destination
   committed it, even if the runner died before storing the echo. A deliberate reset
   (`sluice state set|clear`, ``--full-refresh``) bumps the store's generation, so it wins;
3. starts the target with ``SLUICE_STATE_ID``, ``SLUICE_STATE_GENERATION`` and
   ``SLUICE_CONTROL_FD``: the read end of a pipe whose write end only the runner holds.
   When the tap exits the runner writes ``tap-ok`` (exit 0, not stopped by us) or
   ``tap-failed``; the pipe closes when the runner exits or dies. A run the runner stops
   (SIGINT, SIGTERM, ``--timeout``) is announced first with ``stop REASON``.

Third-party targets never see any of this: they run as before (at-least-once).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from typing import Any

from protocol import (
    CONTROL_STOP,
    CONTROL_TAP_FAILED,
    CONTROL_TAP_OK,
    ENV_CONTROL_FD,
    ENV_GENERATION,
    ENV_STATE_ID,
    EXACTLY_ONCE_CAPABILITY,
    STOP_LOCK,
    Committed,
    ExitCode,
    JSONDecodeError,
    SluiceError,
)
from runner.pumps import SideStats

__all__ = ["ControlPipe", "ReconcileError", "choose_state", "read_committed", "supports_exactly_once"]

READ_TIMEOUT = 120.0


class ReconcileError(SluiceError):
    """The destination's committed state cannot be read: the run does not start."""


def supports_exactly_once(info: dict[str, Any] | None) -> bool:
    caps = (info or {}).get("capabilities")
    return isinstance(caps, list) and EXACTLY_ONCE_CAPABILITY in caps


def read_committed(argv: list[str], config: str, state_id: str, env: dict[str, str], name: str,
                   cwd: str | None = None) -> Committed | None:
    """The target's committed state for ``state_id`` (None: it has none); run in ``cwd``."""
    try:
        done = subprocess.run([*argv, "--config", config, "--committed-state", state_id], capture_output=True,
                              env=env, cwd=cwd, stdin=subprocess.DEVNULL, timeout=READ_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ReconcileError(f"cannot read the committed state of target '{name}': {exc}") from exc
    if done.returncode != ExitCode.OK:
        stats = SideStats()
        for line in done.stderr.decode("utf-8", "replace").splitlines():
            stats.take(line)
        detail = stats.last_error or stats.last_line or f"exit code {done.returncode}"
        raise ReconcileError(f"cannot read the committed state of target '{name}': {detail}")
    out = done.stdout.strip().splitlines()
    try:
        return Committed.from_json(out[-1]) if out else None
    except (JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ReconcileError(f"target '{name}' printed an invalid committed state: {exc}") from exc


def choose_state(stored: dict[str, Any] | None, generation: int,
                 committed: Committed | None) -> tuple[dict[str, Any] | None, bool]:
    """The state to start from, and whether it is the destination's (not the store's).

    The destination's value wins when it belongs to the store's generation: it is exactly
    what its committed rows are covered by. Otherwise (an older generation: the state was
    reset since; no value; no committed state at all) the store's wins.
    """
    if committed is None or committed.value is None or committed.generation != generation:
        return stored, False
    return committed.value, committed.value != stored


class ControlPipe:
    """The runner's end of the control channel; the target inherits ``read_fd``."""

    def __init__(self, state_id: str, generation: int) -> None:
        self.read_fd, self.write_fd = os.pipe2(os.O_CLOEXEC)
        self.env = {ENV_STATE_ID: state_id, ENV_GENERATION: str(generation), ENV_CONTROL_FD: str(self.read_fd)}
        self._told = False

    def tap_exited(self, ok: bool) -> None:
        """Tell the target how the tap ended (once); the pipe stays open until :meth:`close`."""
        if self._told:
            return
        self._told = True
        with contextlib.suppress(OSError):  # the target is gone already: nothing to tell
            os.write(self.write_fd, CONTROL_TAP_OK if ok else CONTROL_TAP_FAILED)

    def stopping(self, reason: str) -> None:
        """Tell the target the run is being stopped, and why ("SIGINT", "SIGTERM", "timeout", "lock"),
        before the tap is: its input may then end in the middle of a line, cut rather than written
        wrong. A lost lock is said even after the verdict: the target must not commit any more."""
        if self._told and reason != STOP_LOCK:
            return
        with contextlib.suppress(OSError):
            os.write(self.write_fd, CONTROL_STOP + reason.encode("ascii", "replace") + b"\n")

    def close(self) -> None:
        for fd in (self.read_fd, self.write_fd):
            with contextlib.suppress(OSError):
                os.close(fd)
