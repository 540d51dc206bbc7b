"""Where a JSON text may hold a number a float rounds: the lines the exact parser reads again.

A float keeps a number of up to 15 significant digits; a longer digit run, or a negative exponent
of three digits (below 1e-307 a float keeps fewer digits, below about 5e-324 it reads 0.0), may be
rounded silently by orjson and msgspec. These searches find such lines cheaply (a translate to
marks, then plain substring searches) so that only they are parsed again exactly
(protocol/_jsoncodec.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["long_digit_lines", "needs_exact_parse"]

# A run of 16 or more digits and dots: a number with at least 15 significant digits, or a
# long digit run inside a string (a harmless false positive). bytes.translate maps digits
# and dots to "d" and everything else to a space; the search is then a plain substring
# search, several times faster than a regular expression over a digit-heavy line.
_DIGITS = bytes(0x64 if (0x30 <= i <= 0x39 or i == 0x2E) else 0x65 if i in (0x45, 0x65) else 0x2D if i == 0x2D
                else 0x20 for i in range(256))
_RUN = b"d" * 16
# A negative exponent of three digits after a digit: below 1e-307 a float keeps fewer digits, below
# about 5e-324 it reads 0.0 (orjson and msgspec say nothing). Also a harmless false positive in a
# string ("2e-100"); positive exponents past a float's range are refused by orjson, not rounded.
_TINY = b"de-ddd"
# Each place the marks show one is confirmed in the text: the exponent's digits end where a JSON number
# can end (a separator, a blank, the end). Text such as a UUID ("1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed",
# "...3e-1234-...") matches the marks in about one of three values; without the check, every response
# body or line holding UUIDs was parsed again, slowly, by the exact parser.
_TINY_NUMBER = re.compile(rb"[0-9.][eE]-[0-9]{3,}(?=[\s,\]}]|\Z)")


def needs_exact_parse(raw: bytes) -> bool:
    """True when ``raw`` may hold a number that a 64-bit float would round (or read as 0.0)."""
    # find, not ``in``: ``bytes in bytes`` first tries the operand as an integer and raises and
    # clears a TypeError on every call, which costs more than the search itself
    marks = raw.translate(_DIGITS)
    if marks.find(_RUN) >= 0:
        return True
    pos = marks.find(_TINY)  # usually -1: the confirmation below is not even called
    return pos >= 0 and _confirmed(raw, marks, pos) >= 0


def _tiny_at(raw: bytes, marks: bytes, start: int) -> int:
    """The position in ``raw`` (from ``start``) of the first number with a negative exponent of three
    digits or more (see ``_TINY_NUMBER``), or -1."""
    return _confirmed(raw, marks, marks.find(_TINY, start))


def _confirmed(raw: bytes, marks: bytes, pos: int) -> int:
    """The first candidate from ``pos`` (one the marks show, or -1) that the text confirms, or -1."""
    while pos >= 0 and _TINY_NUMBER.match(raw, pos) is None:
        pos = marks.find(_TINY, pos + 1)
    return pos


def long_digit_lines(raw: bytes, *, tiny: bool = True) -> list[int]:
    """The (0-based) numbers of the lines of ``raw`` for which :func:`needs_exact_parse` is true,
    in one pass over ``raw``; empty when it is false for the whole text. Without ``tiny``, only
    the lines with a long digit run: the search for tiny exponents costs twice the other (about
    47 ms per 66 MB), and a caller that has the decoded values can tell first whether any number
    is small enough for it to matter (targets/sql/rawrows.py)."""
    marks = raw.translate(_DIGITS)  # a newline is not a digit: a run never spans two lines
    runs = _lines_with(raw, lambda start: marks.find(_RUN, start))
    small = _lines_with(raw, lambda start: _tiny_at(raw, marks, start)) if tiny else []
    return sorted({*runs, *small}) if small else runs


def _lines_with(raw: bytes, find: Callable[[int], int]) -> list[int]:
    """The numbers of the lines of ``raw`` where ``find(start)`` (the next position from ``start``,
    or -1) finds something."""
    found: list[int] = []
    pos = find(0)
    line = 0
    counted = 0
    while pos >= 0:
        line += raw.count(b"\n", counted, pos)
        found.append(line)
        counted = raw.find(b"\n", pos)
        if counted < 0:
            break
        pos = find(counted)
    return found
