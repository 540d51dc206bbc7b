"""What a run records for the dashboard besides its history row: its commands (redacted) when its
connectors start; its counts per stream and the tail of its log when it ends (runner/stores/dashboard.py)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from runner.live_progress import ProgressTimer
from runner.outcome import Outcome
from runner.output import RunOutput
from runner.stores import StateStore, StoreError
from runner.stores.dashboard import LOG_TAIL_LINES

__all__ = ["log_tail", "record_commands", "record_end", "stream_counts"]

_TAIL_BYTES = 256 * 1024  # read at most this much of the log's end
_METRIC = "METRIC: {"


def log_tail(path: Path | None, lines: int = LOG_TAIL_LINES) -> list[str]:
    """The last ``lines`` lines of the run's log (already redacted: every line passed the Redactor),
    without its METRIC lines (the counts per stream are stored apart)."""
    if path is None:
        return []
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            fh.seek(max(0, size - _TAIL_BYTES))
            data = fh.read()
    except OSError:
        return []
    text = data.decode("utf-8", "replace").splitlines()
    if len(data) == _TAIL_BYTES and text:
        text = text[1:]  # the first line was cut
    return [line for line in text if _METRIC not in line][-lines:]


def stream_counts(outcome: Outcome | None) -> dict[str, tuple[int | None, int | None]]:
    """(emitted, committed) per stream, from the METRIC lines of the tap and the target."""
    if outcome is None:
        return {}
    tap, target = outcome.tap.stats, outcome.target.stats
    return {stream: (tap.counts.get(stream) if tap.reported else None,
                     target.counts.get(stream, 0) if target.reported else None)
            for stream in sorted(tap.counts.keys() | target.counts.keys())}


def record_commands(store: StateStore, run_id: int, commands: Sequence[Sequence[str]],
                    redact: Callable[[str], str], say: Callable[[str], None]) -> None:
    try:
        store.set_run_commands(run_id, [[redact(arg) for arg in argv] for argv in commands])
    except StoreError as exc:
        say(f"cannot record the run's commands in the history: {exc}")


def record_end(store: StateStore, run_id: int, outcome: Outcome | None, output: RunOutput,
               live: ProgressTimer | None) -> None:
    """Stop the live progress; store the run's counts per stream and the tail of its log."""
    if live is not None:
        live.stop()
        if live.error:
            output.runner_line(f"live progress for `sluice ui` not written: {live.error}", terminal=False)
    output.flush()
    try:
        store.record_run_end(run_id, stream_counts(outcome), log_tail(output.log_path))
    except StoreError as exc:
        output.runner_line(f"cannot record the run's counts per stream in the history: {exc}")
