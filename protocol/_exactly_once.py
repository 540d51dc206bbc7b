"""Exactly-once delivery under the `sluice` runner: what a target learns from it, and keeps.

When the runner starts one of our targets (it advertises :data:`EXACTLY_ONCE_CAPABILITY` in ``--about``),
it passes three environment variables::

    SLUICE_STATE_ID          the pipeline's state id: the key of the committed state
    SLUICE_STATE_GENERATION  bumped by `sluice state set|clear` and --full-refresh
    SLUICE_CONTROL_FD        the read end of a pipe from the runner (the control channel)

The target then commits records only together with a STATE covering them, and stores
``(state id -> generation, sequence, complete, STATE value)`` in the same transaction
(a ``_sluice_state`` table, or a commit marker beside the files). Records after the last
STATE are committed at the end only if the runner wrote ``tap-ok`` on the control channel
(the tap exited 0); ``tap-failed`` (the tap failed or was stopped) or the channel closed
(the runner is gone) means they are rolled back, and an orphaned target commits nothing.
When the runner stops a run (it got SIGINT or SIGTERM, or ``--timeout`` expired) it first
writes ``stop REASON`` (``stop SIGINT``, ``stop SIGTERM``, ``stop timeout``): a target whose
input then ends in the middle of a line knows the line was cut, not written wrong. ``stop lock``
(the run lost its pipeline lock: its state store session ended or stopped answering) is said even
after the verdict, and the target commits nothing after it: another host may run the pipeline now.

Before a run, ``TARGET --committed-state STATE_ID`` prints the committed :class:`Committed`
as JSON (``null`` if none); the runner uses its value when its generation is the store's
(see runner/reconcile.py).

Without these variables (a shell pipe, Meltano) a target behaves as before: it commits
at batch boundaries and at the end of its input, which is at-least-once.
"""

from __future__ import annotations

import os
import select
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from protocol._errors import ConfigError
from protocol._jsoncodec import dumps, loads

__all__ = ["CONTROL_STOP", "CONTROL_TAP_FAILED", "CONTROL_TAP_OK", "STOP_LOCK", "Committed", "Control",
           "ENV_CONTROL_FD", "ENV_GENERATION", "ENV_STATE_ID", "EXACTLY_ONCE_CAPABILITY"]

EXACTLY_ONCE_CAPABILITY = "sluice-exactly-once"
ENV_STATE_ID = "SLUICE_STATE_ID"
ENV_GENERATION = "SLUICE_STATE_GENERATION"
ENV_CONTROL_FD = "SLUICE_CONTROL_FD"
CONTROL_TAP_OK = b"tap-ok\n"
CONTROL_TAP_FAILED = b"tap-failed\n"
CONTROL_STOP = b"stop "  # + the reason the runner stops the run, and a newline
STOP_LOCK = "lock"  # the reason when the run lost its pipeline lock: said even after the verdict


@dataclass(frozen=True)
class Committed:
    """What a destination committed last for one state id, in the same transaction as its rows."""

    generation: int
    sequence: int
    complete: bool  # the run that committed it saw its tap exit 0 and committed everything
    value: dict[str, Any] | None  # the STATE value covering the committed rows (None: none yet)

    def to_json(self) -> bytes:
        return dumps({"generation": self.generation, "sequence": self.sequence,
                      "complete": self.complete, "value": self.value})

    @classmethod
    def from_dict(cls, data: Any) -> Committed | None:
        if data is None:
            return None
        if not isinstance(data, dict):
            raise ValueError("a committed state must be a JSON object or null")
        value = data.get("value")
        if value is not None and not isinstance(value, dict):
            raise ValueError("the committed STATE value must be an object or null")
        return cls(int(data["generation"]), int(data.get("sequence") or 0), bool(data.get("complete")), value)

    @classmethod
    def from_json(cls, text: str | bytes) -> Committed | None:
        return cls.from_dict(loads(text))


class Control:
    """The runner's side of a run, as the target sees it: which state id, and the channel.

    The runner writes one verdict line when the tap has exited (``tap-ok`` or ``tap-failed``)
    and keeps its end open until the target exits, so end-of-file on the channel means only
    one thing: the runner is gone.
    """

    def __init__(self, state_id: str, generation: int, fd: int) -> None:
        self.state_id = state_id
        self.generation = generation
        self.fd = fd
        self.verdict: bytes | None = None  # CONTROL_TAP_OK or CONTROL_TAP_FAILED once the runner sent it
        self.stop: str | None = None  # why the runner stopped the run: "SIGINT", "SIGTERM", "timeout", ...
        self.gone = False  # end of file: the runner died (or closed the channel early)
        self._buf = b""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Control | None:
        env = os.environ if environ is None else environ
        state_id, fd = env.get(ENV_STATE_ID), env.get(ENV_CONTROL_FD)
        if not state_id or not fd:
            return None
        try:
            number, generation = int(fd), int(env.get(ENV_GENERATION) or 0)
            os.fstat(number)
        except (ValueError, OSError) as exc:
            raise ConfigError(f"{ENV_CONTROL_FD}={fd!r}, {ENV_GENERATION}: not an open descriptor and an "
                              f"integer: {exc}") from None
        return cls(state_id, generation, number)

    def _read(self, timeout: float | None) -> None:
        """Read what the runner sent; ``timeout`` None waits for a verdict or the end of file."""
        poller = select.poll()  # not select(): the descriptor may be above FD_SETSIZE
        poller.register(self.fd, select.POLLIN)
        while not self.gone and self.verdict is None:
            if not poller.poll(None if timeout is None else int(timeout * 1000)):
                return
            self._read_chunk()

    def _read_chunk(self) -> None:
        """One read of the channel (it is readable): its whole lines taken, end of file noted."""
        chunk = os.read(self.fd, 64)
        if not chunk:
            self.gone = True
            return
        *lines, self._buf = (self._buf + chunk).split(b"\n")
        for line in lines:
            self._take(line + b"\n")

    def _take(self, line: bytes) -> None:
        if line in (CONTROL_TAP_OK, CONTROL_TAP_FAILED):
            self.verdict = line
        elif line.startswith(CONTROL_STOP):
            self.stop = line[len(CONTROL_STOP):].strip().decode("ascii", "replace") or "unknown"

    def runner_gone(self) -> bool:
        """Whether the runner died before its verdict (checked without waiting)."""
        self._read(0)
        return self.gone and self.verdict is None

    def commit_refused(self) -> str | None:
        """Checked (without waiting) before every commit: why nothing more may be committed, or None.
        A target orphaned by a killed runner, or of a run that lost its pipeline lock (``stop lock``,
        said even after the verdict), must not commit: another run may already hold the lock and have
        read the committed state, and would load the same records again."""
        if self.runner_gone():
            return "the sluice runner is gone (control channel closed)"
        self._drain()
        if self.stop == STOP_LOCK:
            return "the run lost its pipeline lock (another run may hold it now)"
        return None

    def _drain(self) -> None:
        """Read whatever the runner has sent, verdict or not, without waiting."""
        poller = select.poll()
        poller.register(self.fd, select.POLLIN)
        while not self.gone and poller.poll(0):
            self._read_chunk()

    def stopped(self) -> str | None:
        """Why the runner stopped the run, waiting for its verdict on the tap (None: it did not)."""
        self._read(None)
        return self.stop

    def wait_verdict(self) -> bytes | None:
        """At the end of the input: wait for the runner's verdict on the tap (None: runner gone)."""
        self._read(None)
        return self.verdict
