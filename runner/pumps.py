"""Reading the connectors' output: stderr lines (logs, METRIC, ERROR) and the target's STATE.

Nothing here touches records: the tap's stdout goes straight into the target's stdin.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from protocol import loads, state_value

__all__ = ["LineBuffer", "SideStats", "StateReader", "error_message", "parse_metric"]

MAX_LINE = 1 << 20  # a longer line is cut into pieces rather than buffered for ever

_ERROR = re.compile(r"\b(?:ERROR|CRITICAL|FATAL)\b[\s|:\]\-]*(.*)")
_LOGGER_PREFIX = re.compile(r"^[\w.\-]+\s*\|\s*")
# a routine log line (INFO, DEBUG, ...): never the reason a connector failed
_ROUTINE = re.compile(r"\b(?:TRACE|DEBUG|INFO|NOTICE)\b|\blevel[\"']?\s*[=:]\s*[\"']?(?:trace|debug|info)\b")
_METRIC = "METRIC: "
# what a program says when its output pipe was closed under it (Python, Go, Rust, Java, Node, our kit)
_BROKEN_PIPE = re.compile(r"broken pipe|\bEPIPE\b|errno 32\b|closed the pipe", re.IGNORECASE)


class LineBuffer:
    """Splits a byte stream read in chunks into complete lines."""

    def __init__(self) -> None:
        self._rest = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        data = self._rest + chunk if self._rest else chunk
        lines = data.split(b"\n")
        self._rest = lines.pop()
        if len(self._rest) > MAX_LINE:
            lines.append(self._rest)
            self._rest = b""
        return lines

    def close(self) -> list[bytes]:
        rest, self._rest = self._rest, b""
        return [rest] if rest else []


def error_message(line: str) -> str | None:
    """The message of an ERROR/CRITICAL log line, without the logger's prefix; None for other lines."""
    m = _ERROR.search(line)
    if m is None:
        return None
    message = _LOGGER_PREFIX.sub("", m.group(1)).strip()
    return message or line.strip()


def parse_metric(line: str) -> dict[str, Any] | None:
    """The JSON point of a ``METRIC: {...}`` line, or None."""
    at = line.find(_METRIC)
    if at < 0:
        return None
    try:
        point = orjson.loads(line[at + len(_METRIC):])
    except orjson.JSONDecodeError:
        return None
    return point if isinstance(point, dict) else None


@dataclass
class SideStats:
    """What one side's stderr told us: record counts per stream, its last ERROR, and its last
    line that is not a routine (INFO, DEBUG) log line, such as the end of a traceback."""

    counts: dict[str, int] = field(default_factory=dict)
    reported: bool = False
    last_error: str | None = None
    last_line: str | None = None
    broken_pipe: bool = False

    def take(self, line: str) -> bool:
        """Account for one stderr line. True when it is a METRIC line."""
        point = parse_metric(line)
        if point is not None:
            if point.get("metric") == "record_count" and point.get("type") == "counter":
                tags = point.get("tags")
                stream = str(tags.get("stream", "(no stream)")) if isinstance(tags, dict) else "(no stream)"
                value = point.get("value")
                if isinstance(value, int | float) and not isinstance(value, bool):
                    self.counts[stream] = self.counts.get(stream, 0) + int(value)
                    self.reported = True
            return True
        stripped = line.strip()
        if stripped:
            if _BROKEN_PIPE.search(stripped):
                self.broken_pipe = True
            message = error_message(stripped)
            if message is not None:
                self.last_error = message
                self.last_line = stripped
            elif _ROUTINE.search(stripped) is None:
                self.last_line = stripped
        return False

    @property
    def total(self) -> int:
        return sum(self.counts.values())


class StateReader:
    """Reads the target's stdout; hands the last state value of each chunk to ``on_state``.

    Only the newest STATE of a chunk is persisted: each one holds the whole state, and the
    older ones in the same chunk were superseded before we could store them.
    """

    def __init__(self, on_state: Callable[[dict[str, Any]], None], on_other: Callable[[str], None]) -> None:
        self._buffer = LineBuffer()
        self._on_state = on_state
        self._on_other = on_other
        self.states = 0

    def feed(self, chunk: bytes) -> None:
        self._handle(self._buffer.feed(chunk))

    def close(self) -> None:
        self._handle(self._buffer.close())

    def _handle(self, lines: list[bytes]) -> None:
        latest: dict[str, Any] | None = None
        for raw in lines:
            if not raw.strip():
                continue
            try:
                message = loads(raw)
            except orjson.JSONDecodeError:
                message = None
            value = state_value(message)
            if value is not None:
                latest = value
                self.states += 1
            else:
                self._on_other(raw[:500].decode("utf-8", "replace"))
        if latest is not None:
            self._on_state(latest)
