"""A delivery's body inside its RECORD line: spliced in as it was received when it is JSON, else a string.

The hot path never parses a body into Python objects. A body goes into the line byte for byte
when it is JSON that every reader of the line accepts: our targets read lines with orjson (the
standard library only for lines holding long digit runs), so *valid* means "orjson parses the
line". That is checked cheaply, a batch at a time, by screens that together imply it:

- syntax: msgspec scans each body without building objects (``msgspec.Raw``); its depth is bounded by
  the recursion limit, held during the scan to leave the two levels the line adds (orjson stops at 1024);
- UTF-8: msgspec does not check it, so the batch's bodies are checked at once (a strict decode when
  the number screen's translation marks a byte past ASCII). Syntax-valid bodies begin and end with
  ASCII, so no sequence straddles two bodies;
- numbers: orjson refuses a number that overflows a double (``1e400``, or ``1`` and 400 zeros), which
  msgspec accepts; such a number has an exponent of three or more digits, or (an exponent of at most
  two digits adding at most 99) an integer part of more than 209 digits. Bodies holding ``e`` + three
  digits or a run of ``_LONG_RUN`` digits anywhere (hexadecimal hashes, long strings of digits do) are
  parsed by orjson, which decides;
- line breaks: JSON allows raw CR and LF only as whitespace between tokens (never inside a string),
  so they are replaced by spaces, which keeps the value and keeps the line one line.

A body that fails is not JSON for our readers: it goes in as a JSON string, its UTF-8 text, or
``base64:`` and its bytes in base64 when it is not UTF-8 text. The screens pass a body only when
orjson parses it, so what a body becomes depends on that body alone, never on the others of its
batch (a batch that fails is decided body by body, by orjson: :func:`as_json`).
"""

from __future__ import annotations

import base64
import sys
from bisect import bisect_right
from collections import deque
from collections.abc import Iterator, Sequence
from itertools import accumulate

import msgspec
import orjson

__all__ = ["all_json", "as_json", "spliced"]

_scan = msgspec.json.Decoder(msgspec.Raw).decode
_LINE_LEVELS = 2  # a body is nested in the RECORD message and its record
_ORJSON_DEPTH = 1024
_MAX_BODY_DEPTH = _ORJSON_DEPTH - _LINE_LEVELS
# digits -> "d"; e, E and + -> "e"; bytes past ASCII -> "u"; everything else a space: an exponent of 3+
# digits holds "eddd", and text to check as UTF-8 a "u". (No deleted bytes: bytes.translate with a
# delete set costs twice as much.)
_EXPONENT = bytes(0x64 if 0x30 <= i <= 0x39 else 0x65 if i in (0x45, 0x65, 0x2B) else 0x75 if i >= 0x80 else 0x20
                  for i in range(256))
_LONG_EXPONENT = b"eddd"
# an integer part this long may overflow a double even with a two-digit exponent (10**(200 + 99 + 10))
_LONG_RUN = 200
_LONG_DIGITS = b"d" * _LONG_RUN
_NOT_ASCII = b"u"
_BASE64 = "base64:"


def spliced(bodies: Sequence[bytes]) -> list[bytes] | None:
    """None when every body goes into its line as it is; else each body's JSON value for its line."""
    joined = b"".join(bodies)
    if not _all_valid(bodies, joined):
        return [as_json(body) for body in bodies]
    if b"\n" in joined or b"\r" in joined:
        return [_one_line(body) for body in bodies]
    return None


def as_json(body: bytes) -> bytes:
    """One body's JSON value for its line: the body itself (on one line) when it is JSON our readers
    accept, else a JSON string of its text (``base64:`` and its bytes when it is not UTF-8)."""
    if _orjson_accepts(body):
        return _one_line(body)
    try:
        text = body.decode()
    except UnicodeDecodeError:
        text = _BASE64 + base64.b64encode(body).decode("ascii")
    return orjson.dumps(text)


def _all_valid(bodies: Sequence[bytes], joined: bytes) -> bool:
    """The batch screens: True only when every body is JSON that orjson parses inside a line."""
    if not all_json(bodies):
        return False
    screened = joined.translate(_EXPONENT)
    if _NOT_ASCII in screened:
        try:
            joined.decode()
        except UnicodeDecodeError:
            return False
    doubtful = [mark for mark in (_LONG_EXPONENT, _LONG_DIGITS) if screened.find(mark) >= 0]
    if doubtful:
        # hexadecimal text looks like a long exponent too, and a long digit run may sit in a string:
        # orjson decides, for those bodies only
        ends = list(accumulate(map(len, bodies)))
        held = {index for mark in doubtful for index in _holding(mark, ends, screened)}
        return all(_orjson_accepts(bodies[index]) for index in held)
    return True


def _holding(mark: bytes, ends: Sequence[int], screened: bytes) -> Iterator[int]:
    """The index of each body holding ``mark``, found in the batch's screened text (a match across two
    bodies belongs to neither): one search per body at most, not a second translation of each."""
    at = screened.find(mark)
    while at >= 0:
        index = bisect_right(ends, at)
        if at + len(mark) <= ends[index]:
            yield index
            at = screened.find(mark, ends[index])
        else:
            at = screened.find(mark, at + 1)


def all_json(bodies: Sequence[bytes]) -> bool:
    """msgspec's syntax check of every body (or any JSON text: the drain's headers too). Its depth
    limit is the recursion limit, held here at most at the depth a body may have in a line (some
    libraries raise it), so nothing deeper gets through."""
    limit = sys.getrecursionlimit()
    try:
        if limit > _MAX_BODY_DEPTH:
            sys.setrecursionlimit(_MAX_BODY_DEPTH)
        try:
            deque(map(_scan, bodies), maxlen=0)  # consumed in C
        finally:
            sys.setrecursionlimit(limit)
    except (msgspec.DecodeError, RecursionError):  # RecursionError: too deep, or our stack already is
        return False
    return True


def _orjson_accepts(body: bytes) -> bool:
    """The exact check: orjson parses the body at the depth it has in a line."""
    try:
        orjson.loads(body)
        # it may be too deep for a line: JSON orjson parses opens no more levels than half its length
        if len(body) > 2 * _MAX_BODY_DEPTH and body.count(b"[") + body.count(b"{") > _MAX_BODY_DEPTH:
            orjson.loads(b"[" * _LINE_LEVELS + body + b"]" * _LINE_LEVELS)  # one value: this only nests it
    except orjson.JSONDecodeError:
        return False
    return True


def _one_line(body: bytes) -> bytes:
    """A JSON body with its raw CR and LF (whitespace between tokens, in valid JSON) made spaces."""
    return body.replace(b"\r", b" ").replace(b"\n", b" ")
