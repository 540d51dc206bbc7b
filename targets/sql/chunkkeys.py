"""The key values of a chunk of bulk rows, gathered on the client as its runs arrive.

An upsert of a chunk must know two things: whether the chunk holds a key twice (then the last
record of that key wins, and the chunk goes through a staging table), and whether the table
already holds one of the chunk's keys (then those rows are replaced). DuckDB's loader answered
both by reading the chunk's file once more before loading it (a count of distinct keys and their
range): a third of its database time on the bench stream. The sink (targets/sql/sink.py) has the
decoded key values of every run it builds in bulk; it gathers them here, and a loader that takes
them (``Loader.key_stats``) skips that reading.

Only keys whose values compare in Python exactly as in the database are gathered: integer and
string columns (a date-time key, for one, may be written with different offsets for one instant).
A chunk holding rows built record by record has no gathered keys: the loader looks itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ChunkKeys", "KeyStats"]


@dataclass(frozen=True, slots=True)
class KeyStats:
    """What a chunk's keys are: ``unique`` (no key twice) and, for a one-column key, its
    smallest and largest value (None for a key of several columns)."""

    unique: bool
    low: Any = None
    high: Any = None


class ChunkKeys:
    """The keys of the chunk being built: :meth:`add` each bulk run's key columns (in the key's
    order), :meth:`take` when the chunk is shipped."""

    __slots__ = ("_high", "_low", "_rows", "_seen", "_unique")

    def __init__(self) -> None:
        self._seen: set[Any] = set()
        self._unique = True
        self._low: Any = None
        self._high: Any = None
        self._rows = 0

    def add(self, columns: list[list[Any]]) -> None:
        keys: list[Any] = columns[0] if len(columns) == 1 else list(zip(*columns, strict=True))
        self._rows += len(keys)
        if not keys:
            return
        seen = self._seen
        before = len(seen)
        seen.update(keys)
        if len(seen) - before != len(keys):
            self._unique = False
        if len(columns) == 1:
            low, high = min(keys), max(keys)
            self._low = low if self._low is None or low < self._low else self._low
            self._high = high if self._high is None or high > self._high else self._high

    def take(self, rows: int) -> KeyStats | None:
        """The stats of the chunk of ``rows`` rows (None unless every one of its rows was added);
        the next chunk starts empty."""
        stats = KeyStats(self._unique, self._low, self._high) if rows == self._rows and rows else None
        self._seen = set()
        self._unique = True
        self._low = self._high = None
        self._rows = 0
        return stats
