"""``json.dumps`` as a stream-map expression calls it: the standard library's text, decimals exact.

A record read with its decimals as written (protocol/maps/_exactness.py) holds ``Decimal`` values:
``json.dumps(record)`` must write them with their own digits (``2.50``, ``1E+400``), not as the
float they round to (``2.5``, ``Infinity``): a content hash of that text would make two records
that differ in the 17th digit one key, and an upserting target would keep one of them.

The standard library writes a number only through ``float.__repr__`` (its C encoder) or the
``floatstr`` its Python encoder is built with: the values are encoded by that Python encoder
(``json.encoder._make_iterencode``, the one ``json.dumps`` itself uses whenever ``indent`` is set),
with a ``floatstr`` that writes a :class:`_Digits` (a Decimal handed to it by ``default``) as the
Decimal's text and every other float as ``json.dumps`` does. Everything else, the options included,
is the standard library's. Text without a Decimal goes through ``json.dumps`` itself (faster).
"""

from __future__ import annotations

import datetime
import json
import math
from decimal import Decimal
from json import encoder as _encoder
from typing import Any

__all__ = ["dumps"]


class _Digits(float):
    """A finite Decimal on its way through the encoder: a float carrying the Decimal's text."""

    __slots__ = ("text",)
    text: str

    def __new__(cls, value: Decimal) -> _Digits:
        if not value.is_finite():
            raise ValueError(f"Decimal {value} is not a JSON number")
        digits = super().__new__(cls, 0.0)  # the float is never written: only the text
        digits.text = str(value)
        return digits


class _HoldsDecimal(Exception):
    """A Decimal met on the fast path: the text is made again with the exact encoder."""


def dumps(obj: Any, **options: Any) -> str:
    """``json.dumps(obj, **options)`` with each Decimal written with its own digits, and each date,
    time and datetime as its ISO 8601 text (as singer-sdk's records write them)."""
    try:
        return json.dumps(obj, default=_fast_default, **options)
    except _HoldsDecimal:
        pass
    options.pop("cls", None)
    coder = json.JSONEncoder(default=_exact_default, **options)
    allow_nan = coder.allow_nan

    def floatstr(value: float) -> str:
        if value.__class__ is _Digits:
            return value.text  # type: ignore[attr-defined]
        if math.isfinite(value):
            return float.__repr__(value)
        if not allow_nan:
            raise ValueError(f"Out of range float values are not JSON compliant: {value!r}")
        return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"

    text = _encoder.encode_basestring_ascii if coder.ensure_ascii else _encoder.encode_basestring
    iterencode = _encoder._make_iterencode(  # type: ignore[attr-defined]
        {} if coder.check_circular else None, coder.default, text, coder.indent, floatstr,
        coder.key_separator, coder.item_separator, coder.sort_keys, coder.skipkeys, True)
    return "".join(iterencode(obj, 0))


def _fast_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        raise _HoldsDecimal
    return _common_default(value)


def _exact_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return _Digits(value)
    return _common_default(value)


def _common_default(value: Any) -> Any:
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
