"""Column types: inferred from a sample of cells, and turned into per-column converters.

Inference keeps, per column, the types whose converter accepts every non-empty sampled
cell, and picks the narrowest, in the order integer, number, boolean, date, date-time,
string. A column is nullable when the sample held an empty cell. The converters are the
only definition of each type, so inference and conversion never disagree: a value past
the sample that does not fit its column stops the sync with an error naming the file, the
line and the field, it is never changed to fit. Rules are deliberately strict: an integer
or number is written as JSON writes it (no leading zeros, blanks, ``+``, ``_``, non-ASCII
digits, or ``-0`` for an integer), booleans are ``true``/``false`` in any case, dates are
ISO 8601 ``YYYY-MM-DD``, date-times ``YYYY-MM-DD`` + ``T``/``t``/blank + ``HH:MM`` with
optional seconds, fraction and ``Z`` or offset.

Converters turn a non-empty cell into its JSON value: ``int`` for integers,
``decimal.Decimal`` for numbers (exact, never a float), ``bool``, and RFC 3339 text for
date-times (naive values are taken as UTC, as singer-sdk does). A column declared boolean
in the configuration (``types`` or ``schema``) also accepts ``t``/``f``, ``yes``/``no``,
``y``/``n`` and ``1``/``0``: that is what declaring it is for.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from protocol import field_types, is_date, loads

__all__ = [
    "CELL_ERRORS",
    "TYPE_NAMES",
    "Converter",
    "comparable_for",
    "converter_for",
    "infer_properties",
    "property_for",
    "type_label",
]

Converter = Callable[[str], Any]
CELL_ERRORS = (ValueError, ArithmeticError)  # what a converter raises for a cell it refuses

TYPE_NAMES = ("integer", "number", "boolean", "date", "date-time", "string")

_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?\Z")
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


def _to_integer(value: str, _int: Any = int, _str: Any = str) -> int:
    # int() alone takes " 42 ", "+5", "1_000", "٣", "007" and "-0"; only JSON's own spelling
    # reads back unchanged, which is cheaper to check than a regular expression.
    number: int = _int(value)
    if _str(number) != value:
        raise ValueError(f"{value!r} is not an integer as JSON writes it")
    return number


def _to_decimal(value: str, _decimal: Any = Decimal, _str: Any = str, _json: Any = _NUMBER.match) -> Decimal:
    # Decimal() takes blanks, "+", "_", ".5", non-ASCII digits, NaN and Infinity. Most cells
    # read back unchanged (finite ones then are JSON numbers); only the others need the pattern.
    number: Decimal = _decimal(value)
    if (_str(number) != value or not number.is_finite()) and _json(value) is None:
        raise ValueError(f"{value!r} is not a number as JSON writes it")
    return number


_BOOLEANS = {"true": True, "false": False}
_DECLARED_BOOLEANS = {**_BOOLEANS, "t": True, "f": False, "yes": True, "no": False,
                      "y": True, "n": False, "1": True, "0": False}


def _to_boolean(value: str, _booleans: dict[str, bool] = _BOOLEANS) -> bool:
    try:
        return _booleans[value.lower()]
    except KeyError:
        raise ValueError(f"{value!r} is not a boolean (true or false)") from None


def _to_declared_boolean(value: str) -> bool:
    try:
        return _DECLARED_BOOLEANS[value.lower()]
    except KeyError:
        raise ValueError(f"{value!r} is not a boolean") from None


def _to_date(value: str) -> str:
    if not is_date(value):
        raise ValueError(f"{value!r} is not a YYYY-MM-DD date")
    return value


def _to_date_time(value: str, _rfc3339: Any = _RFC3339.match, _naive: Any = _NAIVE.match,
                  _parse: Any = _fromisoformat) -> str:
    if _rfc3339(value):
        _parse(value)  # the calendar: no February 30th
        return value
    if _naive(value):
        _parse(value)
        return f"{value[:10]}T{value[11:]}+00:00"
    # fromisoformat alone also takes "20240101T1000", "2024-01-01T10" and offsets with seconds
    if not _DATE_TIME.match(value):
        raise ValueError(f"{value!r} is not an ISO 8601 date-time (YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM])")
    moment = _parse(value.upper())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()


def _to_json(value: str) -> Any:
    return loads(value)


_CONVERTERS: dict[str, Converter | None] = {
    "string": None,
    "integer": _to_integer,
    "number": _to_decimal,
    "boolean": _to_boolean,
    "date": _to_date,
    "date-time": _to_date_time,
    "object": _to_json,
    "array": _to_json,
}


def converter_for(prop: Mapping[str, Any], *, declared: bool = False) -> Converter | None:
    """The converter of a non-empty cell for a property, or None when the text is the value.
    ``declared``: the column's type comes from the configuration, not from inference."""
    label = type_label(prop)
    if declared and label == "boolean":
        return _to_declared_boolean
    return _CONVERTERS[label]


def _accepts(convert: Converter) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        try:
            convert(value)
        except CELL_ERRORS:
            return False
        return True
    return check


# Inference asks the converters themselves: a column is typed only by rules its values are read by.
_CHECKS: tuple[tuple[str, Callable[[str], bool]], ...] = (
    ("integer", _accepts(_to_integer)),
    ("number", _accepts(_to_decimal)),
    ("boolean", _accepts(_to_boolean)),
    ("date", _accepts(_to_date)),
    ("date-time", _accepts(_to_date_time)),
)


def comparable_for(prop: Mapping[str, Any]) -> Callable[[Any], Any]:
    """Turns converted values into values that order correctly (date-times with offsets)."""
    if type_label(prop) == "date-time":
        return _fromisoformat
    return _identity


def _identity(value: Any) -> Any:
    return value
