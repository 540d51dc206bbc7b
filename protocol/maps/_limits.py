"""What a stream-map expression may compute, and how far: the functions, the operators, the bounds.

Every operator that can grow a value is checked before it runs, so a hostile expression is
refused instead of allocated: a power whose result would pass :data:`MAX_INT_BITS`, a string or
sequence longer than :data:`MAX_LENGTH`, a shift past :data:`MAX_SHIFT`, a padding width or a
``%`` / format-spec width past the limit, comprehensions (nested ones together) looping more than
:data:`MAX_ITERATIONS` times. A value within those bounds may still hold more text than them (a
list of 99,999 strings of 99,999 characters): what turns a value into one text (``str``,
``join``, ``json.dumps``, an f-string, ``%``) measures it first (:func:`check_size`), and a
method's result (``hex`` doubles its bytes) is measured after. The limits follow simpleeval's
(MAX_STRING_LENGTH, MAX_POWER), which singer-sdk's engine uses, and are raised as
:class:`LimitExceeded`.
"""

from __future__ import annotations

import datetime
import hashlib
import importlib
import json
import math
import operator
import random
import re
from collections.abc import Callable
from decimal import Context, Decimal
from typing import Any

from protocol._jsoncodec import refuse_constant
from protocol.maps._jsontext import dumps as exact_dumps

__all__ = [
    "ALLOWED_METHOD_TYPES",
    "BINARY",
    "FUNCTIONS",
    "MAX_ITERATIONS",
    "MAX_LENGTH",
    "LimitExceeded",
    "check_call",
    "check_length",
    "check_size",
    "check_spec",
    "finite",
]

MAX_LENGTH = 100_000  # characters of a string, items of a sequence (simpleeval's MAX_STRING_LENGTH)
# bits of an integer result of **, * and shifts: 4,214 digits, within the 4,300 Python writes as text
# (a bigger integer could be computed but not written; simpleeval bounds the exponent)
MAX_INT_BITS = 14_000
MAX_SHIFT = 10_000
MAX_ITERATIONS = 100_000  # loop steps of one comprehension, nested loops counted together
_SIZED = (str, bytes, list, tuple, dict, set, frozenset)
# a % directive asking for a width or precision of 6 digits or more, or one taken from the arguments
_BIG_DIRECTIVE = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\*|\d{6,}|\d*\.(?:\*|\d{6,}))")
# a format spec (f"{x:>10}") with a width or precision of 6 digits or more
_BIG_SPEC = re.compile(r"\d{6,}")

#: methods that are never called: they reach attributes by name or evaluate code, or change a value in
#: place (a record the other outputs still read; a list that doubles in every step of a comprehension)
FORBIDDEN_METHODS = frozenset({
    "format", "format_map", "mro", "exec",
    "append", "extend", "insert", "pop", "remove", "clear", "update", "setdefault", "popitem", "add", "discard",
    "difference_update", "intersection_update", "symmetric_difference_update", "sort", "reverse",
})


class LimitExceeded(ArithmeticError):
    """An expression asked for more than the bounds allow (a huge power, an endless string)."""


def check_length(value: Any) -> Any:
    if isinstance(value, _SIZED) and len(value) > MAX_LENGTH:
        raise LimitExceeded(f"result longer than {MAX_LENGTH} items")
    return value


def check_size(value: Any) -> Any:
    """``value`` when its text would be at most about :data:`MAX_LENGTH` characters (its strings,
    plus one per item and per integer digit group); measured with a bounded walk, before the text
    is built."""
    if value.__class__ is str or not isinstance(value, (*_SIZED, int)):
        return value
    budget = MAX_LENGTH
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, (str, bytes)):
            budget -= len(item)
        elif isinstance(item, int):
            budget -= 1 + item.bit_length() // 3  # a little more than its decimal digits
        elif isinstance(item, dict):
            budget -= len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            budget -= len(item)
            stack.extend(item)
        else:
            budget -= 1
        if budget < 0:
            raise LimitExceeded(f"a text past {MAX_LENGTH} characters")
    return value


def _str(value: Any = "") -> str:
    return str(check_size(value))


def _bits(value: Any) -> int:
    return value.bit_length() if isinstance(value, int) else 0


def _repeat(seq: Any, times: Any) -> Any:
    if isinstance(times, int) and times * len(seq) > MAX_LENGTH:
        raise LimitExceeded(f"repeating a sequence past {MAX_LENGTH} items")
    return seq * times


def _mul(a: Any, b: Any) -> Any:
    if isinstance(a, _SIZED):
        return _repeat(a, b)
    if isinstance(b, _SIZED):
        return _repeat(b, a)
    if _bits(a) + _bits(b) > MAX_INT_BITS:
        raise LimitExceeded(f"integer product past {MAX_INT_BITS} bits")
    return _arith(operator.mul, "multiply", a, b)


def _add(a: Any, b: Any) -> Any:
    if isinstance(a, _SIZED) and isinstance(b, _SIZED) and len(a) + len(b) > MAX_LENGTH:
        raise LimitExceeded(f"concatenation past {MAX_LENGTH} items")
    return _arith(operator.add, "add", a, b)


def _pow(a: Any, b: Any) -> Any:
    if isinstance(b, int) and not isinstance(b, bool):
        if abs(b) > MAX_INT_BITS or (isinstance(a, int) and abs(a) > 1 and _bits(a) * b > MAX_INT_BITS):
            raise LimitExceeded(f"power too large ({MAX_INT_BITS} bits at most)")
    elif isinstance(b, (float, Decimal)) and isinstance(a, int) and abs(b) > MAX_INT_BITS:  # type: ignore[operator]
        raise LimitExceeded(f"power too large ({MAX_INT_BITS} bits at most)")
    return _arith(operator.pow, "power", a, b)


def _shift(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def shift(a: Any, b: Any) -> Any:
        if isinstance(b, int) and abs(b) > MAX_SHIFT:
            raise LimitExceeded(f"shift by more than {MAX_SHIFT}")
        if isinstance(b, int) and op is operator.lshift and _bits(a) + b > MAX_INT_BITS:
            raise LimitExceeded(f"shift past {MAX_INT_BITS} bits")
        return op(a, b)

    return shift


def _mod(a: Any, b: Any) -> Any:
    if isinstance(a, str):
        if _BIG_DIRECTIVE.search(a):
            raise LimitExceeded("a % width or precision of 6 digits or more, or taken from the arguments")
        return check_length(a % check_size(b))
    return _arith(operator.mod, "remainder", a, b)


# Decimal arithmetic (numbers parsed exactly) runs at this precision, not the default 28 digits;
# a Decimal meets a float as the float's shortest repr.
_EXACT = Context(prec=100)


def _arith(op: Callable[[Any, Any], Any], name: str, a: Any, b: Any) -> Any:
    if a.__class__ is Decimal or b.__class__ is Decimal:
        if a.__class__ is float:
            a = Decimal(repr(a))
        if b.__class__ is float:
            b = Decimal(repr(b))
        if isinstance(a, (Decimal, int)) and isinstance(b, (Decimal, int)):
            return getattr(_EXACT, name)(a, b)
    return finite(op(a, b), name)


def finite(result: Any, name: str) -> Any:
    """A float result past the largest float is inf (Python raises only for some operations):
    refused, as float() refuses it, since the output writer would turn it into null."""
    if result.__class__ is float and not math.isfinite(result):
        raise OverflowError(f"{name} gives {result}, which JSON cannot hold")
    return result


def _divide(a: Any, b: Any) -> Any:
    """Division of decimals at the default 28 digits, as in singer-sdk (it cannot be exact anyway)."""
    if a.__class__ is Decimal or b.__class__ is Decimal:
        if a.__class__ is float:
            a = Decimal(repr(a))
        if b.__class__ is float:
            b = Decimal(repr(b))
    return finite(a / b, "divide")


def _plain(op: Callable[[Any, Any], Any], name: str) -> Callable[[Any, Any], Any]:
    def arith(a: Any, b: Any) -> Any:
        return _arith(op, name, a, b)

    return arith


BINARY: dict[type, Callable[[Any, Any], Any]] = {}


def _fill_binary() -> None:
    import ast  # only for the operator node types

    BINARY.update({
        ast.Add: _add, ast.Sub: _plain(operator.sub, "subtract"), ast.Mult: _mul,
        ast.Div: _divide, ast.FloorDiv: _plain(operator.floordiv, "divide_int"),
        ast.Mod: _mod, ast.Pow: _pow, ast.LShift: _shift(operator.lshift), ast.RShift: _shift(operator.rshift),
        ast.BitAnd: operator.and_, ast.BitOr: operator.or_, ast.BitXor: operator.xor,
    })


_fill_binary()


def check_spec(spec: str) -> str:
    """A format spec (f"{x:>10}") with no huge width or precision."""
    if _BIG_SPEC.search(spec):
        raise LimitExceeded("a format width or precision of 6 digits or more")
    return spec


#: str methods whose result is no longer than a few times their string: called without the checks
STR_BOUNDED_METHODS = frozenset({
    "capitalize", "casefold", "count", "encode", "endswith", "find", "index", "isalnum", "isalpha", "isascii",
    "isdecimal", "isdigit", "islower", "isnumeric", "isspace", "istitle", "isupper", "lower", "lstrip",
    "partition", "removeprefix", "removesuffix", "rfind", "rindex", "rpartition", "rsplit", "rstrip", "split",
    "splitlines", "startswith", "strip", "swapcase", "title", "upper",
})
_WIDTH_METHODS = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs", "to_bytes"})


def check_call(name: str, target: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse, before the call, a method whose arguments would build a value past the bounds."""
    if name in _WIDTH_METHODS:
        for value in (*args, *kwargs.values()):
            if isinstance(value, int) and value > MAX_LENGTH:
                raise LimitExceeded(f"{name}() with a size past {MAX_LENGTH}")
    elif name == "join" and isinstance(target, (str, bytes)) and args and isinstance(args[0], _SIZED):
        if len(target) * len(args[0]) > MAX_LENGTH:
            raise LimitExceeded(f"join() past {MAX_LENGTH} characters of separators")
        check_size(args[0])
    elif name == "expandtabs" and isinstance(target, (str, bytes)):
        size = next((v for v in (*args, *kwargs.values()) if isinstance(v, int)), 8)
        tab: Any = "\t" if isinstance(target, str) else b"\t"
        if len(target) + target.count(tab) * max(size, 0) > MAX_LENGTH:
            raise LimitExceeded(f"expandtabs() past {MAX_LENGTH} characters")
    elif name == "replace" and isinstance(target, (str, bytes)) and len(args) >= 2:
        old, new = args[0], args[1]
        if isinstance(old, (str, bytes)) and isinstance(new, (str, bytes)):
            count = target.count(old) if old else len(target) + 1  # type: ignore[arg-type]
            if len(target) + count * len(new) > MAX_LENGTH:
                raise LimitExceeded(f"replace() past {MAX_LENGTH} characters")


def _builtin_hash(modules: tuple[str, ...], name: str, fallback: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    """CPython's own implementation of a hash (``_sha2`` from 3.12, ``_sha256`` before, ``_md5``), the
    one hashlib falls back to: the same digests, and for the short values a mask hashes about a third
    cheaper than OpenSSL's EVP object, which allocates and copies a context for every digest."""
    for module in modules:
        try:
            found = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
        if found(b"abc").hexdigest() == fallback(b"abc").hexdigest():
            return found  # type: ignore[no-any-return]
    return fallback


_MD5 = _builtin_hash(("_md5",), "md5", hashlib.md5)
_SHA256 = _builtin_hash(("_sha2", "_sha256"), "sha256", hashlib.sha256)


def md5(text: str) -> str:
    """The hex MD5 digest of a string's UTF-8 bytes (as singer-sdk's ``md5``)."""
    return _MD5(text.encode("utf-8")).hexdigest()  # type: ignore[no-any-return]  # a mask, not a signature


#: the constructor behind each digest function (compiled calls inline them)
DIGESTS: dict[str, Any] = {"md5": _MD5, "sha256": _SHA256}


def sha256(text: str) -> str:
    """The hex SHA-256 digest of a string's UTF-8 bytes (as singer-sdk's ``sha256``)."""
    return _SHA256(text.encode()).hexdigest()


def _dumps(obj: Any, **options: Any) -> str:
    indent = options.get("indent")
    if (isinstance(indent, int) and indent > 100) or (isinstance(indent, str) and len(indent) > 100):
        raise LimitExceeded("json.dumps() indent past 100")
    return check_length(exact_dumps(check_size(obj), **options))


def _loads(text: str | bytes) -> Any:
    return json.loads(text, parse_constant=refuse_constant, parse_float=_float)


def _float(value: Any = 0.0) -> float:
    """float(), refusing what JSON cannot hold: the output writer would turn inf and NaN into null."""
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"float({value}) is {number}, which JSON cannot hold")
    return number


class Namespace:
    """A module as an expression sees it: only the listed attributes, nothing else."""

    __slots__ = ("_attrs", "_name")

    def __init__(self, name: str, attrs: dict[str, Any]) -> None:
        self._name = name
        self._attrs = attrs

    def attribute(self, attr: str) -> Any:
        try:
            return self._attrs[attr]
        except KeyError:
            raise AttributeError(f"{self._name}.{attr} is not available in a stream map") from None


DATETIME = Namespace("datetime", {name: getattr(datetime, name) for name in (
    "date", "datetime", "time", "timedelta", "timezone", "tzinfo", "MINYEAR", "MAXYEAR")})
JSON = Namespace("json", {"dumps": _dumps, "loads": _loads})

#: the names an expression may call (singer-sdk's set, with len)
FUNCTIONS: dict[str, Any] = {
    "md5": md5,
    "sha256": sha256,
    "datetime": DATETIME,
    "json": JSON,
    "bool": bool,
    "int": int,
    "float": _float,
    "str": _str,
    "len": len,
    "rand": random.random,
    "randint": lambda top: int(random.random() * top),  # 0 <= n < top, as simpleeval's
}
#: the plain functions among them (what a call may name)
CALLABLE = frozenset(name for name, value in FUNCTIONS.items() if not isinstance(value, Namespace))

#: values whose methods an expression may call (record values, and what the functions return)
ALLOWED_METHOD_TYPES = (str, bytes, int, float, bool, Decimal, dict, list, tuple, set, frozenset,
                        datetime.date, datetime.time, datetime.timedelta, datetime.tzinfo)
#: classes reached through the datetime namespace, whose class methods may be called
ALLOWED_CLASSES = frozenset({datetime.date, datetime.datetime, datetime.time, datetime.timedelta,
                             datetime.timezone, datetime.tzinfo})
