"""PostgreSQL COPY text format: one line per row, built in bulk by a generated encoder.

Values are tab-separated, rows end with a newline, NULL is ``\\N``; backslash, tab, newline
and carriage return are escaped. PostgreSQL cannot store NUL characters in text or jsonb:
they are dropped (in JSON, the ``\\u0000`` escape is removed), and each value that loses one
is counted (:func:`counting_converter`); a key column's value holding one, and an object whose
keys would collide without them, are refused instead (see limits.py). A date-time whose UTC
offset PostgreSQL refuses (beyond ±15:59) is written as the same instant in UTC.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from protocol import RecordValidationError, dumps, whole_float, whole_number
from targets.postgres.limits import colliding_keys, key_collision, located, nul_in_key, utc_date_time
from targets.sql import types as T

__all__ = ["CONVERT", "NULL", "compile_encoder", "counting_converter", "integer_value", "text_value",
           "timestamp_value"]

NULL = "\\N"
_JSON_NUL = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


def _slow(s: str) -> str:
    return (s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            .replace("\r", "\\r").replace("\x00", ""))


def _esc(s: str) -> str:
    if "\\" in s or not s.isprintable():
        return _slow(s)
    return s


def _text(v: Any) -> str:
    cls = v.__class__
    if cls is str:
        return _esc(v)
    if v is None:
        return NULL
    if cls is bool:
        return "true" if v else "false"
    if cls is dict or cls is list:
        return _json(v)
    if cls is float:
        return repr(v)
    return _esc(str(v))


def _json(v: Any) -> str:
    if v is None:
        return NULL
    text = dumps(v).decode()
    if "\\u0000" in text:
        text = _JSON_NUL.sub(r"\1", text)
    return _esc(text)


def _integer(v: Any) -> str:
    if v.__class__ is int:
        return str(v)
    if v is None:
        return NULL
    if v.__class__ is float and v.is_integer():
        return str(whole_float(v))  # 1e30 is 10**30
    if v.__class__ is Decimal and (whole := whole_number(v)) is not None:  # 1234567890123456.0, read exactly
        return str(whole)
    return _text(v)


def _number(v: Any) -> str:
    cls = v.__class__
    if cls is int:
        return str(v)
    if cls is float:
        return repr(v)
    if v is None:
        return NULL
    return _text(v)


def _boolean(v: Any) -> str:
    if v is True:
        return "t"
    if v is False:
        return "f"
    return _text(v)


def _timestamp(v: Any) -> str:
    """A TIMESTAMP value: one with a UTC offset PostgreSQL refuses as the same instant in UTC."""
    return _esc(utc_date_time(v)) if v.__class__ is str else _text(v)


def _time(v: Any) -> str:
    """A TIME value: one with a UTC offset as its UTC time (PostgreSQL would drop the offset)."""
    return _text(T.utc_time(v))


CONVERT: dict[str, Callable[[Any], str]] = {
    T.INTEGER: _integer, T.NUMBER: _number, T.BOOLEAN: _boolean, T.JSON: _json,
    T.TIMESTAMP: _timestamp, T.DATE: _text, T.TIME: _time, T.STRING: _text,
}


def counting_converter(logical: str, count: Callable[[], None], field: str = "", *,
                       key: bool = False) -> Callable[[Any], str]:
    """The converter of a ``logical`` column (record field ``field``) that calls ``count()`` for every
    value it removes NUL characters from; for a ``key`` column such a value is refused, and so is,
    in any column, an object whose keys would collide without them (RecordValidationError naming
    ``field``; the encoder adds the line). Called by the generated encoder only off its fast paths (a
    string holding NUL is not printable), so plain values cost nothing more."""
    convert = CONVERT[logical]

    def json_value(v: Any) -> str:
        if v is None:
            return NULL
        text = dumps(v).decode()
        if "\\u0000" in text:
            text, removed = _JSON_NUL.subn(r"\1", text)
            if removed:
                if key:
                    raise nul_in_key(field)
                if (pair := colliding_keys(v)) is not None:
                    raise key_collision(field, pair)
                count()
        return _esc(text)

    def value(v: Any) -> str:
        cls = v.__class__
        if cls is str:
            if "\x00" in v:
                if key:
                    raise nul_in_key(field)
                count()
        elif cls is dict or cls is list:
            return json_value(v)
        return convert(v)

    return json_value if logical == T.JSON else value


# Inline fast paths of the generated row encoder (see _compile); anything else calls the converter.
_FAST = {
    T.INTEGER: "(str({v}) if {v}.__class__ is int else {c}({v}))",
    T.NUMBER: "(repr({v}) if {v}.__class__ is float else {c}({v}))",
    T.BOOLEAN: "('t' if {v} is True else 'f' if {v} is False else {c}({v}))",
    T.STRING: "({v} if {v}.__class__ is str and {v}.isprintable() and '\\\\' not in {v} else {c}({v}))",
    # a date-time ending in "Z" or in an offset under 10 hours ("+0H:MM") stays inline; any other
    # calls its converter, which converts an offset PostgreSQL refuses (past 15:59) to UTC (slices,
    # not indexes: a shorter value is no error)
    T.TIMESTAMP: "({v} if {v}.__class__ is str and ({v}[-1:] == 'Z' or {v}[-5:-4] == '0') and {v}.isprintable() "
                 "and '\\\\' not in {v} else {c}({v}))",
}
_FAST[T.DATE] = _FAST[T.STRING]  # a TIME value calls its converter (an offset becomes UTC)


def compile_encoder(fields: list[tuple[str, str]],
                    converters: list[Callable[[Any], str]] | None = None) -> Callable[[dict[str, Any], Any], str]:
    """A row encoder specialised for one column layout: one function, no per-column calls
    on the common paths. Field names enter the source only through ``repr`` (a literal).
    ``converters`` (one per field; default ``CONVERT`` of its type) handle the other values; a
    value they refuse is one RecordValidationError naming the message's line and stream."""
    namespace: dict[str, Any] = {"RecordValidationError": RecordValidationError, "located": located}
    body = ["def encode(record, message):", "    get = record.get"]
    parts = []
    for i, (field, logical) in enumerate(fields):
        namespace[f"c{i}"] = converters[i] if converters is not None else CONVERT[logical]
        body.append(f"    v{i} = get({field!r})")
        parts.append(_FAST.get(logical, "{c}({v})").format(v=f"v{i}", c=f"c{i}"))
    body += ["    try:",  # no cost unless raised
             "        return '\\t'.join((" + ", ".join(parts) + ",)) + '\\n'",
             "    except RecordValidationError as exc:",
             "        raise located(exc, message) from None"]
    exec("\n".join(body), namespace)  # the source comes from the fixed templates above
    encode: Callable[[dict[str, Any], Any], str] = namespace["encode"]
    return encode



text_value = _text
timestamp_value = _timestamp
integer_value = _integer
