"""The SCHEMA of a mapped stream, rewritten as singer-sdk rewrites it.

A dropped property leaves ``properties`` (and ``required``); a mapped one gets a type inferred from
the text of its expression (``float(`` number, ``int(`` integer, ``str(`` / ``json.dumps(`` / a
quoted literal string, ``bool(`` boolean, ``datetime.date...`` / ``....date()`` a date string,
``datetime.datetime...`` a date-time string, ``record`` the stream's own schema), else the type of
the property of that name, else of the property the expression names, else string; every mapped
property is nullable. With ``__else__: null`` the schema starts empty (the SDK's
``{"type": "object", "properties": {}, "$schema": ...}``). Key properties must stay in it.
"""

from __future__ import annotations

import copy
from typing import Any

from protocol.maps._spec import MapSpec

__all__ = ["EMPTY_SCHEMA_DIALECT", "mapped_schema"]

EMPTY_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _inferred(text: str, default: dict[str, Any], whole: dict[str, Any]) -> dict[str, Any]:
    if text == "record":
        return whole
    for prefix, kind in (("float(", "number"), ("int(", "integer"), ("str(", "string"),
                         ("bool(", "boolean"), ("json.dumps(", "string")):
        if text.startswith(prefix):
            return {"type": [kind]}
    if text.startswith(("datetime.date.", "datetime.date(")) or text.endswith(".date()"):
        return {"type": ["string"], "format": "date"}
    if text.startswith(("datetime.datetime.", "datetime.datetime(")):
        return {"type": ["string"], "format": "date-time"}
    if text[:1] == "'" and text[-1:] == "'":
        return {"type": ["string"]}
    return default


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``schema`` that also admits null, the way the SDK's typing helpers add it."""
    out = copy.deepcopy(schema)
    if "anyOf" in out:
        branches = out["anyOf"]
        if isinstance(branches, list):
            if "null" not in branches:
                branches.append("null")
        elif branches != "null":
            out["anyOf"] = [branches, "null"]
    elif "oneOf" in out:
        out["oneOf"].append({"type": "null"})
    elif "type" in out:
        kinds = out["type"] if isinstance(out["type"], list) else [out["type"]]
        if "null" not in kinds:
            out["type"] = [*kinds, "null"]
    return out


def mapped_schema(spec: MapSpec, schema: dict[str, Any], keys: list[str], *, stream: str
                  ) -> tuple[dict[str, Any], list[str], list[str]]:
    """(the mapped schema, its key properties, the problems) for ``spec`` on a stream's schema."""
    raw = copy.deepcopy(schema)
    raw_props = raw.setdefault("properties", {})
    key_properties = (list(spec.key_properties or []) if spec.sets_keys else list(keys))
    if spec.keep_others:
        out = dict(raw)
        props = raw_props  # shared, as in the SDK: a later expression sees the earlier rewrites
    else:
        out = {"type": "object", "properties": {}, "$schema": EMPTY_SCHEMA_DIALECT}
        props = out["properties"]
    problems: list[str] = []
    for name, text in spec.properties:
        if text is None:
            if name in key_properties:
                problems.append(f"stream '{stream}': {name!r} is a key property and cannot be dropped; "
                                f"set __key_properties__ to new keys (or null) first")
                continue
            props.pop(name, None)
            if "required" in out:
                out["required"] = [item for item in out["required"] if item != name]
            continue
        existing = props.get(name) or raw_props.get(text) or {}
        default = existing if existing else {"type": ["string"]}
        whole = {**raw, "properties": raw_props}
        props[name] = nullable(_inferred(text, default, whole))
    missing = [key for key in key_properties if key not in props]
    if missing:
        problems.append(f"stream '{stream}': key properties {missing} are not in the mapped schema; "
                        f"map them, or set __key_properties__")
    return out, key_properties, problems
