"""Worker threads that wait on I/O beside a main thread that parses: the GIL handed over promptly.

A target's loader thread (target-postgres's COPY sender) spends most of its time outside the
interpreter, waiting on a socket or inside the database engine, and needs the GIL only for a
moment after each wait. The main thread meanwhile decodes and builds rows
and never gives the GIL up on its own; CPython takes it from it only after the switch interval,
5 ms by default. A COPY of 2 MiB goes out as 16 writes, each a wait: measured on 2 cores, a
chunk that PostgreSQL reads in 31-38 ms took 48-54 ms to send while the main thread was busy,
34-35 ms with an interval of 0.5 ms, and the server then waited on the target less.

:func:`hand_over_promptly` shortens the interval for the process. It costs the main thread
nothing while no other thread asks for the GIL, and a few microseconds per hand-over when one
does. Used where it was measured to help: target-postgres. target-duckdb and target-parquet were
measured too (bench/RESULTS.md, 2026-12-06): no gain beyond noise, so they leave the interval alone.
"""

from __future__ import annotations

import sys

__all__ = ["WORKER_SWITCH_INTERVAL", "hand_over_promptly"]

#: seconds the main thread may keep the GIL while a worker thread waits for it
WORKER_SWITCH_INTERVAL = 0.0005


def hand_over_promptly() -> None:
    """Shorten the interpreter's switch interval to :data:`WORKER_SWITCH_INTERVAL` (never lengthen it):
    called by a connector when it starts a worker thread that waits on I/O."""
    if sys.getswitchinterval() > WORKER_SWITCH_INTERVAL:
        sys.setswitchinterval(WORKER_SWITCH_INTERVAL)
