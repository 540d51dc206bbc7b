"""JSON encoding and decoding for every Singer line, exact for numbers.

orjson is used for every line. It parses numbers into 64-bit floats, which is exact for
any number of up to 15 significant digits (the shortest repr round-trips), but silently
rounds longer numbers and integers beyond 64 bits. A line holding a digit run that long
is therefore parsed again by the standard library with ``Decimal`` for non-integers and
Python ``int`` for integers, so that no value is ever rounded.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import orjson

__all__ = ["dumps", "loads", "needs_exact_parse"]

# A run of 16 or more digits and dots: a number with at least 15 significant digits, or a
# long digit run inside a string (a harmless false positive). bytes.translate maps digits
# and dots to "d" and everything else to a space; the search is then a plain substring
# search, several times faster than a regular expression over a digit-heavy line.
_DIGITS = bytes(0x64 if (0x30 <= i <= 0x39 or i == 0x2E) else 0x20 for i in range(256))
_RUN = b"d" * 16


def needs_exact_parse(raw: bytes) -> bool:
    """True when ``raw`` may hold a number that a 64-bit float would round."""
    return _RUN in raw.translate(_DIGITS)

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
    """Encode to compact JSON bytes (no newline). Decimals and integers beyond 64 bits stay exact."""
    try:
        return orjson.dumps(obj, default=_default)
    except TypeError:
        # orjson refuses integers beyond 64 bits without calling ``default``; the exact
        # parser produces them from long digit runs. Encode them as raw number text.
        return orjson.dumps(_big_ints_as_text(obj), default=_default)


_INT64_MIN = -(2**63)
_UINT64_MAX = 2**64 - 1


def _big_ints_as_text(obj: Any) -> Any:
    cls = obj.__class__
    if cls is int and not _INT64_MIN <= obj <= _UINT64_MAX:
        return orjson.Fragment(str(obj).encode())
    if cls is dict:
        return {k: _big_ints_as_text(v) for k, v in obj.items()}
    if cls is list or cls is tuple:
        return [_big_ints_as_text(v) for v in obj]
    return obj


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
