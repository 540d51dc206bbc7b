"""One side of a run (the tap, a mapper or the target) as the supervisor sees it, and how it ended."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import struct
import subprocess
import termios
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from protocol import ExitCode, signal_exit_code
from runner.pumps import SideStats

__all__ = ["Side", "SideSpec", "cut_short", "first_cause", "pidfd", "wide_pipes"]

PIPE_SIZE = 1 << 20
_F_SETPIPE_SZ = 1031


@dataclass
class SideSpec:
    role: str  # "tap", "mapper" or "target"
    name: str
    argv: list[str]
    env: dict[str, str]
    preexec: Callable[[], None] | None = None
    cwd: str | None = None
    pass_fds: tuple[int, ...] = ()  # the target's exactly-once control channel (runner/reconcile.py)


def wide_pipes(count: int) -> list[tuple[int, int]]:
    """``count`` pipes (close-on-exec) of ``PIPE_SIZE`` bytes where the system allows it."""
    pipes: list[tuple[int, int]] = []
    try:
        for _ in range(count):
            pipes.append(os.pipe2(os.O_CLOEXEC))
            with contextlib.suppress(OSError):
                fcntl.fcntl(pipes[-1][1], _F_SETPIPE_SZ, PIPE_SIZE)
    except OSError:
        for fd in (fd for pair in pipes for fd in pair):
            os.close(fd)
        raise
    return pipes


def pidfd(pid: int) -> int | None:
    """A descriptor that becomes readable when the process exits (None where the OS has none)."""
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        return int(opener(pid))
    except OSError:
        return None


@dataclass
class Side:
    spec: SideSpec
    proc: subprocess.Popen[bytes] | None = None
    rc: int | None = None
    stats: SideStats = field(default_factory=SideStats)
    term_sent: float | None = None
    kill_sent: bool = False
    stopped_by_us: bool = False
    start_error: str | None = None
    exited_at: float | None = None
    input_fd: int | None = None  # the runner's copy of the read end of its input pipe (mappers, the target)
    unread: int = 0  # bytes of its input it left in the pipe when it exited

    def close_input(self) -> None:
        """At its exit: note how much of its input it left unread, then close the runner's copy of
        the pipe (a writer still running gets EPIPE from then on). The copy is what lets the runner
        tell a reader that quit early with exit code 0 from one that read to the end: the data it
        did not read stays in the pipe, even when its writer has exited and broke no pipe."""
        fd, self.input_fd = self.input_fd, None
        if fd is None:
            return
        try:
            self.unread = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
        except OSError:
            self.unread = 0
        finally:
            os.close(fd)

    def quit_early_reason(self, writer: Side) -> str:
        return (f"exited (exit code 0) without reading all of its input: {self.unread} bytes of {writer.title}'s "
                "output left unread")

    @property
    def quit_early(self) -> bool:
        """It exited 0 by itself with some of its input unread: it did not read to the end."""
        return self.rc == ExitCode.OK and self.unread > 0 and not self.stopped_by_us

    def spawn(self, stdin: Any, stdout: Any) -> bool:
        """Start the process, its stderr a pipe, in a session of its own; False (the reason kept,
        exit code NOT_STARTED) when it cannot start."""
        spec = self.spec
        try:
            self.proc = subprocess.Popen(
                spec.argv, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, env=spec.env, cwd=spec.cwd,
                preexec_fn=spec.preexec, start_new_session=True, pass_fds=spec.pass_fds,
            )
        except (OSError, subprocess.SubprocessError) as exc:  # SubprocessError: preexec (limits) failed
            self.start_error = getattr(exc, "strerror", None) or str(exc)
            self.rc = ExitCode.NOT_STARTED
            return False
        return True

    def close_streams(self) -> None:
        """Close the runner's ends of the process's stdout and stderr pipes."""
        if self.proc is not None:
            for stream in (self.proc.stdout, self.proc.stderr):
                if stream is not None and not stream.closed:
                    stream.close()

    @property
    def title(self) -> str:
        """How messages name it: "the tap", "the target", "mapper 'mask'"."""
        return f"mapper '{self.spec.name}'" if self.spec.role == "mapper" else f"the {self.spec.role}"

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


def first_cause(chain: list[Side]) -> tuple[Side, str] | None:
    """The process whose failure explains the run, from the exits so far (None: not yet known),
    ``chain`` in pipe order (tap, mappers, target). Of the processes that failed by themselves
    and not on a broken pipe the first is the cause, once every process before it has exited;
    a process that failed on a broken pipe blames the one reading it, which exited 0 early."""
    last = len(chain) - 1
    for i, side in enumerate(chain):
        if i < last and side.failed_by_itself and not side.broke_pipe:
            return side, side.failure_reason()
        if side.running:
            return None  # one after it that exited: the supervisor waits; a broken pipe: wait for its reader
        if i == last and side.rc != ExitCode.OK:
            return side, side.failure_reason()
    broken = [i for i in range(last) if chain[i].failed_by_itself]  # all of them on a broken pipe
    if not broken:
        return None
    writer, reader = chain[broken[-1]], chain[broken[-1] + 1]
    return reader, (f"exited (exit code 0) before reading all of {writer.title}'s output; "
                    f"{writer.title} then ended with: {writer.failure_reason()}")


def cut_short(chain: list[Side], interrupted: bool, timed_out: bool) -> bool:
    """Whether a stop took work away. A timeout after which every process still finished by
    itself with exit code 0 did not: the tap emitted all, the target read it all."""
    if interrupted or not timed_out:
        return True
    return any(side.rc != ExitCode.OK or side.stopped_by_us for side in chain)
