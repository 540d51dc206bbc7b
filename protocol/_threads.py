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
does. Used where it was measured to help: target-postgres (0.5 ms) and target-duckdb (20 us,
:data:`ENGINE_SWITCH_INTERVAL`). DuckDB's Python client takes the GIL between the tasks of a query it
executes (to check for a signal), many times per chunk load: on this machine (2 cores) one thread
loading the bench stream's 200,000 records took 0.35 s alone, 0.83-0.87 s beside a thread running
Python at the default 5 ms, 0.60 s at 0.5 ms, 0.35 s at 0.1 ms. Inside target-duckdb, whose main
thread also holds the GIL through long C calls (a chunk's decode), whole runs took a median of 0.69 s
at 0.1 ms, 0.66 s at 20 us (twelve interleaved runs each; 10 and 5 us no better).
target-parquet's worker (pyarrow) does not take the GIL while it writes: no gain, left alone.
"""

from __future__ import annotations

import sys

__all__ = ["ENGINE_SWITCH_INTERVAL", "WORKER_SWITCH_INTERVAL", "hand_over_promptly"]

#: seconds the main thread may keep the GIL while a worker thread waits for it
WORKER_SWITCH_INTERVAL = 0.0005
#: the same, for a worker running an embedded engine that asks for the GIL between its tasks (DuckDB)
ENGINE_SWITCH_INTERVAL = 0.00002


def hand_over_promptly(seconds: float = WORKER_SWITCH_INTERVAL) -> None:
    """Shorten the interpreter's switch interval to ``seconds`` (never lengthen it): called by a
    connector when it starts a worker thread that waits on I/O or runs an engine's queries."""
    if sys.getswitchinterval() > seconds:
        sys.setswitchinterval(seconds)
