"""Column types: inferred from a sample of cells, and turned into per-column converters.

Inference keeps, per column, the types that every non-empty sampled cell satisfies and
picks the narrowest, in the order integer, number, boolean, date, date-time, string. A
column is nullable when the sample held an empty cell. Rules are deliberately strict
(no leading zeros for integers, only ``true``/``false`` for booleans, ISO 8601 dates),
because a value past the sample that does not fit its column stops the sync with an
error naming the file, the line and the field.

Converters turn a non-empty cell into its JSON value: ``int`` for integers,
``decimal.Decimal`` for numbers (exact, never a float), ``bool``, and RFC 3339 text for
date-times (naive values are taken as UTC, as singer-sdk does).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from protocol import field_types, is_date, loads

__all__ = [
    "TYPE_NAMES",
    "Converter",
    "comparable_for",
    "converter_for",
    "infer_properties",
    "property_for",
    "type_label",
]

Converter = Callable[[str], Any]

TYPE_NAMES = ("integer", "number", "boolean", "date", "date-time", "string")

_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]*)\Z")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?\Z")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?"
    r"(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)?\Z"
)
# Already RFC 3339: emitted as written once the calendar has been checked.
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:Z|[+-][0-9]{2}:[0-9]{2})\Z"
)
# Naive, otherwise RFC 3339 (the common "2024-01-31 10:00:00"): taken as UTC by appending the offset.
_NAIVE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?\Z")
_fromisoformat = datetime.fromisoformat


def _is_date_time(value: str) -> bool:
    if not _DATE_TIME.match(value):
        return False
    try:
        _fromisoformat(value.upper())
    except ValueError:
        return False
    return True


_CHECKS: tuple[tuple[str, Callable[[str], bool]], ...] = (
    ("integer", lambda v: bool(_INTEGER.match(v))),
    ("number", lambda v: bool(_NUMBER.match(v))),
    ("boolean", lambda v: v.lower() in ("true", "false")),
    ("date", is_date),
    ("date-time", _is_date_time),
)


def property_for(type_name: str, nullable: bool) -> dict[str, Any]:
    """The JSON Schema of a column of a named type."""
    json_type = "string" if type_name in ("date", "date-time") else type_name
    prop: dict[str, Any] = {"type": [json_type, "null"] if nullable else [json_type]}
    if type_name in ("date", "date-time"):
        prop["format"] = type_name
    return prop


def infer_properties(
    header: list[str], rows: Iterable[list[str]], *, infer_types: bool = True
) -> dict[str, dict[str, Any]]:
    """Property schemas for the columns of ``header`` from sample ``rows`` of the same width."""
    width = len(header)
    candidates = [[name for name, _ in _CHECKS] for _ in range(width)]
    seen_value = [False] * width
    seen_empty = [False] * width
    checks = dict(_CHECKS)
    for row in rows:
        for i, cell in enumerate(row[:width]):
            if not cell:
                seen_empty[i] = True
                continue
            seen_value[i] = True
            if candidates[i]:
                candidates[i] = [name for name in candidates[i] if checks[name](cell)]
    props = {}
    for i, name in enumerate(header):
        kind = candidates[i][0] if infer_types and seen_value[i] and candidates[i] else "string"
        props[name] = property_for(kind, seen_empty[i] or not seen_value[i])
    return props


def _format(prop: Mapping[str, Any]) -> str | None:
    fmt = prop.get("format")
    if fmt:
        return str(fmt)
    for key in ("anyOf", "oneOf"):
        for sub in prop.get(key) or []:
            if isinstance(sub, Mapping) and sub.get("format"):
                return str(sub["format"])
    return None


def type_label(prop: Mapping[str, Any]) -> str:
    """The column type a property describes, as named in ``types`` settings."""
    types = field_types(prop) - {"null"}
    fmt = _format(prop)
    if "string" in types or not types:
        return fmt if fmt in ("date", "date-time") else "string"
    for name in ("boolean", "integer", "number", "object", "array"):
        if types == {name} or (name == "number" and types == {"integer", "number"}):
            return name
    return "string"


def _to_decimal(value: str) -> Decimal:
    number = Decimal(value)
    if not number.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    return number


_BOOLEANS = {"true": True, "false": False, "t": True, "f": False, "yes": True, "no": False,
             "y": True, "n": False, "1": True, "0": False}


def _to_boolean(value: str) -> bool:
    try:
        return _BOOLEANS[value.lower()]
    except KeyError:
        raise ValueError(f"{value!r} is not a boolean") from None


def _to_date(value: str) -> str:
    if not _DATE.match(value):
        raise ValueError(f"{value!r} is not a YYYY-MM-DD date")
    date.fromisoformat(value)
    return value


def _to_date_time(value: str, _rfc3339: Any = _RFC3339.match, _naive: Any = _NAIVE.match,
                  _parse: Any = _fromisoformat) -> str:
    if _rfc3339(value):
        _parse(value)  # the calendar: no February 30th
        return value
    if _naive(value):
        _parse(value)
        return f"{value[:10]}T{value[11:]}+00:00"
    moment = _parse(value.upper())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()


def _to_json(value: str) -> Any:
    return loads(value)


_CONVERTERS: dict[str, Converter | None] = {
    "string": None,
    "integer": int,
    "number": _to_decimal,
    "boolean": _to_boolean,
    "date": _to_date,
    "date-time": _to_date_time,
    "object": _to_json,
    "array": _to_json,
}


def converter_for(prop: Mapping[str, Any]) -> Converter | None:
    """The converter of a non-empty cell for a property, or None when the text is the value."""
    return _CONVERTERS[type_label(prop)]


def comparable_for(prop: Mapping[str, Any]) -> Callable[[Any], Any]:
    """Turns converted values into values that order correctly (date-times with offsets)."""
    if type_label(prop) == "date-time":
        return _fromisoformat
    return _identity


def _identity(value: Any) -> Any:
    return value
