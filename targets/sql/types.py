"""JSON Schema to column types, and the widening rules of schema evolution.

Every property maps to one *logical* type; each dialect names the SQL type for it:

    integer    BIGINT / INTEGER           number   NUMERIC (exact, never float)
    boolean    BOOLEAN                    timestamp  TIMESTAMPTZ ("date-time")
    date       DATE                       time     TIME (a time with a UTC offset: its UTC time)
    json       JSONB / TEXT (objects, arrays, untyped values)
    string     TEXT (anything else; also the type every other one widens to)

Widening never loses data: an integer column widens to number; anything else that
no longer fits widens to string (or json when the new type is json).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from protocol import field_types

__all__ = [
    "BOOLEAN",
    "DATE",
    "INTEGER",
    "JSON",
    "LOGICAL_TYPES",
    "NUMBER",
    "STRING",
    "TIME",
    "TIMESTAMP",
    "accepts",
    "logical_type",
    "upper_time",
    "utc_time",
    "widen",
    "width",
]

INTEGER = "integer"
NUMBER = "number"
BOOLEAN = "boolean"
TIMESTAMP = "timestamp"
DATE = "date"
TIME = "time"
JSON = "json"
STRING = "string"
LOGICAL_TYPES = (INTEGER, NUMBER, BOOLEAN, TIMESTAMP, DATE, TIME, JSON, STRING)

_FORMATS = {"date-time": TIMESTAMP, "date": DATE, "time": TIME}
_DECIMAL_FORMATS = {"singer.decimal", "x-singer.decimal"}


#: a plain string branch restricted by a pattern (see :func:`logical_type`)
_PATTERNED = "pattern"


def _string_formats(prop: Mapping[str, Any]) -> set[str | None]:
    """The formats of every string branch of a property (None: a plain string)."""
    found: set[str | None] = set()
    raw = prop.get("type")
    types = {raw} if isinstance(raw, str) else set(raw or [])
    if "string" in types:
        found.add(prop.get("format") or (_PATTERNED if prop.get("pattern") else None))
    for key in ("anyOf", "oneOf"):
        for sub in prop.get(key) or []:
            if isinstance(sub, Mapping):
                found |= _string_formats(sub)
    return found


def logical_type(prop: Mapping[str, Any]) -> str:
    """The logical column type of one property schema."""
    if not isinstance(prop, Mapping):
        return JSON
    types = field_types(prop) - {"null"}
    if not types:
        return JSON if not field_types(prop) else STRING
    if types <= {INTEGER, NUMBER}:
        return INTEGER if types == {INTEGER} else NUMBER
    if types == {"boolean"}:
        return BOOLEAN
    if types <= {"object", "array"}:
        return JSON
    if types == {"string"}:
        formats = _string_formats(prop)
        if len(formats) > 1:
            # a pattern-restricted branch beside a formatted one holds the special values of that type
            # (tap-postgres: infinity, BC and years past 9999, which the database parses): the format's type
            formats.discard(_PATTERNED)
        if len(formats) == 1:
            fmt = next(iter(formats))
            if fmt in _DECIMAL_FORMATS:
                return NUMBER
            if fmt in _FORMATS:
                return _FORMATS[fmt]
        return STRING
    if types & {"object", "array"}:
        return JSON
    return STRING


def upper_time(value: Any) -> Any:
    """An RFC 3339 date-time with its separator "t" and zone "z" upper-cased, as RFC 3339 allows
    and DuckDB requires (other values as they are)."""
    if value.__class__ is str and len(value) > 10:
        if value[10] == "t":
            value = value[:10] + "T" + value[11:]
        if value[-1] == "z":
            value = value[:-1] + "Z"
    return value


_OFFSET_TIME = re.compile(r"(\d\d):(\d\d)(:\d\d(?:\.\d+)?)(?:([+-])(\d\d):?(\d\d)|[zZ])")


def utc_time(value: Any) -> Any:
    """A time of day with a UTC offset (RFC 3339's full-time: "10:00:00+02:00", "10:00:00Z") as the
    same instant's UTC time of day without one ("08:00:00"), the seconds and their fraction as
    written; any other value as it is. A TIME column holds no offset: PostgreSQL and DuckDB drop it,
    so 10:00:00+02:00 and 10:00:00-07:00 were both stored as 10:00:00."""
    if value.__class__ is not str:
        return value
    found = _OFFSET_TIME.fullmatch(value)
    if found is None:
        return value
    hour, minute, seconds, sign, off_hour, off_minute = found.groups()
    total = int(hour) * 60 + int(minute)
    if sign is not None:
        offset = int(off_hour) * 60 + int(off_minute)
        total -= offset if sign == "+" else -offset
    total %= 24 * 60
    return f"{total // 60:02d}:{total % 60:02d}{seconds}"


def width(logical: str) -> int:
    """How much a type holds: a wider column accepts every value of a narrower one."""
    return {NUMBER: 1, JSON: 2, STRING: 3}.get(logical, 0)


def accepts(column: str, needed: str) -> bool:
    """Whether a column of logical type ``column`` holds values of type ``needed`` losslessly."""
    return column == needed or column in (STRING, JSON) or (column == NUMBER and needed == INTEGER)


def widen(current: str, needed: str) -> str:
    """The narrowest type holding both (``current`` when it already does)."""
    if accepts(current, needed):
        return current
    if {current, needed} <= {INTEGER, NUMBER}:
        return NUMBER
    if needed == JSON:
        return JSON
    return STRING
