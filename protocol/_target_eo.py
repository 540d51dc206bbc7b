"""The exactly-once half of :class:`protocol._target.Target` (see protocol/_exactly_once.py).

Under `sluice`, a target with ``exactly_once = True`` commits only at STATE boundaries:
the target's drain only writes (``_flush_sinks``), :meth:`_at_state_boundary` commits when
``state_flush_seconds`` passed or ``batch_size_rows`` records wait, with that STATE's value
in the same transaction (:meth:`commit_state`), and :meth:`_finish_exactly_once` commits
the records after the last STATE only when the runner says the tap exited 0.
"""

from __future__ import annotations

import logging
import time
from typing import Any, ClassVar

from protocol._errors import TargetError
from protocol._exactly_once import CONTROL_TAP_OK, Committed, Control
from protocol._signals import stop_held
from protocol._wording import plural

__all__ = ["ExactlyOnceMixin"]

log = logging.getLogger("sluice.target")


class ExactlyOnceMixin:
    """Mixed into Target; the attributes below are the Target's."""

    #: whether the target stores its committed state with its data (then its ``capabilities``
    #: list protocol._exactly_once.EXACTLY_ONCE_CAPABILITY, which is how the runner knows)
    exactly_once: ClassVar[bool] = False
    sinks: dict[str, Any]
    batch_size_rows: int
    state_flush_seconds: float
    _pending_state: dict[str, Any] | None
    _state_since: float

    def init_exactly_once(self) -> None:
        #: the runner's control channel: set when run by `sluice` with exactly-once
        self.control: Control | None = Control.from_env() if self.exactly_once else None
        #: the destination's committed state at the start, and after each commit
        self.previous: Committed | None = None
        self.last_commit: Committed | None = None
        self._covered = 0  # records received up to the last STATE message
        self._since_commit = 0  # records since the last commit
        self._committed_at = 0.0

    def idle_wait(self) -> float | None:
        """While the input is idle (protocol/_idle.py): seconds until the held STATE is due (0: now),
        or None when there is none to emit. Exactly-once, only a STATE no record came after: its
        commit stores it with everything before it (later records are committed with a later STATE)."""
        if self._pending_state is None:
            return None
        if self.control is None:
            since = self._state_since
        elif self._received() != self._covered:
            return None
        else:
            since = self._committed_at
        return max(0.0, self.state_flush_seconds - (time.monotonic() - since))

    def drain_idle(self) -> None:
        """The held STATE is due and no input came: commit and emit it."""
        if self.control is None:
            self.drain()
        else:
            self._commit_exactly_once(complete=False)

    def drain(self) -> None:
        raise NotImplementedError

    def _received(self) -> int:
        """Records received so far (counted by the sinks, so the record loop pays nothing)."""
        return sum(sink.pending + sink.flushed + sink.committed for sink in self.sinks.values())

    def _flush_sinks(self) -> bool:
        raise NotImplementedError

    def _count_committed(self) -> None:
        raise NotImplementedError

    def _emit_state(self) -> None:
        raise NotImplementedError

    def commit_done(self) -> str:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError

    @property
    def resuming(self) -> bool:
        """Exactly-once: this run continues one that committed part of its data and died
        (same generation, not complete); an ``overwrite`` must then not empty the data again."""
        prev, control = self.previous, self.control
        return (control is not None and prev is not None and prev.generation == control.generation
                and not prev.complete)

    # -- exactly-once hooks (targets with ``exactly_once``) --------------------------------

    def load_committed(self, state_id: str) -> Committed | None:
        """The destination's committed state for ``state_id`` (``--committed-state``)."""
        raise NotImplementedError

    def start_exactly_once(self) -> None:
        """Before the first message: roll the destination back to its committed state
        (files: truncate to the marker) and read it into :attr:`previous`."""
        raise NotImplementedError

    def commit_state(self, committed: Committed) -> None:
        """Commit every flushed sink together with ``committed``, atomically."""
        raise NotImplementedError

    def _at_state_boundary(self) -> None:
        """A STATE arrived: every record so far is covered. Commit if one is due."""
        self._covered = self._received()
        waiting = self._since_commit + sum(sink.pending for sink in self.sinks.values())
        if waiting >= self.batch_size_rows or time.monotonic() - self._committed_at >= self.state_flush_seconds:
            self._commit_exactly_once(complete=False)

    def _commit_exactly_once(self, *, complete: bool) -> None:
        control = self.control
        assert control is not None
        self._flush_sinks()
        refused = control.commit_refused()
        if refused is not None:
            raise TargetError(f"{refused}: nothing more is committed")
        value = self._pending_state
        if value is None:  # no STATE since the last commit: the committed value still holds
            last = self.last_commit or self.previous
            value = last.value if last is not None and last.generation == control.generation else None
        sequence = (self.last_commit or self.previous or Committed(0, 0, True, None)).sequence + 1
        committed = Committed(control.generation, sequence, complete, value)
        # A SIGTERM/SIGINT waits until the STATE is out (protocol/_signals.py): an abort between the
        # commit and the checkpoints would undo committed rows, and one before the STATE would
        # leave committed rows the target never reported.
        with stop_held(self.commit_done()):
            try:
                self.commit_state(committed)
            except OSError as exc:
                raise TargetError(f"cannot commit: {exc}") from exc
            self.last_commit = committed
            self._committed_at = time.monotonic()
            self._count_committed()
            for sink in self.sinks.values():
                sink.checkpoint()
            self._emit_state()

    def _finish_exactly_once(self) -> None:
        """End of input: commit what a STATE covers; the rest only if the tap exited 0."""
        control = self.control
        assert control is not None
        self._flush_sinks()
        verdict = control.wait_verdict()
        if verdict is None:
            raise TargetError("the sluice runner is gone (control channel closed): nothing more is committed")
        uncovered = self._received() - self._covered
        if uncovered and verdict != CONTROL_TAP_OK:
            log.warning("the tap did not finish cleanly: rolled back %s received after its last STATE "
                        "(the next run reads them again)", plural(uncovered, "record"))
            self.abort()
            for sink in self.sinks.values():
                sink.pending = sink.flushed = 0
            self._since_commit = 0
            self._pending_state = None  # a held STATE is rolled back with them: the next run resumes before it
            return
        self._commit_exactly_once(complete=verdict == CONTROL_TAP_OK)
