"""A held STATE goes out when the input falls idle, not only when the next message arrives.

A target holds a STATE until its records are committed: at the next drain, which the message loop
reaches when a message arrives (``state_flush_seconds`` after the STATE, a full batch, the end).
A tap that pauses (a slow API, a long query, a wait for new data) used to leave the STATE held
for the whole pause: the runner could not store it, and a run killed then resumed from the one
before. :func:`idle_aware` puts a hook under the input's buffer: before a read that would block,
while a STATE is held, it waits for input at most until the STATE is due, and if none comes
drains (commits and emits the STATE). The hook runs only where the loop would block: every
message read before it has been handled, so the drain covers exactly what a drain at that point
of the loop would.

When a STATE is due, and what an idle drain does (under `sluice`, only for a STATE no record came
after), is the target's to say: :meth:`Target.idle_wait` and :meth:`Target.drain_idle`.
"""

from __future__ import annotations

import io
import os
import select
import stat
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from protocol._target import Target

__all__ = ["idle_aware", "may_wait"]

_BUFFER = 1 << 16


def idle_aware(source: IO[bytes], target: Target) -> IO[bytes]:
    """``source`` read through the idle hook when it is a buffered reader over a descriptor whose
    reads may wait (a pipe, a socket, a terminal); anything else (a regular file never waits) as it is."""
    raw = getattr(source, "raw", None)
    if not isinstance(source, io.BufferedReader) or raw is None or may_wait(raw) is None:
        return source
    return io.BufferedReader(_IdleRaw(raw, target), buffer_size=_BUFFER)


def may_wait(source: Any) -> int | None:
    """The descriptor of ``source`` when a read of it may wait (a pipe, a socket, a terminal); None for
    a regular file (never waits) or what has no descriptor (in memory)."""
    try:
        fd: int = source.fileno()
        return None if stat.S_ISREG(os.fstat(fd).st_mode) else fd
    except (AttributeError, OSError, ValueError):
        return None


class _IdleRaw(io.RawIOBase):
    """The raw input under the target's buffer; see the module docstring."""

    def __init__(self, raw: IO[bytes], target: Target) -> None:
        super().__init__()
        self._raw = raw
        self._fd = raw.fileno()
        self._target = target

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def readinto(self, buffer: bytearray | memoryview) -> int | None:  # type: ignore[override]
        target = self._target
        wait = target.idle_wait()
        while wait is not None:
            ready, _, _ = select.select([self._fd], [], [], wait)
            if ready:
                break
            target.drain_idle()
            wait = target.idle_wait()
        return self._raw.readinto(buffer)  # type: ignore[attr-defined, no-any-return]
