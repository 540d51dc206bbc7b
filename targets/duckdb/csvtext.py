"""Rows as CSV lines, record by record (the path of records the bulk builder does not take:
metadata columns, JSON columns, times, the reference lane).

The text is the one :mod:`targets.sql.rawrows` builds in bulk, so DuckDB reads both with the
same ``read_csv`` options: values separated by ``,``, text in ``"`` with ``"`` doubled, and a
bare ``null`` for NULL (a quoted ``"null"`` is the string). NUL characters are kept: DuckDB
stores them (the bulk builder keeps them too, ``Loader.stores_nul``).

A value its column would change is refused here, naming its input line and field: 1.5 (or the
text "1.5") into a HUGEINT, which DuckDB rounds to 2, and true into a number (a VARCHAR number
column, number_type text, held "true"; a DECIMAL one failed the load naming a line of the CSV
file). Only records not validated (``validate_records: false``) hold one; the checks sit where
a valid value never goes, but for a VARCHAR number column's class check.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from protocol import RecordValidationError, dumps, whole_float, whole_number
from targets.sql import types as T
from targets.sql.dialect import Encoder, MetaValues, meta_row
from targets.sql.table import Column, TableSpec

__all__ = ["NULL", "converter", "quoted", "row_encoder"]

NULL = "null"
Converter = Callable[[Any], str]


class Inexact(ValueError):
    """A value its column would change rather than refuse; the message says what it is."""


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
    if cls is bool:  # DuckDB refuses it too, but names a line of its CSV file
        raise Inexact(f"{_scalar_text(v)} is not a number")
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
    if cls is bool or cls is float or cls is Decimal or (cls is str and _fraction(v)):
        raise Inexact(f"{repr(v) if cls is str else _scalar_text(v)} is not an integer")
    return quoted(_scalar_text(v))  # not an integer: DuckDB refuses it, naming the value


def _fraction(text: str) -> bool:
    """Whether ``text`` is a number with a fraction ("1.5", "-2.5e0", ".5"): DuckDB's cast to an
    integer rounds it."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        return False
    return number.is_finite() and number != number.to_integral_value()


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


def row_encoder(spec: TableSpec, meta: MetaValues, *, double: bool) -> Encoder:
    """The CSV line of a record (``double``: numbers go to DOUBLE); a value its column would change
    is refused, naming the record's line and the field."""
    converters = [_column_converter(c, double) for c in spec.columns]
    fields = [(c.source.field, conv) for c, conv in zip(spec.columns, converters, strict=True)
              if c.source.meta is None]
    if len(fields) == len(converters):

        def encode(record: dict[str, Any], message: Any) -> str:
            get = record.get
            try:
                return ",".join([conv(get(f)) for f, conv in fields]) + "\n"
            except Inexact:
                raise _refusal(fields, record, message) from None
        return encode

    text, integer = converter(T.STRING), converter(T.INTEGER)
    order = [(c.source.meta, c.source.field, conv) for c, conv in zip(spec.columns, converters, strict=True)]
    values = meta_row(order, meta, extracted=text, version=integer, sequence=str)

    def encode_meta(record: dict[str, Any], message: Any) -> str:
        # a value is never empty text (strings are quoted) but an unset receive time: NULL
        try:
            return ",".join([v or "null" for v in values(record, message)]) + "\n"
        except Inexact:
            raise _refusal(fields, record, message) from None
    return encode_meta


def _column_converter(column: Column, double: bool) -> Converter:
    conv = converter(column.logical, double=double)
    if column.logical != T.STRING or column.source.logical != T.NUMBER:
        return conv

    def number_text(v: Any) -> str:  # a number in a VARCHAR column (number_type: text) is its text
        if v.__class__ is bool:
            raise Inexact(f"{_scalar_text(v)} is not a number")
        return conv(v)
    return number_text


def _refusal(fields: list[tuple[str, Converter]], record: dict[str, Any], message: Any) -> RecordValidationError:
    """The error naming the first field of ``record`` whose value its column would change."""
    for field, conv in fields:
        try:
            conv(record.get(field))
        except Inexact as exc:
            return RecordValidationError(f"{exc}: its column would not hold it as it is, so it is refused "
                                         "(validate_records is false: records are not checked against their "
                                         "schema)", line=message.line, stream=message.stream, field=field)
    raise AssertionError("a value was refused, then accepted")
