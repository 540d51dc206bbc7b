"""SIGTERM and SIGINT: an error raised where the program is, except while a commit's outcome is pending.

:func:`install` (called by the CLI, see protocol/_cli.py) makes both signals raise
:class:`Terminated` in the main thread, so a tap stops with one line and exit code 130/143
and a target unwinds through its abort path and rolls back what no STATE covers.

Once a commit has started (a COMMIT sent, a commit marker renamed), that is no longer safe:
the commit may go through after the target gave up on it, and the STATE covering it would
never be emitted, or the abort would undo rows the destination already calls committed.
Code from the start of a commit to the STATE it covers runs under :func:`stop_held`: a
signal arriving inside is noted, and acted on when the outermost hold ends. If the block
ends normally (the commit went through, its STATE was written), :class:`Terminated` is
raised then, saying what was done first; if the block fails (the commit did not go
through), its own error is what the program reports.

This is the one mechanism: Python runs signal handlers in the main thread whichever thread
the kernel hands the signal to, so a hold works with worker threads running (a signal mask,
``pthread_sigmask``, only holds the signal back from the thread that set it: the kernel
then delivers it to any other thread, and the handler runs inside the block at once).
Holds are taken and released in the main thread.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from protocol._errors import Terminated

__all__ = ["STOP_SIGNALS", "install", "on_stop_signal", "stop_held"]

log = logging.getLogger("sluice.signals")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class _Hold:
    depth = 0
    pending: int | None = None  # the first signal that arrived inside the outermost hold


def on_stop_signal(signum: int, frame: object) -> None:
    """The handler of SIGTERM and SIGINT: raise :class:`Terminated`, or note the signal in a hold."""
    if _Hold.depth:
        if _Hold.pending is None:
            log.info("%s received while a COMMIT is in flight: stopping once its outcome is known",
                     signal.Signals(signum).name)
            _Hold.pending = signum
        return
    raise Terminated(signum)


def install() -> Callable[[], None]:
    """Install :func:`on_stop_signal` for SIGTERM and SIGINT; return what puts the old handlers back."""
    _Hold.depth, _Hold.pending = 0, None
    old: dict[int, Any] = {sig: signal.signal(sig, on_stop_signal) for sig in STOP_SIGNALS}

    def restore() -> None:
        for sig, handler in old.items():
            signal.signal(sig, handler)

    return restore


@contextmanager
def stop_held(done: str) -> Iterator[None]:
    """Hold SIGTERM and SIGINT inside the block. ``done`` completes "stopped by SIGTERM after ..."
    for the outermost hold, when a signal arrived and the block ended normally. Outside the main
    thread (where no handler runs) the block just runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _Hold.depth += 1
    try:
        yield
    except BaseException:
        _Hold.depth -= 1
        if not _Hold.depth:
            _Hold.pending = None  # the block's own error is reported; the process stops with it
        raise
    _Hold.depth -= 1
    if not _Hold.depth and _Hold.pending is not None:
        signum, _Hold.pending = _Hold.pending, None
        raise Terminated(signum, after=done)
