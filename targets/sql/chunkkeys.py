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
    smallest and largest value (None for a key of several columns); ``new``: the table holds
    none of them (it was created by this run, and every chunk loaded into it before had its
    keys gathered, in ranges this one's does not meet)."""

    unique: bool
    low: Any = None
    high: Any = None
    new: bool = False


class ChunkKeys:
    """The keys of the chunk being built: :meth:`add` each bulk run's key columns (in the key's
    order), :meth:`take` when the chunk is shipped, :meth:`forget` when rows reach the table
    otherwise. ``created``: the table was created by this run (it held no row before it)."""

    __slots__ = ("_high", "_known", "_loaded", "_low", "_rows", "_seen")

    def __init__(self, *, created: bool = False) -> None:
        self._seen: set[Any] = set()  # the distinct keys: fewer than ``_rows`` when one is repeated
        self._low: Any = None
        self._high: Any = None
        self._rows = 0
        #: whether every key in the table lies in ``_loaded`` (the range of the chunks taken, None: none)
        self._known = created
        self._loaded: tuple[Any, Any] | None = None

    def add(self, columns: list[list[Any]]) -> None:
        keys: list[Any] = columns[0] if len(columns) == 1 else list(zip(*columns, strict=True))
        self._rows += len(keys)
        if not keys:
            return
        self._seen.update(keys)
        if len(columns) == 1:
            low, high = min(keys), max(keys)
            self._low = low if self._low is None or low < self._low else self._low
            self._high = high if self._high is None or high > self._high else self._high

    def take(self, rows: int) -> KeyStats | None:
        """The stats of the chunk of ``rows`` rows (None unless every one of its rows was added);
        the next chunk starts empty."""
        unique = len(self._seen) == rows
        stats = KeyStats(unique, self._low, self._high) if rows == self._rows and rows else None
        if stats is None or stats.low is None:
            self.forget()
        elif self._known:
            loaded = self._loaded
            if loaded is None or stats.high < loaded[0] or stats.low > loaded[1]:
                stats = KeyStats(stats.unique, stats.low, stats.high, new=True)
            self._loaded = (stats.low, stats.high) if loaded is None else (
                min(loaded[0], stats.low), max(loaded[1], stats.high))
        self._seen = set()
        self._low = self._high = None
        self._rows = 0
        return stats

    def forget(self) -> None:
        """Rows whose keys were not gathered reach the table: from now on it may hold any key."""
        self._known = False
