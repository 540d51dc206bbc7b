"""Schema flattening: nested objects become ``parent__child`` columns, as singer-sdk flattens them.

The rules are singer-sdk's (``flattening_max_depth`` levels, counted from the record):
- in the SCHEMA, an object property with ``properties`` is replaced by its children while the
  depth allows; past it (or an array, or an object without ``properties``) the column is a JSON
  string: ``{"type": "string"}``, or ``["string", "null"]`` when the property was nullable; a
  property without ``type`` is read as the first branch of its ``anyOf``/``oneOf`` that has a type
  other than null, made nullable (the SDK keeps only a string, array or object first branch, as it
  is: docs/stream-maps.md), and a property without either becomes a nullable string; ``required``
  keeps the properties that stay one column (a property opened into children leaves it);
- in a RECORD, an object value is opened while the depth allows and its flattened name is not a
  column of the flattened schema; a dict or list value that stays is written as compact JSON text
  (ASCII-escaped, as the SDK's encoder writes it), every other value as it is; two values of a
  record landing in one column are an error (the SDK keeps the last);
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

from protocol.maps._errors import FlatteningCollisionError

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
    required = out.get("required")
    if isinstance(required, list):
        out["required"] = _required(required, out.get("properties", {}), set(names))
    out["properties"] = dict(items)
    return out


def _required(required: list[Any], props: dict[str, Any], columns: set[str]) -> list[Any]:
    """``required`` of the flattened schema: a property that stays one column keeps its entry (under
    its column's name), one opened into children loses it (its children may be absent: a null object)."""
    kept = []
    for name in required:
        if name.__class__ is not str or name not in props:
            kept.append(name)
        elif (column := flat_name([name])) in columns:
            kept.append(column)
    return kept


def _schema_items(node: dict[str, Any], parents: list[str], level: int, max_depth: int
                  ) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, prop in node.get("properties", {}).items():
        key = flat_name([*parents, name])
        if "type" not in prop:
            prop = _first_branch(prop)
        kinds = prop["type"]
        if "object" in kinds and "properties" in prop and level < max_depth:
            yield from _schema_items(prop, [*parents, name], level + 1, max_depth)
        elif "array" in kinds or ("object" in kinds and max_depth > 0):
            yield key, {"type": ["string", "null"] if "null" in kinds else "string"}
        else:
            yield key, prop


def _first_branch(prop: dict[str, Any]) -> dict[str, Any]:
    """A property without ``type``, as its first ``anyOf`` / ``oneOf`` branch with a type other
    than null, made nullable; without one, a nullable string (the column of any JSON value)."""
    for word in ("anyOf", "oneOf"):
        branches = prop.get(word)
        for branch in branches if isinstance(branches, list) else ():
            kinds = branch.get("type") if isinstance(branch, dict) else None
            if kinds and kinds != "null" and kinds != ["null"]:
                nullable = (kinds if "null" in kinds else ["null", *kinds]) if isinstance(kinds, list) \
                    else ["null", kinds]
                return {**branch, "type": nullable}
    return {"type": ["null", "string"]}


class Flattener:
    """Flattens the records of one output stream, against its flattened schema."""

    __slots__ = ("_columns", "_max", "_stream")

    def __init__(self, flat_schema: dict[str, Any], max_depth: int, stream: str = "") -> None:
        self._columns = frozenset(flat_schema.get("properties", {}))
        self._max = max_depth
        self._stream = stream

    def __call__(self, record: dict[str, Any], line: int | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self._into(out, record, [], 0) != len(out):  # a value written over another: say which
            raise self._collision(record, line)
        return out

    def _into(self, out: dict[str, Any], node: dict[str, Any], parents: list[str], level: int) -> int:
        """Write ``node``'s values into ``out``; the number of values written (one per key of ``out``
        unless two landed in one column)."""
        written = len(node)
        for name, value in node.items():
            key = flat_name([*parents, name]) if parents or len(name) >= MAX_KEY_LENGTH else name
            if value.__class__ is dict:
                if level < self._max and key not in self._columns:
                    written += self._into(out, value, [*parents, name], level + 1) - 1
                else:
                    out[key] = to_json_text(value)
            elif value.__class__ is list:
                out[key] = to_json_text(value)
            else:
                out[key] = value
        return written

    def _collision(self, record: dict[str, Any], line: int | None) -> FlatteningCollisionError:
        sources: dict[str, list[str]] = {}
        self._sources(sources, record, [], 0)
        column, paths = next((key, paths) for key, paths in sources.items() if len(paths) > 1)
        return FlatteningCollisionError(self._stream, column, paths, line)

    def _sources(self, sources: dict[str, list[str]], node: dict[str, Any], parents: list[str], level: int) -> None:
        """The path of every value :meth:`_into` writes, by the column it writes it to."""
        for name, value in node.items():
            key = flat_name([*parents, name]) if parents or len(name) >= MAX_KEY_LENGTH else name
            if value.__class__ is dict and level < self._max and key not in self._columns:
                self._sources(sources, value, [*parents, name], level + 1)
            else:
                sources.setdefault(key, []).append(".".join([*parents, name]))


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
