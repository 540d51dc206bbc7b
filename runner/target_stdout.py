"""What a target writes on its stdout: the STATE of what it committed, and nothing else of Singer's.

Each STATE goes to the store as it arrives (``on_state``). A SCHEMA, RECORD, ACTIVATE_VERSION or
BATCH line there is a tap's output: the program named as the target is a tap (sluice.yml with tap
and target swapped) that ignores its input and prints its own bookmarks, or a program that copies
its input through. Its STATE says nothing was committed: stored, it would make the real pipeline's
next run start after rows that were never loaded. So the first such line fails the run
(``on_data``), and no STATE is stored from then on, nor one read together with that line, before
it (:class:`~runner.pumps.StateReader` hands on a read's newest STATE once all its lines are seen).
A STATE it wrote in an earlier read was stored as it came: a tap writes a stream's SCHEMA before
its records, so such a STATE carries no bookmark past a row. Any other line (a log line printed on
stdout by mistake) is logged, and the run goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from protocol import loads
from runner.output import RunOutput
from runner.pumps import StateReader

__all__ = ["DATA_MESSAGES", "TargetStdout", "data_message_type"]

DATA_MESSAGES = frozenset({"SCHEMA", "RECORD", "ACTIVATE_VERSION", "BATCH"})


def data_message_type(text: str) -> str | None:
    """The type of the Singer data message on the line ``text`` (SCHEMA, RECORD, ACTIVATE_VERSION, BATCH);
    None for any other line."""
    if not text.lstrip().startswith("{") or '"type"' not in text:
        return None
    try:
        message = loads(text)
    except orjson.JSONDecodeError:
        return None
    kind = message.get("type") if isinstance(message, dict) else None
    return kind if isinstance(kind, str) and kind in DATA_MESSAGES else None


class TargetStdout:
    """The target's stdout, read line by line: its STATE to ``on_state`` until it writes a data message;
    then ``on_data`` hears why the run fails, once."""

    def __init__(self, name: str, on_state: Callable[[dict[str, Any]], None], output: RunOutput,
                 on_data: Callable[[str], None]) -> None:
        self._name = name
        self._on_state = on_state
        self._output = output
        self._on_data = on_data
        self.data_type: str | None = None  # the first data message it wrote: it is no target
        self._reader = StateReader(self._state, self._other)

    @property
    def states(self) -> int:
        """STATE lines read (stored or not)."""
        return self._reader.states

    @property
    def overlong(self) -> int | None:
        return self._reader.overlong

    def feed(self, chunk: bytes) -> None:
        self._reader.feed(chunk)

    def close(self) -> None:
        self._reader.close()

    def _state(self, value: dict[str, Any]) -> None:
        if self.data_type is None:
            self._on_state(value)

    def _other(self, text: str) -> None:
        if self.data_type is not None:
            return  # the rest of a tap's output: the first line of it is in the log
        kind = data_message_type(text)
        self._output.runner_line(f"{self._name} wrote a {kind or 'non-STATE'} line on stdout: {text}", terminal=False)
        if kind is not None:
            self.data_type = kind
            self._on_data(f"'{self._name}' wrote a {kind} line on stdout: it is a tap, not a target? "
                          "(a target writes only STATE there)")
