"""A small JSONPath subset for records and next-page tokens: ``$``, ``.key``, ``['key']``, ``[n]``, ``[*]``, ``.*``.

``[*]`` is every element of an array, and nothing of an object: ``$[*]`` (tap-rest's default
records path) on a body ``{"errors": [...]}`` turned the error object's values into records.
``.*`` is every value of an object or an array.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

__all__ = ["compile_path", "find", "find_first"]

_TOKEN = re.compile(r"\.\*|\[\*\]|\.([A-Za-z0-9_\-$@]+)|\[(-?\d+)\]|\[['\"]([^'\"]+)['\"]\]")

Step = tuple[str, Any]


@lru_cache(maxsize=128)
def compile_path(path: str) -> tuple[Step, ...]:
    text = path.strip()
    if text.startswith("$"):
        text = text[1:]
    elif text and not text.startswith((".", "[")):
        text = "." + text
    steps: list[Step] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ValueError(f"unsupported JSONPath {path!r} at {text[pos:]!r}")
        if m.group(1) is not None:
            steps.append(("key", m.group(1)))
        elif m.group(2) is not None:
            steps.append(("index", int(m.group(2))))
        elif m.group(3) is not None:
            steps.append(("key", m.group(3)))
        else:
            steps.append(("all", m.group(0) == ".*"))
        pos = m.end()
    return tuple(steps)


def find(data: Any, path: str) -> list[Any]:
    """Every value the path matches, in document order."""
    current = [data]
    for kind, arg in compile_path(path):
        nxt: list[Any] = []
        for value in current:
            if kind == "key":
                if isinstance(value, dict) and arg in value:
                    nxt.append(value[arg])
            elif kind == "index":
                if isinstance(value, list) and -len(value) <= arg < len(value):
                    nxt.append(value[arg])
            elif isinstance(value, list):
                nxt.extend(value)
            elif arg and isinstance(value, dict):  # .* only: [*] walks arrays
                nxt.extend(value.values())
        current = nxt
    return current


def find_first(data: Any, path: str) -> Any:
    found = find(data, path)
    return found[0] if found else None
