"""Rows as CSV lines, record by record (the path of records the bulk builder does not take:
metadata columns, JSON columns, times, the reference lane).

The text is the one :mod:`targets.sql.rawrows` builds in bulk, so DuckDB reads both with the
same ``read_csv`` options: values separated by ``,``, text in ``"`` with ``"`` doubled, and a
bare ``null`` for NULL (a quoted ``"null"`` is the string). NUL characters are kept: DuckDB
stores them (the bulk builder keeps them too, ``Loader.stores_nul``).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from protocol import dumps, whole_float, whole_number
from targets.sql import types as T

__all__ = ["NULL", "converter", "quoted"]

NULL = "null"
Converter = Callable[[Any], str]


def quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _scalar_text(v: Any) -> str:
    """Any non-null value as the text of a VARCHAR column."""
    cls = v.__class__
    if cls is bool:
        return "true" if v else "false"
    if cls is dict or cls is list:
        return dumps(v).decode()
    if cls is float:
        return repr(v)
    return str(v)


def _number_text(v: Any) -> str:
    cls = v.__class__
    if cls is float:
        return repr(v)
    if cls is int or cls is Decimal:
        return str(v)
    return quoted(_scalar_text(v))  # not a number: DuckDB refuses it, naming the value


#: the largest finite double: DuckDB reads a larger number into a DOUBLE column as infinity
_DOUBLE_MAX = Decimal("1.7976931348623157e308")


def _double_text(v: Any) -> str:
    """:func:`_number_text` for a DOUBLE column (``number_type: double``): an exact number past a
    double's range (``1E400`` is JSON) is written so that DuckDB refuses it, naming it, rather
    than storing infinity."""
    if v.__class__ is Decimal and v.is_finite() and abs(v) > _DOUBLE_MAX:
        return quoted(f"{v} (past the range of DOUBLE)")
    return _number_text(v)


def _integer_text(v: Any) -> str:
    cls = v.__class__
    if cls is int:
        return str(v)
    if cls is float and v.is_integer():
        return str(whole_float(v))  # 1e30 is 10**30
    if cls is Decimal and (whole := whole_number(v)) is not None:  # 1234567890123456.0, read exactly
        return str(whole)
    return quoted(_scalar_text(v))


def _boolean_text(v: Any) -> str:
    if v.__class__ is bool:
        return "true" if v else "false"
    return quoted(_scalar_text(v))


def _text(v: Any) -> str:
    if v is None:
        return NULL
    return quoted(v) if v.__class__ is str else quoted(_scalar_text(v))


def _timestamp_text(v: Any) -> str:
    """:func:`_text` for a TIMESTAMPTZ column: RFC 3339 allows a lower-case ``t`` and ``z``, which
    DuckDB refuses; they are written upper-case (nothing else in a date-time is a letter)."""
    return _text(T.upper_time(v))


def _time_text(v: Any) -> str:
    """:func:`_text` for a TIME column: a time with a UTC offset is written as its UTC time (DuckDB
    would drop the offset)."""
    return _text(T.utc_time(v))


def _json(v: Any) -> str:
    return NULL if v is None else quoted(dumps(v).decode())


def converter(logical: str, *, double: bool = False) -> Converter:
    """The CSV text of one value of a ``logical`` column (``double``: numbers go to DOUBLE)."""

    def guarded(fn: Converter) -> Converter:
        def convert(v: Any) -> str:
            return NULL if v is None else fn(v)
        return convert

    if logical == T.INTEGER:
        return guarded(_integer_text)
    if logical == T.NUMBER:
        return guarded(_double_text if double else _number_text)
    if logical == T.BOOLEAN:
        return guarded(_boolean_text)
    if logical == T.JSON:
        return _json
    if logical == T.TIMESTAMP:
        return _timestamp_text
    if logical == T.TIME:
        return _time_text
    return _text
