"""Where the records of a chunk of JSON lines came from: the input line of each.

A loader that hands the chunk's file to the database (DuckDB's ``read_json``) gets errors that
name a line of that file, or none. With the chunk's origin it names the input's line and the
stream instead, as every other error does. The sink (targets/sql/sink.py) adds each run as it
joins the chunk; the file holds the runs' records in that order, one per line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the kit's lane (msgspec) is imported where runs are read, not here
    from protocol import RecordRun

__all__ = ["ChunkLines", "ChunkOrigin"]

#: one run: (its first record's line, each record's line when they do not follow on, its records)
Span = tuple[int, tuple[int, ...] | None, int]


@dataclass(frozen=True, slots=True)
class ChunkOrigin:
    """The stream of a chunk of JSON lines and the input line of each of its records."""

    stream: str
    spans: tuple[Span, ...]

    def line(self, k: int) -> int | None:
        """The input line of the chunk's record ``k`` (0-based: the file's line k + 1); None past the end."""
        for first, lines, count in self.spans:
            if k < count:
                return first + k if lines is None else lines[k]
            k -= count
        return None


class ChunkLines:
    """The runs of the chunk being built (:meth:`add`), taken when it is shipped (:meth:`take`)."""

    __slots__ = ("_spans", "stream")

    def __init__(self, stream: str) -> None:
        self.stream = stream
        self._spans: list[Span] = []

    def add(self, run: RecordRun) -> None:
        self._spans.append((run.first_line, None if run.lines is None else tuple(run.lines), run.count))

    def take(self) -> ChunkOrigin:
        """The origin of the chunk built so far; the next starts empty."""
        origin = ChunkOrigin(self.stream, tuple(self._spans))
        self._spans = []
        return origin
