"""Sending a run's spans and metrics without letting the collector hold up the run.

The export runs in a daemon thread that the run waits for at most ``timeout`` seconds: a
collector that is down (connection refused) or that accepts and never answers delays the end of
the run by at most that much, and never fails it. A thread still waiting is abandoned (a daemon
thread does not keep the process alive). After a failed or unanswered export, the runs that
follow in the same process skip their export for :data:`QUIET_SECONDS`, so ``sluice run --all``
inside one process does not pay the bound once per pipeline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

__all__ = ["QUIET_SECONDS", "export_bounded"]

QUIET_SECONDS = 60.0


class _Breaker:
    """When the last export in this process failed: later runs skip theirs for a while."""

    def __init__(self) -> None:
        self.down_until = 0.0

    def is_open(self) -> bool:
        return time.monotonic() < self.down_until

    def trip(self) -> None:
        self.down_until = time.monotonic() + QUIET_SECONDS


_BREAKER = _Breaker()


def export_bounded(jobs: Sequence[tuple[str, Callable[[], bool]]], timeout: float) -> str | None:
    """Run the export ``jobs`` (name, send -> success) in order, waiting at most ``timeout`` s
    for all of them; None when all succeeded, else a line for the run's log."""
    if not jobs:
        return None
    if _BREAKER.is_open():
        return (f"telemetry: nothing exported: an export from this process failed less than "
                f"{QUIET_SECONDS:g} s ago")
    results: dict[str, bool] = {}

    def send() -> None:
        for name, job in jobs:
            results[name] = job()

    thread = threading.Thread(target=send, name="sluice-telemetry-export", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        _BREAKER.trip()
        missing = [name for name, _ in jobs if name not in results]
        return f"telemetry: the collector did not answer within {timeout:g} s; {' and '.join(missing)} not exported"
    failed = [name for name, _ in jobs if not results.get(name, False)]
    if failed:
        _BREAKER.trip()
        return f"telemetry: export of {' and '.join(failed)} failed (is the collector at OTEL_EXPORTER_OTLP_* up?)"
    return None
