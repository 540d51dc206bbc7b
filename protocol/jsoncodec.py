"""JSON encoding and decoding for every Singer line, exact for numbers.

orjson is used for every line. It parses numbers into 64-bit floats, which is exact for
any number of up to 15 significant digits (the shortest repr round-trips), but silently
rounds longer numbers and integers beyond 64 bits. A line holding a digit run that long
is therefore parsed again by the standard library with ``Decimal`` for non-integers and
Python ``int`` for integers, so that no value is ever rounded.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import orjson

__all__ = ["dumps", "loads", "needs_exact_parse"]

# 16 or more characters of digits and dots, starting with a digit: a number with at least
# 15 significant digits, or a long digit run inside a string (a harmless false positive).
_LONG_NUMBER = re.compile(rb"[0-9][0-9.]{15}")
needs_exact_parse = _LONG_NUMBER.search

JSONDecodeError = orjson.JSONDecodeError


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        if not obj.is_finite():
            raise TypeError(f"cannot encode {obj} as JSON")
        return orjson.Fragment(str(obj))
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "replace")
    raise TypeError(f"cannot encode {type(obj).__name__} as JSON")


def dumps(obj: Any) -> bytes:
    """Encode to compact JSON bytes (no newline). Decimals stay exact."""
    return orjson.dumps(obj, default=_default)


def loads(data: bytes | str) -> Any:
    """Decode JSON, keeping every number exact. Raises ``orjson.JSONDecodeError``."""
    if isinstance(data, str):
        raw = data.encode("utf-8")
    else:
        raw = data
    if needs_exact_parse(raw):
        return exact_loads(raw)
    return orjson.loads(raw)


def exact_loads(raw: bytes) -> Any:
    """The slow, exact path: stdlib json with Decimal for non-integers."""
    try:
        return json.loads(raw, parse_float=Decimal)
    except ValueError as exc:  # json.JSONDecodeError and UnicodeDecodeError
        raise orjson.JSONDecodeError(str(exc), raw.decode("utf-8", "replace"), 0) from exc
