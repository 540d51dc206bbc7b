"""The ``.env`` file beside sluice.yml: ``NAME=value`` lines (docs/secrets.md has the syntax).

- blank lines and lines starting with ``#`` are skipped; ``export NAME=value`` is read as ``NAME=value``;
- an unquoted value is trimmed, and a ``#`` after a blank starts a comment (``A=#b`` is ``#b``);
- ``'single quotes'`` keep every character as it is, and may span lines;
- ``"double quotes"`` may span lines and know the escapes ``\\n``, ``\\t``, ``\\r``, ``\\"``, ``\\\\``
  and ``\\$``; any other backslash stays as it is;
- nothing is expanded: ``$HOME`` in a value is those five characters;
- a later line wins over an earlier one with the same name.

A line that is none of these is an error naming the file and line (never the line's text, which may
hold a secret).
"""

from __future__ import annotations

import re

from protocol import ConfigError

__all__ = ["parse_dotenv"]

_NAME = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


def _double(text: str, start: int) -> tuple[str, int] | None:
    """The value of the double-quoted string whose opening quote is at ``start - 1``, and the index
    after its closing quote; None when it never closes."""
    out: list[str] = []
    i = start
    while i < len(text):
        char = text[i]
        if char == '"':
            return "".join(out), i + 1
        if char == "\\" and i + 1 < len(text) and text[i + 1] in _ESCAPES:
            out.append(_ESCAPES[text[i + 1]])
            i += 2
            continue
        out.append(char)
        i += 1
    return None


def _rest_is_comment(text: str, start: int) -> int:
    """The index of the next line's start, after the closing quote at ``start - 1``; -1 when the line
    holds anything but blanks or a comment after it."""
    end = text.find("\n", start)
    end = len(text) if end < 0 else end
    tail = text[start:end].strip()
    return end + 1 if not tail or tail.startswith("#") else -1


def parse_dotenv(text: str, where: str) -> dict[str, str]:
    """The variables of a ``.env`` file's ``text`` (``where`` names it in errors)."""
    values: dict[str, str] = {}
    problems: list[str] = []
    pos = 0
    while pos < len(text):
        line_no = text.count("\n", 0, pos) + 1
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        line = text[pos:end]
        if not line.strip() or line.lstrip().startswith("#"):
            pos = end + 1
            continue
        m = _NAME.match(line)
        if m is None:
            problems.append(f"{where}:{line_no}: not a NAME=value line")
            pos = end + 1
            continue
        name, raw = m.group(1), line[m.end():]
        start = pos + m.end() + len(raw) - len(raw.lstrip(" \t"))
        quote = text[start:start + 1]
        if quote in ("'", '"'):
            if quote == "'":
                close = text.find("'", start + 1)
                found = None if close < 0 else (text[start + 1:close], close + 1)
            else:
                found = _double(text, start + 1)
            if found is None:
                problems.append(f"{where}:{line_no}: {name}: the quote is never closed")
                break
            value, after = found
            nxt = _rest_is_comment(text, after)
            if nxt < 0:
                problems.append(f"{where}:{line_no}: {name}: text after the closing quote")
                nxt = text.find("\n", after) + 1 or len(text)
            values[name] = value
            pos = nxt
            continue
        comment = re.search(r"\s#", raw)
        values[name] = (raw[:comment.start()] if comment else raw).strip()
        pos = end + 1
    if problems:
        raise ConfigError(f"{where}: invalid .env file", problems)
    return values
