"""Infer a JSON Schema from sample records: every field nullable, types merged across records."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

__all__ = ["infer_schema"]

_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")  # RFC 3339
_ORDER = ["object", "array", "string", "number", "integer", "boolean"]


def _kind(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, (float,)) or type(value).__name__ == "Decimal":
        return "number"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return "string"


def _infer(values: list[Any]) -> dict[str, Any]:
    kinds = {k for k in map(_kind, values) if k is not None}
    if "number" in kinds:
        kinds.discard("integer")
    if not kinds:
        return {"type": ["string", "null"]}  # only nulls seen: the most forgiving choice
    prop: dict[str, Any] = {"type": [k for k in _ORDER if k in kinds] + ["null"]}
    if kinds == {"string"} and all(_DATETIME.match(v) for v in values if isinstance(v, str)):
        prop["format"] = "date-time"
    if "object" in kinds:
        prop["properties"] = _properties([v for v in values if isinstance(v, dict)])
    if "array" in kinds:
        prop["items"] = _infer([item for v in values if isinstance(v, list) for item in v])
    return prop


def _properties(records: list[dict[str, Any]]) -> dict[str, Any]:
    names: dict[str, None] = {}
    for record in records:
        names.update(dict.fromkeys(record))
    return {name: _infer([r.get(name) for r in records]) for name in names}


def infer_schema(records: Iterable[dict[str, Any]], keys: Iterable[str] = ()) -> dict[str, Any]:
    """A schema for ``records``; key properties are not nullable."""
    props = _properties([r for r in records if isinstance(r, dict)])
    for key in keys:
        if key in props:
            props[key]["type"] = [t for t in props[key]["type"] if t != "null"]
    return {"type": "object", "properties": props}
