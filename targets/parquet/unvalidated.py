"""The values of records not checked against their schema (``validate_records: false``) that a
column would change instead of refusing: 1.5 in an int64 column (pyarrow truncates it to 1), true
in a number column (1.0, or a decimal 1), a number in a date-time column (an internal error). Each
is refused with one line naming its input line, stream and field, as target-postgres refuses it.

The checks are planned once per SCHEMA from the columns' types, and only without validation: a
validated record holds none of these, so with validation on there is nothing to check.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import pyarrow as pa

from protocol import RecordValidationError, whole_number
from targets.parquet.columns import Column

__all__ = ["Check", "plan_checks", "refusal"]

#: why a (non-null) value is refused, or None: (where in the value, ".city" or "[2]"; the reason)
Check = Callable[[Any], tuple[str, str] | None]

_UNCHECKED = "validate_records is false: records are not checked against their schema"


def _integer(value: Any) -> tuple[str, str] | None:
    cls = value.__class__
    if cls is bool:
        return "", f"{'true' if value else 'false'} is not an integer"
    if (cls is float and not value.is_integer()) or (cls is Decimal and whole_number(value) is None):
        return "", f"{value} is not an integer"
    return None


def _number(value: Any) -> tuple[str, str] | None:
    if value.__class__ is bool:
        return "", f"{'true' if value else 'false'} is not a number"
    return None


def _text(value: Any) -> tuple[str, str] | None:
    if value.__class__ is not str:
        return "", f"{value!r} is not a date or date-time (a string)"
    return None


def _fields(checks: list[tuple[str, Check]]) -> Check:
    def check(value: Any) -> tuple[str, str] | None:
        if value.__class__ is not dict:
            return None  # not an object: the struct column refuses it
        for name, sub in checks:
            v = value.get(name)
            if v is not None and (found := sub(v)) is not None:
                return f".{name}{found[0]}", found[1]
        return None
    return check


def _items(sub: Check) -> Check:
    def check(value: Any) -> tuple[str, str] | None:
        if value.__class__ is not list:
            return None  # not an array: the list column refuses it
        for i, v in enumerate(value):
            if v is not None and (found := sub(v)) is not None:
                return f"[{i}]{found[0]}", found[1]
        return None
    return check


def _check(kind: pa.DataType) -> Check | None:
    """The check of a value of a column of type ``kind`` (None: nothing its type would change)."""
    if pa.types.is_int64(kind) or (pa.types.is_decimal(kind) and kind.scale == 0):
        return _integer
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return _number
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        return _text
    if pa.types.is_struct(kind):
        fields = [(f.name, c) for f in kind if (c := _check(f.type)) is not None]
        return _fields(fields) if fields else None
    if pa.types.is_list(kind):
        item = _check(kind.value_type)
        return None if item is None else _items(item)
    return None


def plan_checks(columns: Sequence[Column], validated: bool) -> list[tuple[str, Check]]:
    """(field, check) of every typed column; none when records are validated."""
    if validated:
        return []
    return [(c.name, check) for c in columns
            if c.read_type is not None and (check := _check(c.type)) is not None]


def refusal(found: tuple[str, str], stream: str, field: str, line: int | None) -> RecordValidationError:
    """The error of a value of ``field`` that a check refused (``found``: what the check returned)."""
    where, reason = found
    return RecordValidationError(f"{reason}: its column would not hold it as it is, so it is refused "
                                 f"({_UNCHECKED})", line=line, stream=stream,
                                 field=field + where)
