"""Running a tap and a target as a pair of processes joined by a pipe.

The tap's stdout is a pipe whose other end is the target's stdin; the runner never reads
it. One loop (``selectors``) reads both stderrs and the target's stdout, reaps the
children (pidfds, so an exit is seen at once), and reacts:

- the tap fails: the target gets EOF, may finish and send STATE for what it committed;
  the run fails with the tap's error;
- the target fails (or quits early): the tap is stopped, SIGTERM then SIGKILL after
  ``grace`` seconds; the run fails with the target's error;
- the first cause is what the run reports. A failing tap breaks the target's input, and the
  target may exit first (the tap still logging or cleaning up); a failing target only breaks
  the tap's output pipe. So when the target fails the tap gets ``SETTLE_SECONDS`` to exit on
  its own: a tap failure that is not a broken pipe (SIGPIPE, "Broken pipe", EPIPE) is the
  cause; otherwise the target is, and the tap is stopped;
- SIGINT/SIGTERM to the runner, or ``timeout``: the tap is stopped first so the target can
  commit and send its last STATE; the target is stopped ``grace`` s later if still alive.
  A second signal kills both at once. ``on_stop(cause)`` hears of a stop first ("SIGINT",
  "SIGTERM", "timeout"), and the outcome names it (``stopped_by``). A timeout that cut
  nothing short (the tap had finished by itself, and the target then finished by itself,
  both with exit code 0) does not fail the run.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from protocol import ExitCode
from runner.outcome import Outcome, RunStatus, StopCause
from runner.output import RunOutput
from runner.pumps import LineBuffer, StateReader
from runner.sides import Side

__all__ = ["Side", "SideSpec", "supervise"]

PIPE_SIZE = 1 << 20
_F_SETPIPE_SZ = 1031
POLL_SECONDS = 0.5
DRAIN_SECONDS = 2.0
LOCK_CHECK_SECONDS = 30.0
SETTLE_SECONDS = 1.0


@dataclass
class SideSpec:
    role: str  # "tap" or "target"
    name: str
    argv: list[str]
    env: dict[str, str]
    preexec: Callable[[], None] | None = None
    cwd: str | None = None
    pass_fds: tuple[int, ...] = ()  # the target's exactly-once control channel (runner/reconcile.py)


class _Supervisor:
    def __init__(
        self,
        tap: SideSpec,
        target: SideSpec,
        output: RunOutput,
        on_state: Callable[[dict[str, Any]], None],
        *,
        timeout: float | None,
        grace: float,
        lock_alive: Callable[[], bool] | None,
        on_tap_exit: Callable[[bool], None] | None = None,
        on_stop: Callable[[StopCause], None] | None = None,
    ) -> None:
        self.on_tap_exit, self.on_stop = on_tap_exit, on_stop
        self.stop_cause: StopCause | None = None
        self.tap = Side(tap)
        self.target = Side(target)
        self.output = output
        self.timeout = timeout
        self.grace = grace
        self.lock_alive = lock_alive
        self.sel = selectors.DefaultSelector()
        self.states = StateReader(on_state, self._target_stdout_other)
        self.failure: tuple[str, str] | None = None
        self.stop_reason: str | None = None
        self.stop_started: float | None = None
        self.interrupted = False
        self.timed_out = False
        self.signals: list[int] = []
        self.started = time.monotonic()
        self.open_fds = 0

    # -- start ----------------------------------------------------------------------------
    def _spawn(self, side: Side, stdin: Any, stdout: Any) -> None:
        spec = side.spec
        try:
            side.proc = subprocess.Popen(
                spec.argv, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, env=spec.env, cwd=spec.cwd,
                preexec_fn=spec.preexec, start_new_session=True, pass_fds=spec.pass_fds,
            )
        except (OSError, subprocess.SubprocessError) as exc:  # SubprocessError: preexec (limits) failed
            side.start_error = getattr(exc, "strerror", None) or str(exc)
            side.rc = ExitCode.NOT_STARTED
            return
        assert side.proc.stderr is not None
        self._register(side.proc.stderr.fileno(), ("stderr", side, LineBuffer()))
        pidfd = _pidfd(side.proc.pid)
        if pidfd is not None:
            self._register(pidfd, ("exit", side, None), count=False)

    def _register(self, fd: int, data: tuple[str, Side | None, LineBuffer | None], count: bool = True) -> None:
        os.set_blocking(fd, False)
        self.sel.register(fd, selectors.EVENT_READ, data)
        if count:
            self.open_fds += 1

    def start(self) -> None:
        read_end, write_end = os.pipe2(os.O_CLOEXEC)
        with contextlib.suppress(OSError):
            fcntl.fcntl(write_end, _F_SETPIPE_SZ, PIPE_SIZE)
        try:
            self._spawn(self.target, read_end, subprocess.PIPE)
            if self.target.proc is None:
                self._fail("target", self.target.failure_reason())
                self.tap.start_error = "not started: the target could not start"
                self.tap.rc = ExitCode.NOT_STARTED
                return
            assert self.target.proc.stdout is not None
            self._register(self.target.proc.stdout.fileno(), ("state", self.target, None))
            self._spawn(self.tap, subprocess.DEVNULL, write_end)
            if self.tap.proc is None:
                self._fail("tap", self.tap.failure_reason())
                self._tap_exited(False)
        finally:
            os.close(read_end)
            os.close(write_end)

    # -- events ---------------------------------------------------------------------------
    def _target_stdout_other(self, text: str) -> None:
        self.output.runner_line(f"{self.target.spec.name} wrote a non-STATE line on stdout: {text}", terminal=False)

    def _read(self, key: selectors.SelectorKey) -> None:
        kind, side, buffer = key.data
        fd = key.fd
        if kind == "exit":
            self.sel.unregister(fd)
            os.close(fd)
            self._reap(side)
            return
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return
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
        self.output.runner_line(f"{side.spec.role} {side.spec.name} finished: {side.describe_exit()}", terminal=False)
        if side is self.tap:
            self._tap_exited(rc == ExitCode.OK and not side.stopped_by_us)
        self._judge()

    def _judge(self) -> None:
        """Name the first cause as soon as the exits tell it (see the module docstring)."""
        tap, target = self.tap, self.target
        if tap.failed_by_itself and not tap.broke_pipe:
            self._fail("tap", tap.failure_reason())
        elif tap.running or target.running:
            return  # a target that exited while the tap runs: see _tick; a broken pipe: wait for the target
        elif target.rc != ExitCode.OK:
            self._fail("target", target.failure_reason())
        elif tap.failed_by_itself:
            self._fail("target", f"exited (exit code 0) before reading all of the tap's output; "
                                 f"the tap then ended with: {tap.failure_reason()}")

    def _tap_exited(self, ok: bool) -> None:
        """Exactly-once: the target commits records no STATE covers only after a clean exit."""
        if self.on_tap_exit is not None:
            self.on_tap_exit(ok and self.stop_reason is None)

    def _fail(self, role: str, reason: str) -> None:
        if self.failure is None and self.stop_reason is None:
            self.failure = (role, reason)

    def _terminate(self, side: Side, sig: int = signal.SIGTERM) -> None:
        if not side.running or side.proc is None:
            return
        side.stopped_by_us = True
        if sig == signal.SIGTERM and side.term_sent is not None:
            return
        if sig == signal.SIGTERM:
            side.term_sent = time.monotonic()
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
            if self.tap.rc == ExitCode.OK:
                self.output.runner_line(f"{reason}: the tap has finished; the target may still commit")
            else:
                self.output.runner_line(f"{reason}: stopping the tap; the target may commit what it has")
        self._terminate(self.tap)

    def _tick(self, now: float) -> None:
        while self.signals:
            signum = self.signals.pop(0)
            name = signal.Signals(signum).name
            self.interrupted = True
            if self.stop_reason is None:
                self._stop(f"interrupted by {name}", StopCause(name))
            else:
                self.output.runner_line(f"{name} again: killing both connectors")
                self._terminate(self.tap, signal.SIGKILL)
                self._terminate(self.target, signal.SIGKILL)
        if self.timeout is not None and self.stop_reason is None and now - self.started > self.timeout:
            self.timed_out = True
            self._stop(f"timed out after {self.timeout:g} s", StopCause.TIMEOUT)
        for side in (self.tap, self.target):
            if side.running and side.term_sent is not None and now - side.term_sent > self.grace:
                self._terminate(side, signal.SIGKILL)
        target = self.target
        if self.tap.running and target.exited_at is not None:
            waited = now - target.exited_at
            if target.rc != ExitCode.OK and waited > min(SETTLE_SECONDS, self.grace):
                self._fail("target", target.failure_reason())  # the tap did not fail by itself meanwhile
                self._terminate(self.tap)
            elif target.rc == ExitCode.OK and waited > self.grace:
                self._fail("target", "exited (exit code 0) before the tap finished")
                self._terminate(self.tap)
        # a stop: the tap has had `grace` s to exit, the target `grace` more to commit
        if self.stop_started is not None and self.target.running and self.target.term_sent is None:
            if now - self.stop_started > 2 * self.grace:
                self._terminate(self.target)

    # -- loop -----------------------------------------------------------------------------
    def run(self) -> Outcome:
        wake_r, wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        old_wakeup = signal.set_wakeup_fd(wake_w)
        old_handlers = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        self.sel.register(wake_r, selectors.EVENT_READ, ("wake", None, None))
        try:
            self.start()
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
            self._reap(self.target)
            self._reap(self.tap)
            self._tick(now)
            if self.lock_alive is not None and now - last_lock_check > LOCK_CHECK_SECONDS:
                last_lock_check = now
                if not self.lock_alive():
                    self._fail("runner", "lost the pipeline lock (state store connection broken)")
                    self._stop("lost the pipeline lock", StopCause.LOCK)
            if self.tap.rc is not None and self.target.rc is not None:
                exited_at = exited_at or now
                if self.open_fds == 0 or now - exited_at > DRAIN_SECONDS:
                    break
            if self.output.progress_due(now):
                self.output.progress(self.tap.stats, self.target.stats, now - self.started)

    def _kill_leftovers(self) -> None:
        for side in (self.tap, self.target):
            if side.proc is None:
                continue
            if side.rc is None:
                self._terminate(side, signal.SIGKILL)
                side.rc = side.proc.wait()
            for stream in (side.proc.stdout, side.proc.stderr):
                if stream is not None and not stream.closed:
                    stream.close()

    def _outcome(self) -> Outcome:
        elapsed = time.monotonic() - self.started
        role: str | None
        reason: str | None
        if self.failure is not None:
            role, reason = self.failure
            status = RunStatus.FAILED
        elif self.stop_reason is not None and self._cut_short():
            role, reason = "runner", self.stop_reason
            status = RunStatus.INTERRUPTED if self.interrupted else RunStatus.FAILED
        else:
            role, reason, status = None, None, RunStatus.SUCCEEDED
            for side in (self.tap, self.target):
                if side.rc != ExitCode.OK:
                    role, reason, status = side.spec.role, side.failure_reason(), RunStatus.FAILED
                    break
        stopped_by = self.stop_cause if role == "runner" and self.stop_cause is not StopCause.LOCK else None
        return Outcome(status, role, reason, self.tap, self.target, self.states.states, elapsed, stopped_by)

    def _cut_short(self) -> bool:
        """Whether the stop took work away. A timeout after which both sides still finished
        by themselves with exit code 0 did not: the tap emitted all, the target read it all."""
        if self.interrupted or not self.timed_out:
            return True
        return any(side.rc != ExitCode.OK or side.stopped_by_us for side in (self.tap, self.target))


def _pidfd(pid: int) -> int | None:
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        return int(opener(pid))
    except OSError:
        return None


def supervise(
    tap: SideSpec,
    target: SideSpec,
    output: RunOutput,
    on_state: Callable[[dict[str, Any]], None],
    *,
    timeout: float | None = None,
    grace: float = 10.0,
    lock_alive: Callable[[], bool] | None = None,
    on_tap_exit: Callable[[bool], None] | None = None,
    on_stop: Callable[[StopCause], None] | None = None,
) -> Outcome:
    """Run the pair to the end and say how it went. Never leaves a child behind.

    ``on_tap_exit(ok)`` is called once the tap has exited: ok when it exited 0 on its own;
    ``on_stop(cause)`` when the runner starts stopping the run ("SIGINT", "SIGTERM", "timeout").
    """
    return _Supervisor(tap, target, output, on_state, timeout=timeout, grace=grace, lock_alive=lock_alive,
                       on_tap_exit=on_tap_exit, on_stop=on_stop).run()
