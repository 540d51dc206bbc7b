"""Running a tap and a target as processes joined by a pipe, with any mappers in between.

The tap's stdout is a pipe whose other end is the target's stdin (or the first mapper's:
tap | m1 | m2 | target); the runner never reads them. One loop (``selectors``) reads every
stderr and the target's stdout, reaps the children (pidfds, so an exit is seen at once),
and reacts:

- the tap fails: the target gets EOF, may finish and send STATE for what it committed;
  the run fails with the tap's error;
- the target fails (or quits early): the tap is stopped, SIGTERM then SIGKILL after
  ``grace`` seconds; the run fails with the target's error. A reader that exits 0 with input left
  in its pipe (the runner holds a read end until it exits) quit early, and is the cause;
- the target writes a tap's output (a SCHEMA or RECORD line, runner/target_stdout.py): it is no
  target; the run fails, every process is stopped, and none of its STATE is stored from then on;
- the first cause is what the run reports. A failing tap breaks the target's input, and the
  target may exit first (the tap still logging or cleaning up); a failing target only breaks
  the tap's output pipe. So when the target fails the tap gets ``SETTLE_SECONDS`` to exit on its
  own: a tap failure that is not a broken pipe (SIGPIPE, "Broken pipe", EPIPE) is the cause;
  otherwise the target is, and the tap is stopped;
- a mapper is the target of what runs before it and the tap of what runs after it: of the
  processes that failed by themselves (not on a broken pipe) the first in the pipe is the
  cause; one that fails while a process before it still runs is the cause unless that one
  fails by itself within ``SETTLE_SECONDS``, and the processes before it are then stopped;
- ``on_tap_exit(ok)`` (the exactly-once verdict) is said once the tap and every mapper have
  exited: ok only when each of them exited 0 by itself, the mappers having read all their input;
- SIGINT/SIGTERM to the runner, or ``timeout``: the tap is stopped first so the mappers see
  the end of their input and the target can commit and send its last STATE; the mappers and
  the target are stopped ``grace`` s later if still alive.
  A second signal kills both at once. ``on_stop(cause)`` hears of a stop first ("SIGINT",
  "SIGTERM", "timeout"), and the outcome names it (``stopped_by``). A timeout that cut
  nothing short (the tap had finished by itself, and the target then finished by itself,
  both with exit code 0) does not fail the run.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from typing import Any

from protocol import ExitCode
from runner.outcome import Outcome, RunStatus, StopCause
from runner.output import RunOutput
from runner.pumps import LineBuffer, SideStats
from runner.sides import Side, SideSpec, cut_short, first_cause, pidfd, wide_pipes
from runner.target_stdout import TargetStdout

__all__ = ["Side", "SideSpec", "supervise"]

POLL_SECONDS = 0.5
DRAIN_SECONDS = 2.0
LOCK_CHECK_SECONDS = 1.0  # a flag the lock's own heartbeat keeps: cheap to read
SETTLE_SECONDS = 1.0


class _Supervisor:
    def __init__(
        self,
        tap: SideSpec,
        target: SideSpec,
        output: RunOutput,
        on_state: Callable[[dict[str, Any]], None],
        *,
        mappers: Sequence[SideSpec] = (),
        timeout: float | None,
        grace: float,
        lock_alive: Callable[[], bool] | None,
        on_tap_exit: Callable[[bool], None] | None = None,
        on_stop: Callable[[StopCause], None] | None = None,
        watch: Callable[[SideStats, SideStats], None] | None = None,
    ) -> None:
        self.on_tap_exit, self.on_stop, self.watch = on_tap_exit, on_stop, watch
        self.stop_cause: StopCause | None = None
        self.tap, self.target = Side(tap), Side(target)
        self.mappers = [Side(spec) for spec in mappers]
        self.chain = [self.tap, *self.mappers, self.target]  # in pipe order
        self.upstream_done = False  # the tap and every mapper have exited (the verdict was said)
        self.output, self.timeout, self.grace, self.lock_alive = output, timeout, grace, lock_alive
        self.sel = selectors.DefaultSelector()
        self.states = TargetStdout(target.name, on_state, output, self._not_a_target)
        self.failure: tuple[Side | None, str] | None = None  # the cause (None: the runner) and why
        self.stop_reason: str | None = None
        self.stop_started: float | None = None
        self.interrupted = self.timed_out = False
        self.signals: list[int] = []
        self.started = time.monotonic()
        self.open_fds = 0

    # -- start ----------------------------------------------------------------------------
    def _spawn(self, side: Side, stdin: Any, stdout: Any) -> None:
        if not side.spawn(stdin, stdout):
            return
        assert side.proc is not None and side.proc.stderr is not None
        self._register(side.proc.stderr.fileno(), ("stderr", side, LineBuffer()))
        exit_fd = pidfd(side.proc.pid)
        if exit_fd is not None:
            self._register(exit_fd, ("exit", side, None), count=False)

    def _register(self, fd: int, data: tuple[str, Side | None, LineBuffer | None], count: bool = True) -> None:
        os.set_blocking(fd, False)
        self.sel.register(fd, selectors.EVENT_READ, data)
        if count:
            self.open_fds += 1

    def start(self) -> None:
        """Start the processes from the target back to the tap, each writing into the pipe of
        the next; one that cannot start leaves those before it unstarted."""
        pipes = wide_pipes(len(self.chain) - 1)
        try:
            for k in range(len(self.chain) - 1, -1, -1):
                side = self.chain[k]
                self._spawn(side, pipes[k - 1][0] if k else subprocess.DEVNULL,
                            pipes[k][1] if k < len(pipes) else subprocess.PIPE)
                if k and side.proc is not None:
                    side.input_fd = pipes[k - 1][0]  # kept open: see Side.close_input
                if side.proc is None:
                    self._fail(side, side.failure_reason())
                    for before in self.chain[:k]:
                        before.start_error = f"not started: {side.title} could not start"
                        before.rc = ExitCode.NOT_STARTED
                    break
                if side is self.target:
                    assert side.proc.stdout is not None
                    self._register(side.proc.stdout.fileno(), ("state", side, None))
        finally:
            kept = {side.input_fd for side in self.chain}
            for fd in (fd for pair in pipes for fd in pair if fd not in kept):
                os.close(fd)
        if self.target.proc is not None:
            self._upstream_exited()

    # -- events ---------------------------------------------------------------------------
    def _not_a_target(self, reason: str) -> None:
        self.failure = self.failure or (self.target, reason)  # a stop under way does not excuse it
        for side in self.chain:
            self._terminate(side)

    def _read(self, key: selectors.SelectorKey) -> bool:
        """Handle one ready descriptor; True when it gave data and may give more now."""
        kind, side, buffer = key.data
        fd = key.fd
        if kind == "exit":
            self.sel.unregister(fd)
            os.close(fd)
            self._reap(side)
            return False
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return False
        if kind == "state":
            if chunk:
                self.states.feed(chunk)
            else:
                self.states.close()
        else:
            lines = buffer.feed(chunk) if chunk else buffer.close()
            for raw in lines:
                self._stderr_line(side, raw)
        if not chunk:
            self.sel.unregister(fd)
            self.open_fds -= 1
            # the Popen object owns the file object; closing it closes the fd
            proc = side.proc
            stream = proc.stdout if kind == "state" else proc.stderr
            stream.close()
        return bool(chunk)

    def _drain_stderr(self, side: Side) -> None:
        """An exited process's stderr, read before its exit is judged (its last line may say "Broken
        pipe": a consequence, not the cause); bounded, a grandchild still writing is not waited for."""
        stream = side.proc.stderr if side.proc is not None else None
        if stream is None or stream.closed:
            return
        try:
            key = self.sel.get_key(stream.fileno())
        except (KeyError, ValueError):
            return
        for _ in range(64):
            if not self._read(key):
                return

    def _stderr_line(self, side: Side, raw: bytes) -> None:
        text = raw.decode("utf-8", "replace").rstrip("\r")
        metric = side.stats.take(text)
        self.output.connector_line(side.spec.role, side.spec.name, text, metric=metric)

    def _on_signal(self, signum: int, frame: object) -> None:
        self.signals.append(signum)

    # -- children -------------------------------------------------------------------------
    def _reap(self, side: Side) -> None:
        if side.proc is None or side.rc is not None:
            return
        rc = side.proc.poll()
        if rc is None:
            return
        side.rc = rc
        side.exited_at = time.monotonic()
        self._drain_stderr(side)
        side.close_input()
        self.output.runner_line(f"{side.spec.role} {side.spec.name} finished: {side.describe_exit()}", terminal=False)
        if side.quit_early:
            self._fail(side, side.quit_early_reason(self.chain[self.chain.index(side) - 1]))
        if side is not self.target:
            self._upstream_exited()
        self._judge()

    def _judge(self) -> None:
        """Name the first cause as soon as the exits tell it (see the module docstring)."""
        cause = first_cause(self.chain)
        if cause is not None:
            self._fail(*cause)

    def _upstream_exited(self) -> None:
        """Exactly-once: once the tap and every mapper have exited, tell the target whether all of
        them did so cleanly; only then does it commit records no STATE covers."""
        upstream = self.chain[:-1]
        if self.upstream_done or any(side.rc is None for side in upstream):
            return
        self.upstream_done = True
        ok = all(side.rc == ExitCode.OK and not side.stopped_by_us and not side.quit_early for side in upstream)
        if self.on_tap_exit is not None:
            self.on_tap_exit(ok and self.stop_reason is None)

    def _fail(self, side: Side | None, reason: str) -> None:
        if self.failure is None and self.stop_reason is None:
            self.failure = (side, reason)

    def _terminate(self, side: Side, sig: int = signal.SIGTERM) -> None:
        if not side.running or side.proc is None:
            return
        side.stopped_by_us = True
        if side.term_sent is not None if sig == signal.SIGTERM else side.kill_sent:
            return  # sent already: once each
        if sig == signal.SIGTERM:
            side.term_sent = time.monotonic()
        side.kill_sent = side.kill_sent or sig == signal.SIGKILL
        self.output.runner_line(f"sending {signal.Signals(sig).name} to {side.spec.role} {side.spec.name}")
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(side.proc.pid, sig)

    def _stop(self, reason: str, cause: StopCause) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
            self.stop_cause = cause
            self.stop_started = time.monotonic()
            if self.on_stop is not None:
                self.on_stop(cause)
            tail = ("stopping the tap; an exactly-once target commits nothing more" if cause == StopCause.LOCK
                    else "the tap has finished; the target may still commit" if self.tap.rc == ExitCode.OK
                    else "stopping the tap; the target may commit what it has")
            self.output.runner_line(f"{reason}: {tail}")  # lock: another host may run it now
        self._terminate(self.tap)

    def _tick(self, now: float) -> None:
        while self.signals:
            signum = self.signals.pop(0)
            name = signal.Signals(signum).name
            self.interrupted = True
            if self.stop_reason is None:
                self._stop(f"interrupted by {name}", StopCause(name))
            else:
                self.output.runner_line(f"{name} again: killing {'both connectors' if not self.mappers else 'all'}")
                for side in self.chain:
                    self._terminate(side, signal.SIGKILL)
        if self.timeout is not None and self.stop_reason is None and now - self.started > self.timeout:
            self.timed_out = True
            self._stop(f"timed out after {self.timeout:g} s", StopCause.TIMEOUT)
        for side in self.chain:
            if side.running and side.term_sent is not None and now - side.term_sent > self.grace:
                self._terminate(side, signal.SIGKILL)
        for i, side in enumerate(self.chain[1:], start=1):
            self._exited_early(side, [before for before in self.chain[:i] if before.running], now)
        # a stop: the tap has had `grace` s to exit, the mappers and the target `grace` more
        if self.stop_started is not None and now - self.stop_started > 2 * self.grace:
            for side in self.chain[1:]:
                if side.running and side.term_sent is None:
                    self._terminate(side)

    def _exited_early(self, side: Side, running_before: list[Side], now: float) -> None:
        """``side`` exited while processes before it in the pipe still run."""
        if side.exited_at is None or not running_before:
            return
        waited = now - side.exited_at
        if side.rc != ExitCode.OK and waited > min(SETTLE_SECONDS, self.grace):
            self._fail(side, side.failure_reason())  # none before it failed by itself meanwhile
        elif side.rc == ExitCode.OK and waited > self.grace:
            self._fail(side, f"exited (exit code 0) before {self.chain[self.chain.index(side) - 1].title} finished")
        else:
            return
        for before in running_before:
            self._terminate(before)

    # -- loop -----------------------------------------------------------------------------
    def run(self) -> Outcome:
        wake_r, wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        old_wakeup = signal.set_wakeup_fd(wake_w)
        old_handlers = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        self.sel.register(wake_r, selectors.EVENT_READ, ("wake", None, None))
        try:
            self.start()
            if self.watch is not None:  # the live progress timer (runner/live_progress.py), once all started
                self.watch(self.tap.stats, self.target.stats)
            self._loop()
        finally:
            for s, handler in old_handlers.items():
                signal.signal(s, handler)
            signal.set_wakeup_fd(old_wakeup)
            self._kill_leftovers()
            self.sel.close()
            os.close(wake_r)
            os.close(wake_w)
            self.output.end_progress()
        return self._outcome()

    def _loop(self) -> None:
        last_lock_check = time.monotonic()
        exited_at: float | None = None
        while True:
            for key, _ in self.sel.select(POLL_SECONDS):
                if key.data[0] == "wake":
                    with contextlib.suppress(BlockingIOError):
                        os.read(key.fd, 512)
                    continue
                self._read(key)
            now = time.monotonic()
            for side in reversed(self.chain):
                self._reap(side)
            self._tick(now)
            if self.lock_alive is not None and now - last_lock_check > LOCK_CHECK_SECONDS:
                last_lock_check = now
                if not self.lock_alive():
                    self._fail(None, "lost the pipeline lock (its state store session ended or stopped answering); "
                                     "no state is stored from now on")
                    self._stop("lost the pipeline lock", StopCause.LOCK)
            if all(side.rc is not None for side in self.chain):
                exited_at = exited_at or now
                if self.open_fds == 0 or now - exited_at > DRAIN_SECONDS:
                    break
            if self.output.progress_due(now):
                self.output.progress(self.tap.stats, self.target.stats, now - self.started)

    def _kill_leftovers(self) -> None:
        for side in self.chain:
            if side.running and side.proc is not None:
                self._terminate(side, signal.SIGKILL)
                side.rc = side.proc.wait()
            side.close_input()
            side.close_streams()

    def _outcome(self) -> Outcome:
        elapsed = time.monotonic() - self.started
        culprit: Side | None = None
        role: str | None
        reason: str | None
        if self.failure is not None:
            culprit, reason = self.failure
            role, status = culprit.spec.role if culprit else "runner", RunStatus.FAILED
        elif self.stop_reason is not None and cut_short(self.chain, self.interrupted, self.timed_out):
            role, reason = "runner", self.stop_reason
            status = RunStatus.INTERRUPTED if self.interrupted else RunStatus.FAILED
        else:
            role, reason, status = None, None, RunStatus.SUCCEEDED
            for side in self.chain:
                if side.rc != ExitCode.OK:
                    culprit, role, reason, status = side, side.spec.role, side.failure_reason(), RunStatus.FAILED
                    break
        stopped_by = self.stop_cause if role == "runner" and self.stop_cause is not StopCause.LOCK else None
        return Outcome(status, role, reason, self.tap, self.target, self.states.states, elapsed, stopped_by,
                       self.mappers, culprit.spec.name if culprit else None, self.states.overlong)


def supervise(
    tap: SideSpec,
    target: SideSpec,
    output: RunOutput,
    on_state: Callable[[dict[str, Any]], None],
    *,
    mappers: Sequence[SideSpec] = (),
    timeout: float | None = None,
    grace: float = 10.0,
    lock_alive: Callable[[], bool] | None = None,
    on_tap_exit: Callable[[bool], None] | None = None,
    on_stop: Callable[[StopCause], None] | None = None,
    watch: Callable[[SideStats, SideStats], None] | None = None,
) -> Outcome:
    """Run tap | mappers | target to the end and say how it went. Never leaves a child behind.

    ``on_tap_exit(ok)`` once the tap and every mapper have exited: ok when each exited 0 on its own;
    ``on_stop(cause)`` when the runner starts stopping the run ("SIGINT", "SIGTERM", "timeout");
    ``watch(tap_stats, target_stats)`` once every process started: the counts the loop keeps up to date.
    """
    return _Supervisor(tap, target, output, on_state, mappers=mappers, timeout=timeout, grace=grace,
                       lock_alive=lock_alive, on_tap_exit=on_tap_exit, on_stop=on_stop, watch=watch).run()
