"""Holding SIGTERM back while a commit and the bookkeeping that follows it happen.

The CLI turns SIGTERM into :class:`protocol.errors.Terminated`, raised wherever the program
is, and a target's abort path then rolls back what no STATE covers. Between a commit (a
transaction's COMMIT, a commit marker's rename) and the sinks' new rollback point, that
abort would undo rows the destination already calls committed; the signal waits until
both are done.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["sigterm_deferred"]


@contextmanager
def sigterm_deferred() -> Iterator[None]:
    """SIGTERM is delivered when the block ends, not inside it (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)
