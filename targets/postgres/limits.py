"""What JSON holds that PostgreSQL cannot, and what target-postgres does about it.

- **NUL** (U+0000): ``text`` and ``jsonb`` cannot hold it. A value outside the table's key loses
  its NULs (counted: one WARNING per column at the end of the run). A key column's value holding
  one is refused (:func:`nul_in_key`): without it, ``"alice\\u0000"`` is the key ``"alice"`` and
  its row overwrites that record's. In JSON, an object whose keys become equal once their NULs
  are removed (``{"k": 1, "k\\u0000": 2}``) is refused too (:func:`colliding_keys`): one of its
  values would be lost. An object key holding NUL that collides with no other key loses its
  NUL, as a text value does: nothing is overwritten, and the count says so.
- **A UTC offset beyond ±15:59**: RFC 3339 allows up to ±23:59, PostgreSQL's ``timestamptz`` input
  refuses more than 15:59 ("time zone displacement out of range"). Such a date-time is written as
  the same instant in UTC (:func:`utc_date_time`).

The errors are raised by the row builders without a line (:func:`located` adds it and the stream).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from protocol import RecordValidationError

__all__ = ["WIDE_OFFSET", "colliding_keys", "key_collision", "located", "nul_in_key", "utc_date_time"]

#: the smallest UTC offset PostgreSQL's timestamptz input refuses
WIDE_OFFSET = timedelta(hours=16)

_WIDE = re.compile(r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(\.\d+)?([+-])(1[6-9]|2[0-3]):([0-5]\d)")
#: 400 years of the Gregorian calendar have the same days: an instant is computed 400 years from
#: its own (within datetime's years 1-9999), its year then moved back
_CYCLE = 400


def nul_in_key(field: str, line: int | None = None, stream: str | None = None) -> RecordValidationError:
    return RecordValidationError("a key value holds a NUL character, which PostgreSQL cannot store: without it "
                                 "the key could equal another record's and overwrite its row, so the record is "
                                 "refused", line=line, stream=stream, field=field)


def key_collision(field: str, keys: tuple[str, str]) -> RecordValidationError:
    first, second = (json.dumps(k) for k in keys)
    return RecordValidationError(f"object keys {first} and {second} are the same key once the NUL characters "
                                 "PostgreSQL cannot store are removed: one value would be lost, so the record is "
                                 "refused", field=field)


def located(exc: RecordValidationError, message: Any) -> RecordValidationError:
    """``exc`` (raised by a value's converter, naming its field) with the record's line and stream."""
    return RecordValidationError(exc.detail, line=message.line, stream=message.stream, field=exc.field)


def colliding_keys(value: Any) -> tuple[str, str] | None:
    """Two keys of one object in ``value`` (at any depth) that are equal once NUL is removed, or None."""
    pending: list[Any] = [value]
    while pending:  # not recursive: a value may nest deeper than Python's recursion limit
        node = pending.pop()
        if isinstance(node, dict):
            seen: dict[Any, Any] = {}
            for key in node:
                plain = key.replace("\x00", "") if isinstance(key, str) else key
                if plain in seen:
                    return seen[plain], key
                seen[plain] = key
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return None


def _parts(found: re.Match[str]) -> Iterable[int]:
    return (int(found[i]) for i in (1, 2, 3, 4, 5, 6))


def utc_date_time(value: str) -> str:
    """An RFC 3339 date-time whose UTC offset PostgreSQL refuses (beyond ±15:59) as the same instant in
    UTC (``2024-01-01T00:00:00.5-23:59`` → ``2024-01-01T23:59:00.5Z``, the fraction as written; a year
    before 1 in PostgreSQL's ``BC`` form); any other value as it is."""
    if value[-3:-2] != ":" or value[-6:-5] not in ("+", "-") or value[-5:-3] < "16":
        return value  # the cheap test first: no offset (Z), or one PostgreSQL reads
    found = _WIDE.fullmatch(value)
    if found is None:
        return value
    year, month, day, hour, minute, second = _parts(found)
    shift = _CYCLE if year < 5000 else -_CYCLE
    try:
        local = datetime(year + shift, month, day, hour, minute) + timedelta(seconds=second)  # :60 is the next minute
    except ValueError:  # no such day: left to the database, which names it
        return value
    offset = timedelta(hours=int(found[9]), minutes=int(found[10]))
    utc = local - offset if found[8] == "+" else local + offset
    year = utc.year - shift
    rest = f"-{utc:%m-%d}T{utc:%H:%M:%S}{found[7] or ''}Z"
    return f"{year:04d}{rest}" if year >= 1 else f"{1 - year:04d}{rest} BC"
