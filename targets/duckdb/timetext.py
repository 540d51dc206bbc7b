"""How target-duckdb reads a date-time or a date it loaded as text: as its column's type.

RFC 3339 allows a lower-case "t" and "z", which DuckDB's cast refuses; PostgreSQL (and so
tap-postgres) writes a date or date-time before year 1 with " BC" after it, which DuckDB reads
only as "(BC)" after the date: read as DATE, "0044-03-15 BC" was 44 AD, without a word.
"""

from __future__ import annotations

from targets.sql import types as T

__all__ = ["cast_text"]


def cast_text(col: str, logical: str, types: dict[str, str]) -> str:
    """The SQL reading the text column ``col`` as its column's type (``logical``: timestamp or date)."""
    return _stamp(col, types[T.TIMESTAMP]) if logical == T.TIMESTAMP else _date(col)


def _stamp(col: str, kind: str) -> str:
    """A date-time, as ``kind``: text with a lower-case "t" or "z" cast upper-cased, and only that
    text (its cast fails otherwise); "0044-03-15T12:00:00+00:00 BC" as "0044-03-15 (BC) 12:00:00+00:00"."""
    bc = rf"regexp_replace(upper({col}), '^([0-9]+-[0-9][0-9]-[0-9][0-9])[T ](.*) BC$', '\1 (BC) \2')"
    fixed = f"CASE WHEN {col} LIKE '% BC' THEN {bc} ELSE upper({col}) END"
    return f"coalesce(try_cast({col} AS {kind}), CAST({fixed} AS {kind}))"


def _date(col: str) -> str:
    """A date, as DATE: "0044-03-15 BC" as "0044-03-15 (BC)"."""
    return f"CAST(CASE WHEN {col} LIKE '% BC' THEN replace({col}, ' BC', ' (BC)') ELSE {col} END AS DATE)"
