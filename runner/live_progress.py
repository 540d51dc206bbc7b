"""A running run's live progress in the state store, for the dashboard (``sluice ui``).

A background thread wakes once a second, copies the per-stream counts the supervisor already
keeps from the METRIC ``record_count`` lines of the tap and the target (:class:`SideStats`), and
upserts those that changed, with the rate since its last look, on a store connection of its own.
Nothing is added to the path the records take, nor to the loop that reads the stderrs: the
thread only reads two small dicts. A write that fails is skipped (the run goes on); after
``MAX_FAILURES`` in a row the thread gives up, and the run's log says so at its end.

``SLUICE_LIVE_PROGRESS=0`` turns it off (bench/uibench.py compares a run with and without it).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

from runner.pumps import SideStats, redacted_counts
from runner.stores import StateStore, StoreError
from runner.stores.base import ProgressWriter
from runner.stores.dashboard import ProgressRow

__all__ = ["INTERVAL_SECONDS", "LIVE_PROGRESS_ENV", "ProgressTimer"]

INTERVAL_SECONDS = 1.0
IDLE_WRITE_SECONDS = 5.0  # nothing moved: the rows are rewritten this often (their rate falls to 0)
MAX_FAILURES = 5
LIVE_PROGRESS_ENV = "SLUICE_LIVE_PROGRESS"


class ProgressTimer:
    """Started once the connectors run (:meth:`watch`), stopped when the supervisor returns."""

    def __init__(self, store: StateStore, run_id: int, interval: float = INTERVAL_SECONDS,
                 redact: Callable[[str], str] = str) -> None:
        self.store, self.run_id, self.interval = store, run_id, interval
        self.redact = redact  # the run's Redactor: a stream may be named after a secret
        self.error: str | None = None  # why progress stopped being written, if it did
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._writer: ProgressWriter | None = None

    @classmethod
    def start(cls, store: StateStore, run_id: int, redact: Callable[[str], str] = str) -> ProgressTimer | None:
        """A timer for the run, unless ``SLUICE_LIVE_PROGRESS=0``; its thread starts with :meth:`watch`."""
        if os.environ.get(LIVE_PROGRESS_ENV, "").strip().lower() in ("0", "false", "no", "off"):
            return None
        return cls(store, run_id, redact=redact)

    def watch(self, emitted: SideStats, committed: SideStats) -> None:
        """Start writing the progress the two sides' stats show (called from the supervisor)."""
        try:
            self._writer = self.store.progress_writer()
        except StoreError as exc:
            self.error = str(exc)
            return
        if self._writer is None:
            return
        self._thread = threading.Thread(target=self._run, args=(self._writer, emitted, committed),
                                        name=f"sluice-progress-{self.run_id}", daemon=True)
        self._thread.start()

    def _run(self, writer: ProgressWriter, emitted: SideStats, committed: SideStats) -> None:
        last: dict[str, tuple[int, int]] = {}
        last_at = last_write = time.monotonic()
        failures = 0
        while not self._stop.wait(self.interval):
            now = time.monotonic()
            # dict() of a dict with str keys is one step under the GIL: a consistent copy
            counts, done = dict(emitted.counts), dict(committed.counts)
            counts, done = redacted_counts(counts, self.redact), redacted_counts(done, self.redact)
            current = {s: (counts.get(s, 0), done.get(s, 0)) for s in counts.keys() | done.keys()}
            if current == last and now - last_write < IDLE_WRITE_SECONDS:
                continue
            span = max(now - last_at, 1e-6)
            rows: list[ProgressRow] = [(s, e, c, max(0.0, (e - last.get(s, (0, 0))[0]) / span))
                                       for s, (e, c) in sorted(current.items())]
            try:
                if rows:
                    writer.write(self.run_id, rows)
            except StoreError as exc:
                failures += 1
                if failures >= MAX_FAILURES:
                    self.error = str(exc)
                    return
                continue
            failures = 0
            last, last_at, last_write = current, now, now

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=max(10.0, self.interval * 2))
        if self._writer is not None and (self._thread is None or not self._thread.is_alive()):
            self._writer.close()
