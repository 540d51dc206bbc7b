"""NaN and ±Infinity of numeric and float columns: emitted as null (JSON has neither), counted, reported.

The full-table read renders such a value as JSON ``null`` followed by a tab (discovery.py,
``NONFINITE_MARK``): row_to_json text holds no raw tab otherwise (strings escape it, jsonb
text has none), so a block without a tab, the usual case, costs one byte search. Logical
decoding counts in its converters. At the end of a run one WARNING per stream and column
gives the count (stderr). A bookmark keeps such a replication-key value as PostgreSQL's text of it
(``"NaN"``): the marker's blanks tell which (:func:`marked_values`), so the next run's query can start there.

A key column (primary key, view key) cannot be null: a read that meets such a value there stops
with one line naming the row (:meth:`NonFinite.scan`): the user fixes the row and runs again. A
logged change cannot be read differently on the next run, so a change whose new row has such a
key is skipped, counted (the same WARNING names them), and the delete of such a row (never emitted)
is not written (:func:`nonfinite_key`).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from protocol import FatalSourceError, dumps, loads, plural
from taps.postgres.values import Converter

__all__ = ["NONFINITE_TEXTS", "NonFinite", "marked_values", "nonfinite_key"]

log = logging.getLogger("sluice.tap.postgres")

# a top-level key of a row followed by the marker: the key's JSON text (escapes kept), the blanks after
_MARKED = re.compile(rb'[{,]"((?:[^"\\]|\\.)*)":null\t( {0,2})')
#: the marker's blanks: which value it stands for (discovery.NONFINITE_MARKS)
_WHICH = {b"": "NaN", b" ": "Infinity", b"  ": "-Infinity"}
#: PostgreSQL's text of NaN and ±Infinity (numeric, real, double precision), as logical decoding sends it
NONFINITE_TEXTS = ("NaN", "Infinity", "-Infinity")


def marked_values(row: bytes) -> dict[str, str]:
    """The columns of one server-rendered row that hold NaN or ±Infinity, and which (``"NaN"``,
    ``"Infinity"``, ``"-Infinity"``: PostgreSQL's text of it, what a bookmark keeps of it)."""
    if b"\t" not in row:
        return {}
    return {str(loads(b'"' + key + b'"')): _WHICH[blanks] for key, blanks in _MARKED.findall(row)}


@dataclass
class NonFinite:
    """The NaN/±Infinity values one stream emitted as null, per column; its key columns refuse them."""

    stream: str = ""
    keys: tuple[str, ...] = ()
    counts: Counter[str] = field(default_factory=Counter)
    #: logged changes skipped because their new row's key column (the name) held NaN or ±Infinity
    skipped: Counter[str] = field(default_factory=Counter)

    def scan(self, rows: bytes) -> bytes:
        """Count the marked values of server-rendered rows; the rows without the marks.

        Raises FatalSourceError when a key column holds such a value (before any of ``rows`` is written).
        """
        if b"\t" not in rows:
            return rows
        marked = [(str(loads(b'"' + key + b'"')), blanks) for key, blanks in _MARKED.findall(rows)]
        for name, blanks in marked:
            if name in self.keys:
                raise self._key_error(rows, name, _WHICH[blanks])
        self.counts.update(name for name, _ in marked)
        return rows.replace(b":null\t  ", b":null").replace(b":null\t ", b":null").replace(b":null\t", b":null")

    def _key_error(self, rows: bytes, column: str, which: str) -> FatalSourceError:
        """The error of a row whose key ``column`` holds ``which``, naming the row's other key values."""
        row = next(line for line in rows.splitlines() if marked_values(line).get(column) == which)
        record, marks = loads(row), marked_values(row)
        others = {k: marks.get(k) if record.get(k) is None else record[k] for k in self.keys if k != column}
        where = f" in the row whose other key values are {dumps(others).decode()}" if others else ""
        return FatalSourceError(
            f"stream '{self.stream}': key column '{column}' holds {which}{where}: Singer JSON has no NaN or Infinity "
            f"(other columns' are emitted as null) and a key cannot be null; change or delete the row at the source "
            f"and run again (from the last STATE), or leave the stream out of the catalog")

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
        for column, count in sorted(self.skipped.items()):
            log.warning("stream '%s': key column '%s': %s skipped: the row's key is NaN or ±Infinity (JSON has no "
                        "NaN or Infinity, and a key cannot be null); fix the rows at the source: the fix is read as "
                        "a new row", stream, column, plural(count, "logged change"))
        self.counts.clear()
        self.skipped.clear()


def nonfinite_key(row: Sequence[Any], positions: Sequence[tuple[int, str]]) -> str | None:
    """The first key column (by its position in a logged row) whose text is NaN or ±Infinity; None: none."""
    for i, name in positions:
        if row[i] in NONFINITE_TEXTS:
            return name
    return None
