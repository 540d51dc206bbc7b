"""The leaf closures of compiled stream-map expressions (see :mod:`protocol.maps._expr`)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

__all__ = ["Expression", "Undefined", "constant", "exact", "frame_lookup", "record", "record_lookup", "record_or"]

Expression = Callable[[dict[str, Any]], Any]


class Undefined(NameError):
    """A name the record does not hold."""


def exact(value: Any) -> Any:
    """A number read from the record as singer-sdk's engine sees it: a float (orjson parses short
    decimals to floats) becomes the Decimal of its shortest repr, the digits the input held, so
    ``int(total * 100)`` is 1999 for 19.99 as in the SDK, not 1998."""
    return Decimal(repr(value)) if value.__class__ is float else value


def constant(value: Any) -> Expression:
    return lambda r: value


def record(r: dict[str, Any]) -> Any:
    return r


def record_lookup(key: str, name: str) -> Expression:
    def lookup(r: dict[str, Any]) -> Any:
        try:
            value = r[key]
        except KeyError:
            raise Undefined(f"name {name!r} is not defined (the record has no property {key!r})") from None
        return Decimal(repr(value)) if value.__class__ is float else value
    return lookup


def record_or(key: str, default: Any) -> Expression:
    """A function name: the record's property of that name shadows it, as in singer-sdk."""
    def lookup(r: dict[str, Any]) -> Any:
        return exact(r[key]) if key in r else default
    return lookup


def frame_lookup(frame: dict[str, Any], name: str) -> Expression:
    """A comprehension variable, read from the frame its loop writes."""
    return lambda r: frame[name]
