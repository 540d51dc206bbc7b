"""JSON encoding and decoding for every Singer line, exact for numbers.

orjson is used for every line. It parses numbers into 64-bit floats, which is exact for
any number of up to 15 significant digits (the shortest repr round-trips), but silently
rounds longer numbers and integers beyond 64 bits. A line holding a digit run that long
is therefore parsed again by the standard library with ``Decimal`` for non-integers and
Python ``int`` for integers, so that no value is ever rounded.

Nesting: a line may nest objects and arrays up to :data:`MAX_DEPTH` levels (orjson's own
limit; the message is level 1, a RECORD's record level 2). Every path honours the same
limit: the exact parser checks it with orjson first, and :func:`dumps` encodes values that
orjson refuses to encode (it stops at 255 levels) without recursion. :func:`deep_recursion`
gives the recursive libraries (stdlib json, jsonschema) room for that depth.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import orjson

from protocol._longdigits import long_digit_lines, needs_exact_parse

JSONDecodeError = orjson.JSONDecodeError

__all__ = ["MAX_DEPTH", "deep_recursion", "dumps", "dumps_pretty", "holds_decimal", "loads", "loads_lines", "loads_run",
           "long_digit_lines", "needs_exact_parse", "refuse_constant", "too_deep", "where_too_deep", "whole_float",
           "whole_number"]

MAX_DEPTH = 1024
# Lines with fewer opening brackets than this cannot hit the interpreter's recursion limit.
_SHALLOW = 256
# Frames the recursive libraries may need for MAX_DEPTH levels (jsonschema takes several a level).
_DEEP_RECURSION = 40 * MAX_DEPTH

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
    """Encode to compact JSON bytes (no newline). Decimals and integers beyond 64 bits stay exact;
    values nested deeper than orjson encodes (255 levels) are encoded too."""
    try:
        return orjson.dumps(obj, default=_default)
    except TypeError:
        # orjson refuses integers beyond 64 bits without calling ``default`` (the exact parser
        # produces them from long digit runs), and values nested deeper than 255 levels.
        return _dumps_piecewise(obj)


def dumps_pretty(obj: Any, *, other: Callable[[Any], Any] | None = None, sort_keys: bool = False) -> str:
    """JSON text for people, indented by two spaces: Decimals and integers past 64 bits are numbers,
    exact (``json.dumps(default=str)`` wrote them as strings, which a state or catalog saved from the
    output then held). ``other`` makes what JSON has no type for encodable (``str`` for a path).
    A value orjson cannot encode even so (an integer past 64 bits, 255 levels) is written compact."""
    def default(value: Any) -> Any:
        try:
            return _default(value)
        except TypeError:
            if other is None:
                raise
            return other(value)

    option = orjson.OPT_INDENT_2 | (orjson.OPT_SORT_KEYS if sort_keys else 0)
    try:
        return orjson.dumps(obj, default=default, option=option).decode()
    except TypeError:  # orjson refuses an integer past 64 bits without asking ``default``
        pass
    try:
        return orjson.dumps(_big_ints_as_text(obj), default=default, option=option).decode()
    except (TypeError, RecursionError):
        return _dumps_piecewise(obj).decode()


def _big_ints_as_text(value: Any) -> Any:
    """``value`` with every integer past 64 bits as an orjson fragment of its digits (for display)."""
    if value.__class__ is int and not _INT64_MIN <= value <= _UINT64_MAX:
        return orjson.Fragment(str(value))
    if isinstance(value, dict):
        return {k: _big_ints_as_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_big_ints_as_text(v) for v in value]
    return value


_INT64_MIN = -(2**63)
_UINT64_MAX = 2**64 - 1
_EMIT = object()


def _dumps_piecewise(obj: Any) -> bytes:
    """What orjson refused: every part it encodes is encoded by it, the rest piece by piece.

    No recursion (an explicit stack): nesting is bounded by memory only. Raises TypeError
    for what cannot be encoded at all, as orjson does.
    """
    out: list[bytes] = []
    stack: list[tuple[object, Any]] = [(None, obj)]
    while stack:
        tag, item = stack.pop()
        if tag is _EMIT:
            out.append(item)
            continue
        try:
            out.append(orjson.dumps(item, default=_default))
            continue
        except TypeError:
            if item.__class__ is int and not _INT64_MIN <= item <= _UINT64_MAX:
                out.append(str(item).encode())
                continue
            if not isinstance(item, (dict, list, tuple, set, frozenset)):
                raise
        out.append(_open_container(item, stack))
    return b"".join(out)


def _open_container(item: Any, stack: list[tuple[object, Any]]) -> bytes:
    """Push a container's parts (separators, keys, values, closing bracket); its opening bracket."""
    parts: list[tuple[object, Any]] = []
    if isinstance(item, dict):
        for i, (key, value) in enumerate(item.items()):
            if not isinstance(key, str):
                raise TypeError("Dict key must be str")
            parts.append((_EMIT, (b"," if i else b"") + orjson.dumps(key) + b":"))
            parts.append((None, value))
        stack.append((_EMIT, b"}"))
        stack.extend(reversed(parts))
        return b"{"
    for i, value in enumerate(item):
        if i:
            parts.append((_EMIT, b","))
        parts.append((None, value))
    stack.append((_EMIT, b"]"))
    stack.extend(reversed(parts))
    return b"["


def loads(data: bytes | str) -> Any:
    """Decode JSON, keeping every number exact. Raises ``orjson.JSONDecodeError``."""
    if isinstance(data, str):
        raw = data.encode("utf-8")
    else:
        raw = data
    if needs_exact_parse(raw):
        return exact_loads(raw)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if _out_of_range(exc):
            return exact_loads(raw)
        raise


@functools.cache
def _lines_decoder() -> Any:
    import msgspec

    return msgspec.json.Decoder()


def loads_lines(raw: bytes, *, tiny: bool = True) -> list[Any]:
    """The JSON values of ``raw``'s lines (joined by b"\\n", none empty), each as :func:`loads`
    reads it: one msgspec call for the whole text, then only the lines that may hold a number a
    float rounds are read again, exactly (not the whole text, as one such line would make it).
    ``tiny``: as for :func:`long_digit_lines` (false only where the decoded values show no number
    a tiny exponent may have become, see :class:`protocol.TinyNumbers`)."""
    return loads_run(raw, tiny=tiny)[0]


def loads_run(raw: bytes, *, tiny: bool = True) -> tuple[list[Any], bool]:
    """:func:`loads_lines`, and whether any value holds a Decimal (a number read exactly that a
    float would round: only the lines read again can)."""
    import msgspec  # only the fast lane, which has it loaded, reads runs of lines

    try:  # msgspec's untyped decoder: no joined copy of the text, and faster than orjson here
        values: list[Any] = _lines_decoder().decode_lines(raw)
    except msgspec.DecodeError:  # a number out of a float's range (or bad text: loads names it)
        values = [loads(line) for line in raw.split(b"\n")]
        return values, any(map(holds_decimal, values))
    doubted = long_digit_lines(raw, tiny=tiny)
    if not doubted:
        return values, False
    lines = raw.split(b"\n")
    for i in doubted:
        values[i] = exact_loads(lines[i])
    return values, any(holds_decimal(values[i]) for i in doubted)


def holds_decimal(value: Any) -> bool:
    """Whether a Decimal is anywhere in ``value`` (a loop, not recursion: records nest deep)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, Decimal):
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _depth_check(raw: bytes) -> None:
    """Raise orjson's error past MAX_DEPTH levels (a number out of a float's range is no error here)."""
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if not _out_of_range(exc):
            raise


def _out_of_range(exc: ValueError) -> bool:
    """Whether orjson refused a valid number it cannot hold as a float (``1E400``): JSON has no
    such limit, and the exact parser reads it as a Decimal."""
    return "number is infinity" in str(exc)


def refuse_constant(name: str) -> Any:
    """``parse_constant`` for the standard library's json: NaN and Infinity are not JSON."""
    raise ValueError(f"{name} is not JSON")


def whole_number(value: Decimal) -> int | None:
    """The int an exactly read number is when it is integral (``1234567890123456.0``: JSON Schema's
    integer, as ``2.0`` read as a float is), else None."""
    return int(value) if value.is_finite() and value == value.to_integral_value() else None


def whole_float(value: float) -> int:
    """The integer an integral float read from JSON stands for: the value of its shortest text
    (``1e30`` is 10**30, where ``int()`` gives the float's own 1000000000000000019884624838656).
    Below 2**53 the two agree; text with 16 or more digits is read exactly, never as a float."""
    return int(value) if -(2**53) <= value <= 2**53 else int(Decimal(repr(value)))


def exact_loads(raw: bytes) -> Any:
    """The slow, exact path: stdlib json with Decimal for non-integers (NaN and Infinity, which
    the standard library reads by default, are refused: they are not JSON).

    A line that may be deep is first checked by orjson, so the depth limit is orjson's.
    """
    try:
        if raw.count(b"{") + raw.count(b"[") < _SHALLOW:
            value = json.loads(raw, parse_float=Decimal, parse_constant=refuse_constant)
        else:
            _depth_check(raw)
            with deep_recursion():
                value = json.loads(raw, parse_float=Decimal, parse_constant=refuse_constant)
    except ValueError as exc:  # json.JSONDecodeError, orjson.JSONDecodeError and UnicodeDecodeError
        raise orjson.JSONDecodeError(str(exc), raw.decode("utf-8", "replace"), 0) from exc
    escape = _SURROGATE_ESCAPE.search(raw)
    if escape is not None and _holds_lone_surrogate(value):
        text = raw.decode("utf-8", "replace")
        raise orjson.JSONDecodeError("a \\u escape is a lone UTF-16 surrogate, which is no character", text,
                                     len(raw[:escape.start()].decode("utf-8", "replace")))
    return value


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _holds_lone_surrogate(value: Any) -> bool:
    """Whether a string of ``value`` holds a lone surrogate: the standard library reads ``"\\ud800"``
    as one, which is no text (orjson and msgspec refuse it, a database cannot store it)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            texts: Iterable[str] = (item,)
        elif isinstance(item, dict):
            texts = item.keys()
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
            continue
        else:
            continue
        for text in texts:
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                return True
    return False


@contextmanager
def deep_recursion() -> Iterator[None]:
    """Room for recursive code (stdlib json, jsonschema, deep comparisons) on MAX_DEPTH levels."""
    old = sys.getrecursionlimit()
    if old >= _DEEP_RECURSION:
        yield
        return
    sys.setrecursionlimit(_DEEP_RECURSION)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def too_deep(exc: ValueError) -> bool:
    """Whether a decode error is orjson's nesting limit (MAX_DEPTH levels)."""
    return "depth limit exceeded" in str(exc)


# A JSON string (with a following ":" when it is a key), or a bracket.
_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"\s*:?|[\[\]{}]')
_SCAN_TOKENS = 1 << 20


def where_too_deep(raw: bytes) -> tuple[str | None, str | None]:
    """For a line nested deeper than MAX_DEPTH: its message's "stream" and the field (the key
    of the record, or of the message) holding the too-deep value; None where not found."""
    depth = 0
    keys: list[Any] = [None, None]  # the current key of the message object and of its child
    stream: str | None = None
    field: str | None = None
    for count, match in enumerate(_TOKEN.finditer(raw)):
        token = match.group()
        first = token[:1]
        if first == b"{" or first == b"[":
            depth += 1
            if depth <= 2:
                keys[depth - 1] = None
            elif depth > MAX_DEPTH and field is None:
                field = keys[1] if keys[0] == "record" and keys[1] is not None else keys[0]
        elif first == b"}" or first == b"]":
            depth -= 1
        elif token.endswith(b":"):
            if depth <= 2:
                keys[depth - 1] = _text(token[:token.rindex(b'"') + 1])
        elif depth == 1 and keys[0] == "stream":
            stream = _text(token)
        if (stream is not None and field is not None) or count >= _SCAN_TOKENS:
            break
    return stream, field


def _text(token: bytes) -> str | None:
    try:
        value = orjson.loads(token)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, str) else None
