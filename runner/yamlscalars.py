"""Plain YAML scalars that do not mean what they show (``sluice validate``, tenants files).

The runner reads YAML as PyYAML does, by YAML 1.1's rules, where an unquoted ``0123`` is the octal
number 83, ``0x1F`` is 31, ``1:30`` is 90 (base 60) and ``yes``/``no``/``on``/``off`` are booleans.
A connector would get a value its author never wrote, silently. Such a scalar is a problem of the
file, naming its line and both ways out (quote it, or write the value meant).

``env:`` values are text: a number or a boolean written there must read back as the text written
(``1.10`` would be passed as ``1.1``, ``1e3`` as ``1000.0``), else it is a problem as well.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

__all__ = ["env_text", "surprising_scalars"]

_PLAIN_INT = re.compile(r"[-+]?(?:0|[1-9][0-9_]*)")
_TAG = "tag:yaml.org,2002:"
_MERGE = f"{_TAG}merge"  # the key ``<<`` (YAML 1.1's merge key), which the loaders resolve


def surprising_scalars(root: Any) -> list[tuple[int, str]]:
    """``(line, "LOCATION: message")`` for every surprising plain scalar under the composed node
    ``root`` (or a function that composes it)."""
    if callable(root):
        root = root()
    if root is None:
        return []
    from runner.project_validate import _path_text
    from runner.yamlload import yaml_module

    constructor = yaml_module().constructor.SafeConstructor()
    found: list[tuple[int, str]] = []
    said: set[tuple[int, str]] = set()  # a scalar used again (an alias) is one problem, said where first met
    for path, node in _scalars(root, []):
        message = _surprise(node, constructor.construct_object(node), in_env=len(path) >= 2 and path[-2] == "env")
        if message and (id(node), message) not in said:
            said.add((id(node), message))
            found.append((int(node.start_mark.line) + 1, f"{_path_text(path)}: {message}"))
    return found


def _scalars(node: Any, path: list[Any]) -> Iterator[tuple[list[Any], Any]]:
    """The plain (unquoted, untagged-by-hand) scalars under ``node``, with their paths; keys included.
    A node used again (``*alias``, ``<<: *alias``) is met again, once more at most as an ``env:`` mapping
    or once more as another (YAML allows an anchor inside itself); a merge key ``<<`` is YAML's, not the
    file's, and the keys merged in are the mapping's own."""
    stack: list[tuple[list[Any], Any]] = [(path, node)]
    seen: set[tuple[int, bool]] = set()
    while stack:
        at, item = stack.pop()
        tag = item.tag
        if not isinstance(item.value, str):
            once = (id(item), at[-1:] == ["env"])
            if once in seen:
                continue
            seen.add(once)
        if tag.endswith(":map"):
            for key, value in reversed(item.value):
                if key.tag == _MERGE:  # the mappings merged in: their keys are this mapping's
                    merged = value.value if value.tag.endswith(":seq") else [value]
                    stack.extend((at, child) for child in reversed(merged))
                    continue
                where = [*at, getattr(key, "value", "?")]
                stack.append((where, value))
                stack.append((where, key))
        elif tag.endswith(":seq"):
            stack.extend((([*at, i]), child) for i, child in reversed(list(enumerate(item.value))))
        elif not item.style and isinstance(item.value, str):  # plain: None (PyYAML) or '' (libyaml)
            yield at, item


def _surprise(node: Any, value: Any, in_env: bool) -> str | None:
    text: str = node.value
    kind = node.tag[len(_TAG):] if node.tag.startswith(_TAG) else ""
    quoted = f"quote it ('{text}') to keep the text"
    if kind == "bool" and text.lower() not in ("true", "false"):
        return f"{text} is read by YAML as the boolean {str(value).lower()}; {quoted}, or write {str(value).lower()}"
    if (kind == "int" and _PLAIN_INT.fullmatch(text) is None) or (kind == "float" and ":" in text):
        return f"{text} is read by YAML (1.1) as the number {value}; {quoted}, or write {value}"
    if in_env and kind in ("int", "float", "bool") and env_text(value) != text:
        return f"env values are text: {text} would be passed as '{env_text(value)}'; {quoted}"
    return None


def env_text(value: Any) -> str:
    """An ``env:`` value (a string, number or boolean) as the connector gets it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
