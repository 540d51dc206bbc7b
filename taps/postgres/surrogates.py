"""Lone UTF-16 surrogate escapes in json text: replaced by U+FFFD, counted, reported.

PostgreSQL's json type keeps its text as written, and accepts ``"\\ud800"`` (a high surrogate
without its low half, or a low one alone; jsonb refuses them). No Unicode text can hold such a
code unit, so no JSON parser of a target reads the line (``no low surrogate in string``) and
nothing downstream could store it. Each lone escape becomes ``\\ufffd`` (the replacement
character, as a UTF-8 decoder does with bytes it cannot read); a surrogate pair
(``\\ud83d\\ude00``) and an escaped backslash followed by text (``\\\\ud800``) stay as they are. At
the end of a run one WARNING per stream and column gives the count (stderr).

Only json text holds such escapes as written (json columns, json[] elements); a block of rows
(or a value, in logical decoding) without ``\\ud`` or ``\\uD``, the usual case, costs one byte
search.
"""

from __future__ import annotations

import logging
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from protocol import loads, plural

__all__ = ["LoneSurrogates", "repaired"]

log = logging.getLogger("sluice.tap.postgres")

# the escapes that decide, read in order: an escaped backslash (what follows is text), a surrogate pair,
# a lone surrogate (a high one not followed by a low one, or a low one)
_ESCAPES = re.compile(rb"\\\\|\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}"
                      rb"|\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_LONE = len(b"\\ud800")
_REPLACEMENT = b"\\ufffd"
# the tokens that tell a row's nesting: strings (escapes kept) and brackets
_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[{}\[\]]')
_COLON = re.compile(rb"[ \t\r\n]*:")


def _suspect(data: bytes) -> bool:
    return b"\\ud" in data or b"\\uD" in data


def repaired(data: bytes) -> tuple[bytes, int]:
    """JSON text ``data`` with each lone surrogate escape replaced by ``\\ufffd``; how many were."""
    if not _suspect(data):
        return data, 0
    count = 0

    def replace(match: re.Match[bytes]) -> bytes:
        nonlocal count
        if len(match.group()) != _LONE:
            return match.group()
        count += 1
        return _REPLACEMENT

    fixed = _ESCAPES.sub(replace, data)
    return (fixed, count) if count else (data, 0)


def _columns(row: bytes) -> tuple[list[int], list[str]]:
    """Where each column of a server-rendered row starts, and its name: the strings directly inside
    the row's object that a colon follows."""
    starts: list[int] = []
    names: list[str] = []
    depth = 0
    for token in _TOKENS.finditer(row):
        first = row[token.start()]
        if first in b"{[":
            depth += 1
        elif first in b"}]":
            depth -= 1
        elif depth == 1 and _COLON.match(row, token.end()):
            starts.append(token.start())
            names.append(str(loads(token.group())))
    return starts, names


@dataclass
class LoneSurrogates:
    """The lone surrogates one stream's json values held, per column (each emitted as U+FFFD)."""

    counts: Counter[str] = field(default_factory=Counter)

    def rows(self, rows: bytes) -> bytes:
        """Server-rendered rows (one JSON object a line) with their lone surrogates replaced, counted."""
        fixed, count = repaired(rows)
        if count:
            for line in rows.splitlines():
                if _suspect(line):
                    self._count_columns(line)
        return fixed

    def _count_columns(self, row: bytes) -> None:
        lone = [match.start() for match in _ESCAPES.finditer(row) if len(match.group()) == _LONE]
        if lone:
            starts, names = _columns(row)
            for position in lone:
                self.counts[names[bisect_right(starts, position) - 1]] += 1

    def text_of(self, column: str) -> Callable[[str], str]:
        """What rewrites the text of one json value of ``column`` (logical decoding), counting."""
        counts = self.counts

        def repair(text: str) -> str:
            if "\\ud" not in text and "\\uD" not in text:
                return text
            fixed, count = repaired(text.encode())
            counts[column] += count
            return fixed.decode() if count else text

        return repair

    def report(self, stream: str) -> None:
        for column, count in sorted(self.counts.items()):
            log.warning("stream '%s': column '%s': %s emitted as U+FFFD (json text held a \\uD800-\\uDFFF escape "
                        "without its pair, which no Unicode text holds)", stream, column,
                        plural(count, "lone surrogate"))
        self.counts.clear()
