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

__all__ = ["LineBuffer", "SideStats", "StateReader", "error_message", "parse_metric", "redacted_counts"]

MAX_LINE = 1 << 20  # a longer stderr line is cut into pieces rather than buffered for ever
WORD_SEARCH = 4096  # bytes before the cut of such a line searched for a blank to cut after
# The longest line a target of this kit reads (protocol's MessageReader, its max_line_bytes default):
# a tap's STATE up to this size reaches the target whole, and the target echoes it once committed.
TARGET_LINE_BYTES = 64 * 1024 * 1024
# The longest line read from a target's stdout. Its echo of a STATE it read whole may be longer than
# that line: a target that escapes every non-ASCII character (\uXXXX, Python's json.dumps) writes up
# to three times the bytes. A longer line fails the run (StateReader.overlong): its state is not stored.
MAX_STATE_LINE = 4 * TARGET_LINE_BYTES

_ERROR = re.compile(r"\b(?:ERROR|CRITICAL|FATAL)\b[\s|:\]\-]*(.*)")
_LOGGER_PREFIX = re.compile(r"^[\w.\-]+\s*\|\s*")
# a routine log line (INFO, DEBUG, ...): never the reason a connector failed
_ROUTINE = re.compile(r"\b(?:TRACE|DEBUG|INFO|NOTICE)\b|\blevel[\"']?\s*[=:]\s*[\"']?(?:trace|debug|info)\b")
_METRIC = "METRIC: "
# what a program says when its output pipe was closed under it (Python, Go, Rust, Java, Node, our kit)
_BROKEN_PIPE = re.compile(r"broken pipe|\bEPIPE\b|errno 32\b|closed the pipe", re.IGNORECASE)


class LineBuffer:
    """Splits a byte stream read in chunks into complete lines, holding at most ``limit`` bytes of
    an unfinished line. What happens to a longer one is the reader's choice: cut into pieces of
    about ``limit`` bytes (logs: nothing is lost but the line breaks), or, with ``on_overlong``,
    dropped up to its end and reported with its length (a STATE cut into pieces is no STATE)."""

    def __init__(self, limit: int = MAX_LINE, on_overlong: Callable[[int], None] | None = None) -> None:
        self._rest = bytearray()  # appended to in place: a long line read in small chunks costs linear time
        self._limit = limit
        self._on_overlong = on_overlong
        self._dropping: int | None = None  # bytes dropped so far of an overlong line (on_overlong only)

    def feed(self, chunk: bytes) -> list[bytes]:
        if self._dropping is not None:
            chunk = self._drop(chunk)
        end = chunk.rfind(b"\n")  # only the new bytes are searched: the rest holds no newline
        if end < 0:
            self._rest += chunk
            lines: list[bytes] = []
        else:
            head, self._rest = bytes(self._rest) + chunk[:end], bytearray(chunk[end + 1:])
            lines = head.split(b"\n")
            if self._on_overlong is not None and len(head) > self._limit:  # a long line came in one chunk
                lines = self._within_limit(lines)
        while len(self._rest) > self._limit and self._on_overlong is None:  # cut into pieces
            cut = _word_end(self._rest, self._limit)
            lines.append(bytes(self._rest[:cut]))
            del self._rest[:cut]
        if len(self._rest) > self._limit:  # on_overlong: dropped to its end
            self._dropping = len(self._rest)
            self._rest = bytearray()
        return lines

    def _within_limit(self, lines: list[bytes]) -> list[bytes]:
        assert self._on_overlong is not None
        kept: list[bytes] = []
        for line in lines:
            if len(line) > self._limit:
                self._on_overlong(len(line))
            else:
                kept.append(line)
        return kept

    def _drop(self, chunk: bytes) -> bytes:
        """Skip the overlong line to its end; what follows its newline is read as usual."""
        assert self._dropping is not None and self._on_overlong is not None
        at = chunk.find(b"\n")
        if at < 0:
            self._dropping += len(chunk)
            return b""
        self._on_overlong(self._dropping + at)
        self._dropping = None
        return chunk[at + 1:]

    def close(self) -> list[bytes]:
        if self._dropping is not None and self._on_overlong is not None:
            self._on_overlong(self._dropping)
            self._dropping = None
        rest, self._rest = bytes(self._rest), bytearray()
        return [rest] if rest else []


def _word_end(text: bytearray, limit: int) -> int:
    """Where to cut an overlong log line: after its last blank among the ``WORD_SEARCH`` bytes before
    ``limit``, so that a secret (or a UTF-8 character) is not cut in two pieces that are each redacted
    as no secret; at ``limit`` when there is none."""
    start = max(0, limit - WORD_SEARCH)
    blank = max(text.rfind(b" ", start, limit), text.rfind(b"\t", start, limit))
    return blank + 1 if blank > 0 else limit


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

    def redact_streams(self, redact: Callable[[str], str]) -> None:
        """Rename the streams as the run's Redactor says (a tap may name a stream after a secret):
        done once, when the processes ended, before the counts go to the summary, the run history,
        ``--summary-json`` and telemetry."""
        self.counts = redacted_counts(self.counts, redact)


def redacted_counts(counts: dict[str, int], redact: Callable[[str], str]) -> dict[str, int]:
    """``counts`` by the redacted names of their streams (two names masked alike are added up)."""
    out: dict[str, int] = {}
    for stream, rows in counts.items():
        name = redact(stream)
        out[name] = out.get(name, 0) + rows
    return out


class StateReader:
    """Reads the target's stdout; hands the last state value of each chunk to ``on_state``.

    Only the newest STATE of a chunk is persisted: each one holds the whole state, and the
    older ones in the same chunk were superseded before we could store them. A line longer than
    ``limit`` is not read (memory stays bounded); ``overlong`` then says how long the last was, and
    the run must fail: the target may have committed the STATE that line carried.
    """

    def __init__(self, on_state: Callable[[dict[str, Any]], None], on_other: Callable[[str], None],
                 limit: int = MAX_STATE_LINE) -> None:
        self._buffer = LineBuffer(limit, self._overlong)
        self._on_state = on_state
        self._on_other = on_other
        self.limit = limit
        self.states = 0
        self.overlong: int | None = None  # bytes of the last line too long to read

    def _overlong(self, size: int) -> None:
        self.overlong = size
        self._on_other(f"(a line of {size} bytes, longer than the {self.limit} bytes read for a STATE: dropped)")

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
            else:  # whole (up to MAX_LINE): the output redacts it, then cuts it (RunOutput.runner_line)
                self._on_other(raw[:MAX_LINE].decode("utf-8", "replace"))
        if latest is not None:
            self._on_state(latest)
