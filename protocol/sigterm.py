"""SIGTERM: an error raised where the program is, except while a commit's outcome is pending.

:func:`on_sigterm` (installed by the CLI) raises :class:`Terminated` in the main thread, so a
target unwinds through its abort path and rolls back what no STATE covers.

Once a COMMIT has been sent, that is no longer safe: the commit may go through after the
target gave up on it, and the STATE covering it would never be emitted (the runner then
stores nothing, and a rerun loads the rows again). Code between sending a COMMIT and
emitting the STATE it covers runs under :func:`sigterm_held`: a SIGTERM arriving inside
is noted, and acted on when the outermost hold ends. If the block ends normally (the
commit went through, its STATE was written), :class:`Terminated` is raised then, with a
message saying what was done first; if the block fails (the commit did not go through),
its own error is what the program reports.

Holds are taken and released in the main thread, where Python runs signal handlers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from protocol.errors import Terminated

__all__ = ["on_sigterm", "sigterm_held"]

log = logging.getLogger("sluice.sigterm")


class _Hold:
    depth = 0
    pending = False


def on_sigterm(signum: int, frame: object) -> None:
    """The SIGTERM handler: raise :class:`Terminated`, or note it while a hold is active."""
    if _Hold.depth:
        if not _Hold.pending:
            log.info("SIGTERM received while a COMMIT is in flight: stopping once its outcome is known")
        _Hold.pending = True
        return
    raise Terminated("stopped by SIGTERM")


@contextmanager
def sigterm_held(done: str) -> Iterator[None]:
    """Hold SIGTERM inside the block. ``done`` completes "stopped by SIGTERM after ..." for
    the outermost hold, when a SIGTERM arrived and the block ended normally."""
    _Hold.depth += 1
    try:
        yield
    except BaseException:
        _Hold.depth -= 1
        if not _Hold.depth:
            _Hold.pending = False  # the block's own error is reported; the process stops with it
        raise
    _Hold.depth -= 1
    if not _Hold.depth and _Hold.pending:
        _Hold.pending = False
        raise Terminated(f"stopped by SIGTERM after {done}")
