"""The leaf closures of compiled stream-map expressions (see :mod:`protocol.maps._expr`)."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal
from typing import Any

__all__ = [
    "json_checked",
    "Expression", "Undefined", "compare1", "constant", "constant_of", "exact", "frame_lookup", "key_of", "record",
    "record_lookup", "record_or",
]

Expression = Callable[[dict[str, Any]], Any]


class Undefined(NameError):
    """A name the record does not hold."""


def exact(value: Any) -> Any:
    """A number read from the record as singer-sdk's engine sees it: a float (orjson parses short
    decimals to floats) becomes the Decimal of its shortest repr, the digits the input held, so
    ``int(total * 100)`` is 1999 for 19.99 as in the SDK, not 1998."""
    return Decimal(repr(value)) if value.__class__ is float else value


def constant(value: Any) -> Expression:
    def const(r: dict[str, Any]) -> Any:
        return value
    const.constant = (value,)  # type: ignore[attr-defined]
    return const


def constant_of(fn: Expression) -> tuple[Any] | None:
    """``(value,)`` when ``fn`` is a constant; the fused closures below inline it."""
    return getattr(fn, "constant", None)


def key_of(fn: Expression) -> tuple[str, str] | None:
    """``(key, name)`` when ``fn`` reads a property of the record; the fused closures inline the read."""
    return getattr(fn, "record_key", None)


def undefined(name: str, key: str) -> Undefined:
    return Undefined(f"name {name!r} is not defined (the record has no property {key!r})")


def record(r: dict[str, Any]) -> Any:
    return r


def record_lookup(key: str, name: str) -> Expression:
    def lookup(r: dict[str, Any]) -> Any:
        try:
            value = r[key]
        except KeyError:
            raise undefined(name, key) from None
        return Decimal(repr(value)) if value.__class__ is float else value
    lookup.record_key = (key, name)  # type: ignore[attr-defined]
    return lookup


def compare1(op: Callable[[Any, Any], Any], left: Expression, right: Expression) -> Expression:
    """``left <op> right``; a property compared with a constant (a filter's usual shape) in one call."""
    found, const = key_of(left), constant_of(right)
    if found is None or const is None:
        return lambda r: op(left(r), right(r))
    (key, name), (value,) = found, const

    def compare(r: dict[str, Any]) -> Any:
        try:
            item = r[key]
        except KeyError:
            raise undefined(name, key) from None
        return op(Decimal(repr(item)) if item.__class__ is float else item, value)
    return compare


def call1(function: Callable[[Any], Any], arg: Expression, *, digest: Any = None) -> Expression:
    """``function(arg)``; of a property, in one call. ``digest`` (hashlib's sha256 or md5): the
    function is the hex digest of its string's UTF-8 bytes, computed here without another call."""
    found = key_of(arg)
    if found is None:
        return lambda r: function(arg(r))
    key, name = found
    if digest is not None:
        def hexdigest(r: dict[str, Any]) -> Any:
            try:
                item = r[key]
            except KeyError:
                raise undefined(name, key) from None
            return digest(item.encode()).hexdigest()
        return hexdigest

    def call(r: dict[str, Any]) -> Any:
        try:
            item = r[key]
        except KeyError:
            raise undefined(name, key) from None
        return function(Decimal(repr(item)) if item.__class__ is float else item)
    return call


def record_or(key: str, default: Any) -> Expression:
    """A function name: the record's property of that name shadows it, as in singer-sdk."""
    def lookup(r: dict[str, Any]) -> Any:
        return exact(r[key]) if key in r else default
    return lookup


def frame_lookup(frame: dict[str, Any], name: str) -> Expression:
    """A comprehension variable, read from the frame its loop writes."""
    return lambda r: frame[name]


#: what the output writers take as it is
_JSON_LEAVES = frozenset({str, int, float, bool, type(None), Decimal})
#: written as their ISO 8601 text, as singer-sdk writes them (``isoformat()``), before a target checks them
_TIMES = frozenset({datetime.datetime, datetime.date, datetime.time})
_MAX_INT_DIGITS_BITS = 14_000  # Python writes an int of up to 4,300 digits (about 14,284 bits)


def json_checked(fn: Expression) -> Expression:
    """``fn``, whose result must be a JSON value: a dict key that is not text, a set, a timedelta,
    a method or ``dict.keys()`` is an error naming what it is (raised in the expression, so the
    map names the line, the stream and the property), not an internal error when the record is
    written. A date, time or datetime (in a list or dict too) becomes its ISO 8601 text here, so a
    target checks the mapped record as it checks the line mapper-sluice writes."""
    def checked(r: dict[str, Any]) -> Any:
        value = fn(r)
        cls = value.__class__
        if cls in _JSON_LEAVES and not (cls is int and value.bit_length() > 64):
            return value
        if cls in _TIMES:
            return value.isoformat()
        return _times_as_text(value) if _check_json(value) else value
    return checked


def _check_json(value: Any) -> bool:
    """Raise on what JSON cannot hold; whether ``value`` holds a date, time or datetime."""
    times = False
    stack = [value]
    while stack:
        item = stack.pop()
        cls = item.__class__
        if cls is dict:
            for key in item:
                if key.__class__ is not str:
                    raise TypeError(f"a dict key {key!r} ({type(key).__name__}) cannot be written as JSON: "
                                    "keys are text (str() it)")
            stack.extend(item.values())
        elif cls is list or cls is tuple:
            stack.extend(item)
        elif isinstance(item, int) and not isinstance(item, bool) and item.bit_length() > _MAX_INT_DIGITS_BITS:
            raise ValueError("an integer of more than 4,300 digits cannot be written as JSON text")
        elif cls in _TIMES:
            times = True
        elif cls not in _JSON_LEAVES:
            raise TypeError(f"a {type(item).__name__} cannot be written as JSON (str() it)")
    return times


def _times_as_text(value: Any) -> Any:
    """``value`` with each date, time and datetime in it as its ISO 8601 text."""
    cls = value.__class__
    if cls is dict:
        return {key: _times_as_text(item) for key, item in value.items()}
    if cls is list or cls is tuple:
        return [_times_as_text(item) for item in value]
    return value.isoformat() if cls in _TIMES else value
