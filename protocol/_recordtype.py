"""The record lane's schema compiler: a stream schema as a msgspec type, when one maps exactly.

:func:`compile_record_type` turns a stream's JSON Schema into a msgspec Struct type that
accepts a subset of what the reference validator (:class:`protocol._schema.RecordValidator`)
accepts, or None when some construct has no exact msgspec equivalent. The fast record lane
(:mod:`protocol._lane`) decodes and validates whole runs of records with it in one call.
"""

from __future__ import annotations

import datetime
import sys
from collections.abc import Callable, Mapping
from operator import attrgetter
from typing import Annotated, Any

import msgspec

from protocol._lane import Bounds

__all__ = ["TinyNumbers", "compile_record_type", "number_fields", "struct_attrs"]

_IGNORED = frozenset(
    {"description", "title", "default", "examples", "$comment", "$schema", "inclusion",
     "selected", "selected-by-default", "additionalProperties"}
)
# additionalProperties is safe to ignore: every compiled object forbids unknown fields,
# which is at least as strict as anything additionalProperties allows.
_KNOWN = _IGNORED | {"type", "properties", "required", "items", "format"}
# "number" is int | float, not float alone (which accepts the same JSON): an integer stays an
# int, so a sink writing the decoded values writes 5 as 5, not 5.0.
_SCALARS: dict[str, tuple[Any, ...]] = {"integer": (int,), "number": (int, float), "boolean": (bool,)}
_FORMATS: dict[str, Any] = {"date-time": datetime.datetime, "date": datetime.date}


_INT64 = (-(2**63), 2**63 - 1)


class _NoFastPath(Exception):
    pass


def compile_record_type(schema: Mapping[str, Any], key_properties: list[str] | tuple[str, ...] = (),
                        bounds: Mapping[str, Bounds] | None = None) -> Any:
    """A msgspec type accepting a subset of what ``RecordValidator`` accepts; None if none maps exactly.
    ``bounds``: the range of a top-level property's numbers (see :class:`Bounds`)."""
    try:
        return _object_type(schema, "Record", tuple(key_properties), top=True, bounds=bounds or {})
    except (_NoFastPath, RecursionError):  # a schema nested too deep for a msgspec type
        return None


def _bounded(part: Any, bounds: Bounds) -> Any:
    """``int`` or ``float`` within ``bounds``, as msgspec checks them (int bounds must fit 64 bits:
    a larger integer is refused here and checked exactly by the sink)."""
    if part is int:
        return Annotated[int, msgspec.Meta(ge=max(bounds.low + 1, _INT64[0]), le=min(bounds.high - 1, _INT64[1]))]
    if part is float and max(-bounds.low, bounds.high) <= sys.float_info.max:
        return Annotated[float, msgspec.Meta(gt=float(bounds.low), lt=float(bounds.high))]
    return part


def _check_keys(schema: Mapping[str, Any]) -> None:
    for key in schema:
        if key not in _KNOWN and not key.startswith("x-"):
            raise _NoFastPath(key)


def _types(schema: Mapping[str, Any]) -> list[str]:
    raw = schema.get("type")
    types = [raw] if isinstance(raw, str) else raw
    if not isinstance(types, list) or not types or not all(isinstance(t, str) for t in types):
        raise _NoFastPath("type")
    if len(set(types)) != len(types):
        raise _NoFastPath("type")
    return types


def _object_type(schema: Mapping[str, Any], name: str, keys: tuple[str, ...], *, top: bool = False,
                 bounds: Mapping[str, Bounds] | None = None) -> Any:
    _check_keys(schema)
    if top and "type" not in schema:
        types = ["object"]
    else:
        types = _types(schema)
    if top and not set(types) <= {"object", "null"}:
        raise _NoFastPath("type")
    props = schema.get("properties")
    required = schema.get("required", [])
    if not isinstance(props, dict) or not isinstance(required, list):
        raise _NoFastPath("properties")
    if not all(isinstance(r, str) for r in required):
        raise _NoFastPath("required")
    needed = set(required) | set(keys)
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    rename: dict[str, str] = {}
    for i, prop in enumerate([*props, *sorted(needed - set(props))]):
        attr = f"f{i}"
        rename[attr] = prop
        sub = props.get(prop, {})
        if not isinstance(sub, dict):
            raise _NoFastPath(prop)
        kind = _value_type(sub, f"{name}_{i}", bounds.get(prop) if bounds else None)
        # an absent optional field decodes as None, like a null (the decoded values are rows)
        fields.append((attr, kind) if prop in needed else (attr, kind, None))
    try:
        return msgspec.defstruct(
            name, fields, kw_only=True, forbid_unknown_fields=True, rename=rename, gc=False
        )
    except (TypeError, ValueError) as exc:  # msgspec refuses some names ('"', '\\', control characters)
        raise _NoFastPath("name") from exc


def _value_type(schema: Mapping[str, Any], name: str, bounds: Bounds | None = None) -> Any:
    _check_keys(schema)
    if "type" not in schema:
        if set(schema) & {"properties", "required", "items", "format"}:
            raise _NoFastPath("untyped constraint")
        return Any  # annotations only: any JSON value
    types = _types(schema)
    if "format" in schema and (types != ["string"] and sorted(types) != ["null", "string"]):
        raise _NoFastPath("format")  # a format on a non-string or union: keep the reference path
    if "properties" in schema and "object" not in types:
        raise _NoFastPath("properties")
    if "required" in schema and "properties" not in schema:
        raise _NoFastPath("required")
    if "items" in schema and "array" not in types:
        raise _NoFastPath("items")
    parts: list[Any] = []
    for kind in types:
        if kind == "null":
            parts.append(None)
        elif kind in _SCALARS:
            parts += [t for t in _SCALARS[kind] if t not in parts]
        elif kind == "string":
            fmt = schema.get("format")
            if fmt is not None and fmt not in _FORMATS:
                raise _NoFastPath("format")
            parts.append(_FORMATS[fmt] if fmt is not None else str)
        elif kind == "object":
            if "properties" in schema:
                parts.append(_object_type(schema, name, ()))
            else:
                parts.append(dict[str, Any])
        elif kind == "array":
            items = schema.get("items", {})
            if not isinstance(items, dict):
                raise _NoFastPath("items")
            parts.append(list[_value_type(items, name + "_i")])  # type: ignore[misc]
        else:
            raise _NoFastPath(kind)
    if bounds is not None:
        parts = [_bounded(part, bounds) for part in parts]
    result = parts[0]
    for part in parts[1:]:
        result = result | part
    try:
        msgspec.json.Decoder(result)  # msgspec refuses some unions (two object types, ...)
    except TypeError as exc:
        raise _NoFastPath("union") from exc
    return result


def struct_attrs(cls: type) -> dict[str, str]:
    """A decoded record type's attribute per record field (msgspec renames fields that are not identifiers)."""
    return dict(zip(cls.__struct_encode_fields__, cls.__struct_fields__, strict=True))  # type: ignore[attr-defined]


def number_fields(schema: Mapping[str, Any]) -> list[str] | None:
    """The top-level properties of ``schema`` that may decode to a float, or None when a float may
    also sit deeper (an object, an array or an untyped property)."""
    from protocol._schema import field_types

    found = []
    for name, prop in (schema.get("properties") or {}).items():
        types = field_types(prop) if isinstance(prop, Mapping) else set()
        if not types or types & {"object", "array"}:
            return None
        if "number" in types:
            found.append(name)
    return found


class TinyNumbers:
    """Whether decoded records hold a number a tiny exponent may have become.

    orjson and msgspec read ``2.5e-400`` as 0.0, and a number below a float's normal range with
    fewer digits than written, without a word. The text search for such exponents
    (:func:`protocol.long_digit_lines` with ``tiny``) costs twice the search for long digit runs;
    a caller holding the decoded values asks this first: only a 0.0 or a subnormal float among
    ``fields`` (None: every field) makes the search worth doing."""

    __slots__ = ("_fields", "_getters")

    def __init__(self, fields: list[str] | None) -> None:
        self._fields = fields
        self._getters: dict[type, list[Callable[[Any], Any]]] = {}

    def __call__(self, values: list[Any]) -> bool:
        if not values:
            return False
        if self._fields is None:
            return True
        cls = values[0].__class__
        getters = self._getters.get(cls)
        if getters is None:
            attrs = struct_attrs(cls)
            getters = self._getters[cls] = [attrgetter(attrs[f]) for f in self._fields if f in attrs]
        for get in getters:
            column = list(map(get, values))
            try:
                if 0.0 in column or min(map(abs, filter(None, column)), default=1.0) < sys.float_info.min:
                    return True
            except TypeError:  # a field that is not a number (the fields were not told): search
                return True
        return False
