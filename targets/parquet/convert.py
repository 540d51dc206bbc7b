"""Records as JSON lines -> one Arrow table of a stream's columns.

The fast path hands the lines to pyarrow's JSON reader with the columns' explicit read types, in
one call (its threads parse blocks in parallel), then casts the columns read in another type
(dates, read as strings) and builds the JSON-text columns. Decimals are read wide (see
:func:`_read_type`) and cast to their column's decimal128, a cast that refuses a value past its
precision. When the reader refuses a batch (a value it does not parse: an integer beyond int64, a
date-time form it does not know, a record larger than a block), or reads a value its column cannot
hold (a decimal past its column's precision, a number past a double's range as infinity), the
batch is converted again on the reference path:
every line decoded by the kit's exact JSON parser and every value converted in Python
(columns.py), which either builds the same columns or names the line and field of the value
that no column of that type can hold.
"""

from __future__ import annotations

import io
from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from protocol import ProtocolError, loads
from targets.parquet.columns import Column, ValueFault

__all__ = ["Lines", "to_table"]

BLOCK_BYTES = 1 << 20
WIDE_DIGITS = 76  # decimal256's precision


class Lines:
    """Where the rows of a batch came from: (first row, first input line) of each stretch of
    consecutive lines, to name the input line of a row in an error."""

    def __init__(self) -> None:
        self.rows: list[int] = []
        self.lines: list[int] = []
        self.count = 0

    def add(self, first_line: int, count: int) -> None:
        if self.rows and self.lines[-1] + (self.count - self.rows[-1]) == first_line:
            self.count += count  # continues the last stretch
            return
        self.rows.append(self.count)
        self.lines.append(first_line)
        self.count += count

    def line_of(self, row: int) -> int | None:
        k = bisect_right(self.rows, row) - 1
        return None if k < 0 else self.lines[k] + row - self.rows[k]


def to_table(data: bytes, columns: Sequence[Column], schema: pa.Schema, lines: Lines, stream: str) -> pa.Table:
    """The table of ``lines.count`` records given as JSON lines (``data``, each ending in a newline)."""
    try:
        return _fast(data, columns, schema, lines.count)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
        return _reference(data, columns, schema, lines, stream)


def _fast(data: bytes, columns: Sequence[Column], schema: pa.Schema, count: int) -> pa.Table:
    read = [pa.field(c.name, _read_type(c.read_type, c.type)) for c in columns if c.read_type is not None]
    arrays: dict[str, Any] = {}
    if read:
        options = pj.ParseOptions(explicit_schema=pa.schema(read), unexpected_field_behavior="ignore")
        block = BLOCK_BYTES if len(data) <= BLOCK_BYTES * 64 else len(data) // 64 + 1
        try:
            table = pj.read_json(io.BytesIO(data), read_options=pj.ReadOptions(block_size=block),
                                 parse_options=options)
        except pa.ArrowInvalid as exc:
            if "straddl" not in str(exc):  # a record longer than a block: read as one block
                raise
            table = pj.read_json(io.BytesIO(data), read_options=pj.ReadOptions(block_size=len(data) + 1),
                                 parse_options=options)
        if table.num_rows != count:
            raise pa.ArrowInvalid(f"read {table.num_rows} rows of {count}")
        arrays = dict(zip(table.column_names, table.columns, strict=True))
        for array in arrays.values():
            _check_read(array)
    texts = [c for c in columns if c.read_type is None]
    if texts:
        records = _decoded(data)
        for c in texts:
            arrays[c.name] = _array(c, records, None, "")
    out = []
    for c in columns:
        array = arrays[c.name]
        if array.type != c.type:
            array = array.cast(c.type)  # dates read as strings; wide decimals, checked against precision 38
        out.append(array)
    if not columns:  # a schema without properties: rows without columns
        return pa.table({"_": pa.nulls(count)}).drop_columns(["_"])
    return pa.Table.from_arrays(out, schema=schema)


def _read_type(read: pa.DataType, kind: pa.DataType) -> pa.DataType:
    """What pyarrow's JSON reader reads a column of type ``kind`` as: ``read``, with every
    decimal128(38, s) in ``kind`` (a number, or singer.decimal text: the reader takes both) as a
    decimal256(76 - s, s). Read as decimal128(38, s), 18446744073709551616 at scale 30 was stored
    as 93653091.63...: the reader refuses a text of more digits than the type's precision, then
    rescales it to the type's scale without checking for overflow (Arrow's DecimalConverter). At
    most 76 - s digits, rescaled to scale s, are less than 10^76 and fit 256 bits; the cast to
    the column's decimal128 then refuses a value past 38 digits."""
    if pa.types.is_decimal128(kind):
        return pa.decimal256(WIDE_DIGITS - kind.scale, kind.scale)
    if pa.types.is_struct(kind):
        return pa.struct([r.with_type(_read_type(r.type, k.type)) for r, k in zip(read, kind, strict=True)])
    if pa.types.is_list(kind):
        return pa.list_(read.value_field.with_type(_read_type(read.value_type, kind.value_type)))
    return read


def _check_read(array: pa.ChunkedArray) -> None:
    """What pyarrow's JSON reader lets through and no column of its type holds: a number past a
    double's range read as infinity (JSON has no infinity); a decimal past its column's precision
    is refused by the cast to the column's type. The batch then goes the reference way, which
    names the line and field."""
    if pa.types.is_floating(array.type) and pc.any(pc.is_inf(array)).as_py():
        raise pa.ArrowInvalid("a number past a double's range")


def _decoded(data: bytes) -> list[dict[str, Any]]:
    return [loads(line) for line in data.split(b"\n") if line]


def _reference(data: bytes, columns: Sequence[Column], schema: pa.Schema, lines: Lines, stream: str) -> pa.Table:
    records = _decoded(data)
    return pa.Table.from_arrays([_array(c, records, lines, stream) for c in columns], schema=schema)


def _array(column: Column, records: list[dict[str, Any]], lines: Lines | None, stream: str) -> pa.Array:
    """One column built in Python; a value it cannot hold names its line (when ``lines`` is given)."""
    name, convert = column.name, column.convert
    values = [r.get(name) for r in records]
    if convert is not None:
        for i, value in enumerate(values):
            if value is None:
                continue
            try:
                values[i] = convert(value)
            except (ValueFault, TypeError, ValueError) as exc:
                raise _fault(exc, i, column, lines, stream) from None
    try:
        return pa.array(values, type=column.type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
        for i, value in enumerate(values):  # which one: the error path only
            try:
                pa.array([value], type=column.type)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as one:
                raise _fault(one, i, column, lines, stream) from None
        raise _fault(exc, 0, column, lines, stream) from None


def _fault(exc: Exception, row: int, column: Column, lines: Lines | None, stream: str) -> ProtocolError:
    line = lines.line_of(row) if lines is not None else None
    return ProtocolError(f"cannot be written as {column.type}: {exc}", line=line, stream=stream, field=column.name)
