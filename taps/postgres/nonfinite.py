"""NaN and ±Infinity of numeric and float columns: emitted as null (JSON has neither), counted, reported.

The full-table read renders such a value as JSON ``null`` followed by a tab (discovery.py,
``NONFINITE_MARK``): row_to_json text holds no raw tab otherwise (strings escape it, jsonb
text has none), so a block without a tab, the usual case, costs one byte search. Logical
decoding counts in its converters. At the end of a run one WARNING per stream and column
gives the count (stderr). A bookmark keeps such a key value as PostgreSQL's text of it (``"NaN"``):
the marker's blanks tell which (:func:`marked_values`), so the next run's query can start there.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field

from protocol import loads, plural
from taps.postgres.values import Converter

__all__ = ["NonFinite", "marked_values"]

log = logging.getLogger("sluice.tap.postgres")

# a top-level key of a row followed by the marker: the key's JSON text (escapes kept), the blanks after
_MARKED = re.compile(rb'[{,]"((?:[^"\\]|\\.)*)":null\t( {0,2})')
#: the marker's blanks: which value it stands for (discovery.NONFINITE_MARKS)
_WHICH = {b"": "NaN", b" ": "Infinity", b"  ": "-Infinity"}


def marked_values(row: bytes) -> dict[str, str]:
    """The columns of one server-rendered row that hold NaN or ±Infinity, and which (``"NaN"``,
    ``"Infinity"``, ``"-Infinity"``: PostgreSQL's text of it, what a bookmark keeps of it)."""
    if b"\t" not in row:
        return {}
    return {str(loads(b'"' + key + b'"')): _WHICH[blanks] for key, blanks in _MARKED.findall(row)}


@dataclass
class NonFinite:
    """The NaN/±Infinity values one stream emitted as null, per column."""

    counts: Counter[str] = field(default_factory=Counter)

    def scan(self, rows: bytes) -> bytes:
        """Count the marked values of server-rendered rows; the rows without the marks."""
        if b"\t" not in rows:
            return rows
        for key, _ in _MARKED.findall(rows):
            name = loads(b'"' + key + b'"')
            self.counts[str(name)] += 1
        return rows.replace(b":null\t  ", b":null").replace(b":null\t ", b":null").replace(b":null\t", b":null")

    def counting(self, column: str, convert: Converter) -> Converter:
        """``convert`` (of logical decoding text), counting the non-null texts it turns into null."""
        counts = self.counts

        def counted(text: str) -> object:
            value = convert(text)
            if value is None:
                counts[column] += 1
            return value

        return counted

    def report(self, stream: str) -> None:
        for column, count in sorted(self.counts.items()):
            log.warning("stream '%s': column '%s': %s emitted as null "
                        "(JSON has no NaN or Infinity)", stream, column, plural(count, "NaN/Infinity value"))
        self.counts.clear()
