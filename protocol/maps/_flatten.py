"""Schema flattening: nested objects become ``parent__child`` columns, as singer-sdk flattens them.

The rules are singer-sdk's (``flattening_max_depth`` levels, counted from the record):
- in the SCHEMA, an object property with ``properties`` is replaced by its children while the
  depth allows; past it (or an array, or an object without ``properties``) the column is a JSON
  string: ``{"type": "string"}``, or ``["string", "null"]`` when the property was nullable; a
  property without ``type`` takes the first branch of its ``anyOf``/``oneOf`` (nullable), and a
  property without either becomes a nullable string;
- in a RECORD, an object value is opened while the depth allows and its flattened name is not a
  column of the flattened schema; a dict or list value that stays is written as compact JSON text
  (ASCII-escaped, as the SDK's encoder writes it), every other value as it is;
- a flattened name of 255 characters or more is shortened, part by part from the left, to the
  capitals of its camel-cased form (or its first three letters).
Two properties flattening to one name are a config error.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

__all__ = ["SEPARATOR", "Flattener", "flatten_schema", "to_json_text"]

SEPARATOR = "__"
MAX_KEY_LENGTH = 255
_LOWER = re.compile(r"[a-z]")
_CAMEL = re.compile(r"(?:^|_)(.)")


def _camel(word: str) -> str:
    return _CAMEL.sub(lambda m: m.group(1).upper(), word)


def flat_name(parts: list[str]) -> str:
    """The column name of a path, shortened as the SDK shortens one of 255 characters or more."""
    keys = list(parts)
    i = 0
    while len(SEPARATOR.join(keys)) >= MAX_KEY_LENGTH and i < len(keys):
        reduced = _LOWER.sub("", _camel(keys[i]))
        keys[i] = (reduced if len(reduced) > 1 else keys[i][:3]).lower()
        i += 1
    return SEPARATOR.join(keys)


def flatten_schema(schema: dict[str, Any], max_depth: int) -> dict[str, Any]:
    """A flattened copy of a stream's schema. Raises ValueError on a duplicate column name."""
    out = copy.deepcopy(schema)
    items = list(_schema_items(out, [], 0, max_depth))
    names = [name for name, _ in items]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"flattening gives the column name {', '.join(twice)} twice")
    out["properties"] = dict(items)
    return out


def _schema_items(node: dict[str, Any], parents: list[str], level: int, max_depth: int
                  ) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, prop in node.get("properties", {}).items():
        key = flat_name([*parents, name])
        if "type" in prop:
            kinds = prop["type"]
            if "object" in kinds and "properties" in prop and level < max_depth:
                yield from _schema_items(prop, [*parents, name], level + 1, max_depth)
            elif "array" in kinds or ("object" in kinds and max_depth > 0):
                yield key, {"type": ["string", "null"] if "null" in kinds else "string"}
            else:
                yield key, prop
            continue
        branches = next(iter(prop.values()), None)
        if isinstance(branches, list) and branches and branches[0]:
            first = branches[0]
            if first.get("type") in ("string", "array", "object"):
                first["type"] = ["null", first["type"]]
                yield key, first
        else:
            yield key, {"type": ["null", "string"]}


class Flattener:
    """Flattens the records of one output stream, against its flattened schema."""

    __slots__ = ("_columns", "_max")

    def __init__(self, flat_schema: dict[str, Any], max_depth: int) -> None:
        self._columns = frozenset(flat_schema.get("properties", {}))
        self._max = max_depth

    def __call__(self, record: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        self._into(out, record, [], 0)
        return out

    def _into(self, out: dict[str, Any], node: dict[str, Any], parents: list[str], level: int) -> None:
        for name, value in node.items():
            key = flat_name([*parents, name]) if parents or len(name) >= MAX_KEY_LENGTH else name
            if value.__class__ is dict:
                if level < self._max and key not in self._columns:
                    self._into(out, value, [*parents, name], level + 1)
                else:
                    out[key] = to_json_text(value)
            elif value.__class__ is list:
                out[key] = to_json_text(value)
            else:
                out[key] = value


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True)


def to_json_text(value: Any) -> str:
    """A nested value as the SDK writes it into a flattened column: compact JSON, ASCII-escaped,
    decimals and big integers exact (a float as the decimal the SDK would have parsed)."""
    if not _needs_exact(value):
        return _ENCODER.encode(value)
    return "".join(_exact_parts(value))


def _needs_exact(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        cls = item.__class__
        if cls is dict:
            stack.extend(item.values())
        elif cls is list:
            stack.extend(item)
        elif cls is float or cls is Decimal:
            return True
    return False


def _exact_parts(value: Any) -> Iterator[str]:
    cls = value.__class__
    if cls is dict:
        yield "{"
        for i, (k, v) in enumerate(value.items()):
            yield ("," if i else "") + _ENCODER.encode(str(k)) + ":"
            yield from _exact_parts(v)
        yield "}"
    elif cls is list:
        yield "["
        for i, v in enumerate(value):
            if i:
                yield ","
            yield from _exact_parts(v)
        yield "]"
    elif cls is float:
        yield str(Decimal(repr(value))) if value == value and value not in (float("inf"), float("-inf")) else "null"
    elif cls is Decimal:
        yield str(value) if value.is_finite() else "null"
    else:
        yield _ENCODER.encode(value)
