"""JSON decoded with every decimal as a ``Decimal`` of its own text (``2.50`` stays ``2.50``).

The usual decode (protocol/_jsoncodec.py) reads a decimal as a float wherever the float keeps its
value, and exactly only where it would not. Stream maps that write a decimal as text need its
digits as written (protocol/maps/_exactness.py decides which streams): msgspec's untyped decoder
hands each decimal's text to ``Decimal`` (integers are Python ints of any size), in one call for
a whole run of lines. What it refuses (NaN, a line nested deeper than it recurses) goes through
:func:`protocol._jsoncodec.exact_loads`, which reads the same values or raises the usual error.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any

from protocol._jsoncodec import exact_loads

__all__ = ["loads_decimals", "loads_decimals_lines"]


@functools.cache
def _decoder() -> Any:
    import msgspec

    return msgspec.json.Decoder(float_hook=Decimal)


def loads_decimals(raw: bytes) -> Any:
    """One JSON text, decimals as written. Raises ``orjson.JSONDecodeError`` as ``exact_loads`` does."""
    import msgspec

    try:
        return _decoder().decode(raw)
    except (msgspec.DecodeError, RecursionError):
        return exact_loads(raw)


def loads_decimals_lines(raw: bytes) -> list[Any]:
    """The JSON values of ``raw``'s lines (joined by b"\\n"), decimals as written."""
    import msgspec

    try:
        return _decoder().decode_lines(raw)  # type: ignore[no-any-return]
    except (msgspec.DecodeError, RecursionError):
        return [exact_loads(line) for line in raw.split(b"\n")]
