"""A generated fast-accept check for the common shape of Singer schemas.

Most stream schemas are an object of flat properties with simple types and formats.
For those, :func:`compile_fast_check` generates a small Python function that answers
"certainly valid" (True) or "not sure" (False) much faster than a general validator.
Only a False answer runs the full validator, which then either accepts the record or
names the failing field. The check is never looser than the schema: every construct it
does not understand makes the whole check unavailable (None) or defers that property
to a compiled sub-validator.

Both validators compile a schema in the form :func:`compiled_form` gives: Draft 4's boolean
exclusive bounds in the Draft 6 form (:func:`draft6_bounds`, which the reader also applies to every
SCHEMA as it arrives), and bounds and multipleOf read exactly (Decimals: the SCHEMA line held a long
run of digits) as plain numbers. fastjsonschema writes a bound into its code as text (a Decimal
becomes a float literal) and divides exactly only by a float multipleOf (``Decimal(repr(...))``;
by a Decimal it divides the float literal: 19.99 / 0.01 is 1998.9999999999998).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import fastjsonschema

from protocol._jsoncodec import deep_recursion, whole_number

__all__ = ["compile_fast_check", "compiled_form", "draft6_bounds", "is_date", "is_date_time"]

_ANNOTATIONS = {"description", "title", "default", "examples", "$comment", "readOnly", "writeOnly", "deprecated"}
_CLASSES = {
    "string": ("str",),
    "integer": ("int",),
    "boolean": ("bool",),
    "null": ("NoneType",),
    "number": ("int", "float", "Decimal"),
}
_fromiso = datetime.fromisoformat
_date_fromiso = date.fromisoformat


# The RFC 3339 shape after the seconds: a fraction, then "Z" or an offset (with or without ":";
# hours 00-23, minutes 00-59: fromisoformat would read +00:60 as an hour).
# Before them, fixed separators do the shape's work: fromisoformat reads every digit group there
# as ASCII digits and refuses anything else.
_TAIL = re.compile(r"(?:\.\d+)?(?:[+-](?:[01]\d|2[0-3]):?[0-5]\d|[zZ])?\Z").match


def is_date_time(value: str) -> bool:
    """An RFC 3339 date-time (the JSON Schema ``date-time`` format), checked against the calendar:
    ``YYYY-MM-DD``, ``T``/``t``/blank, ``HH:MM:SS``, an optional fraction, an optional ``Z`` or
    offset. The one date-time check of the three validators: the compiled validator's format
    (protocol/_schema.py), the fast-accept check here, and the fast lane's msgspec type, which
    tests/unit/test_batch.py proves accepts no value this refuses."""
    n = len(value)
    if n < 19 or value[4] != "-" or value[7] != "-" or value[13] != ":" or value[16] != ":":
        return False
    if value[10] != "T" and value[10] not in "t ":
        return False
    if (n != 20 or value[19] != "Z") and _TAIL(value, 19) is None:
        return False
    try:
        _fromiso(value)
    except ValueError:
        if "z" not in value:
            return False
        try:
            _fromiso(value.replace("z", "Z"))  # the lower-case zone fromisoformat does not read
        except ValueError:
            return False
    return True


def is_date(value: str) -> bool:
    """A calendar date in the extended form YYYY-MM-DD (the JSON Schema ``date`` format)."""
    if len(value) != 10 or value[4] != "-" or value[7] != "-":
        return False
    try:
        _date_fromiso(value)
    except ValueError:
        return False
    return True


# Keywords whose values are data, not schemas; keywords whose values map names to schemas.
_DATA_KEYWORDS = frozenset({"enum", "const", "default", "examples"})
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "definitions", "$defs", "dependencies"})
_EXCLUSIVE = (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum"))
_NUMERIC_KEYWORDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")


def _subschemas(schema: Any) -> Iterator[dict[str, Any]]:
    """Every schema object in ``schema``, itself included; no recursion (a schema may nest deep)."""
    stack: list[tuple[Any, bool]] = [(schema, False)]
    while stack:
        item, is_map = stack.pop()
        if isinstance(item, list):
            stack.extend((sub, False) for sub in item)
        elif isinstance(item, dict):
            if is_map:
                stack.extend((sub, False) for sub in item.values())
                continue
            stack.extend((value, key in _SCHEMA_MAPS) for key, value in item.items() if key not in _DATA_KEYWORDS)
            yield item


def _rewritten(schema: Any, needs: Callable[[dict[str, Any]], bool],
               rewrite: Callable[[dict[str, Any]], None]) -> Any:
    """``schema`` itself when no subschema ``needs`` a rewrite, else a copy with each one rewritten."""
    if not any(map(needs, _subschemas(schema))):
        return schema
    with deep_recursion():
        schema = copy.deepcopy(schema)
    for node in [node for node in _subschemas(schema) if needs(node)]:
        rewrite(node)
    return schema


def _draft4_bounds(node: dict[str, Any]) -> bool:
    return node.get("exclusiveMinimum").__class__ is bool or node.get("exclusiveMaximum").__class__ is bool


def _to_draft6(node: dict[str, Any]) -> None:
    for exclusive, bound in _EXCLUSIVE:
        flag = node.get(exclusive)
        if flag.__class__ is bool:
            del node[exclusive]
            if flag and bound in node:
                node[exclusive] = node.pop(bound)


def draft6_bounds(schema: Any) -> Any:
    """``schema`` with Draft 4's boolean exclusive bounds in the Draft 6 form (a copy where one is
    changed): ``"exclusiveMaximum": true, "maximum": M`` is ``"exclusiveMaximum": M``, ``false`` is
    dropped. pipelinewise-tap-postgres and -tap-mysql write them for every numeric column; Draft 7,
    jsonschema and every reader of bounds here take numbers only (True would be the bound 1)."""
    return _rewritten(schema, _draft4_bounds, _to_draft6)


def _exact_numbers(node: dict[str, Any]) -> bool:
    return any(node.get(key).__class__ is Decimal for key in _NUMERIC_KEYWORDS)


def _plain_number(number: Decimal) -> int | float | Decimal:
    """An exactly read bound or multipleOf as the compiled validators compare it exactly: an int where
    integral (a 19-digit bound stays exact), else the float the plain parse gives (what fastjsonschema
    writes into its code for a Decimal, and its multipleOf divides exactly only for a float). A number
    past any float stays (its text in the code reads as infinity; its int could be too long to write)."""
    if number.adjusted() > 1000:
        return number
    whole = whole_number(number)
    return float(number) if whole is None else whole


def compiled_form(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` as the validators compile it (a copy where it differs): Draft 6 bounds, and no
    Decimal bound or multipleOf."""
    def rewrite(node: dict[str, Any]) -> None:
        _to_draft6(node)
        for key in _NUMERIC_KEYWORDS:
            value = node.get(key)
            if value.__class__ is Decimal:
                node[key] = _plain_number(value)

    form: dict[str, Any] = _rewritten(schema, lambda node: _draft4_bounds(node) or _exact_numbers(node), rewrite)
    if "draft-04" in str(form.get("$schema", "")):  # fastjsonschema would compile Draft 4: no numeric exclusive*
        form = {key: value for key, value in form.items() if key != "$schema"}
    return form


def _types(prop: dict[str, Any]) -> list[str] | None:
    raw = prop.get("type")
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and all(isinstance(t, str) for t in raw):
        return list(raw)
    return None


def _has_ref(node: Any) -> bool:
    if isinstance(node, dict):
        return "$ref" in node or any(_has_ref(v) for v in node.values())
    if isinstance(node, list):
        return any(_has_ref(v) for v in node)
    return False


def _any_of_accept(prop: dict[str, Any], var: str) -> str | None:
    """A Python test that ``var`` satisfies one plain branch (scalar types, an optional date-time or
    date format) of ``prop``'s anyOf: enough for the whole anyOf. None: no such branch."""
    branches = prop.get("anyOf")
    if set(prop) - _ANNOTATIONS != {"anyOf"} or not isinstance(branches, list):
        return None
    tests = []
    for branch in branches:
        types = _types(branch) if isinstance(branch, dict) else None
        if types is None or set(branch) - _ANNOTATIONS - {"type", "format"} or not set(types) <= set(_CLASSES):
            continue
        fmt = branch.get("format")
        if fmt not in (None, "date-time", "date"):
            continue
        classes = " or ".join(f"{var}.__class__ is {c}" for c in sorted({c for t in types for c in _CLASSES[t]}))
        check = {"date-time": "_is_dt", "date": "_is_date"}.get(fmt or "")
        tests.append(f"(({classes}) and {check}({var}))" if check else f"({classes})")
    return " or ".join(tests) or None


def _deferred(prop: dict[str, Any], var: str, sub: str) -> list[str]:
    """The lines running the sub-validator ``sub`` on ``var``, unless a plain anyOf branch takes it."""
    accept = _any_of_accept(prop, var)  # a value one plain branch of an anyOf takes is valid
    if accept is None:
        return [f"        try: {sub}({var})", "        except _VE: return False"]
    return [f"        if not ({accept}):", f"            try: {sub}({var})", "            except _VE: return False"]


def _property_lines(i: int, name: str, prop: Any, env: dict[str, Any],
                    formats: dict[str, Any] | None) -> list[str] | None:
    """The check's lines for property ``name`` (the i-th); sub-validators go into ``env``. None:
    the property makes the whole check unavailable."""
    if not isinstance(prop, dict):
        return None
    var = f"v{i}"
    types = _types(prop)
    extra = set(prop) - _ANNOTATIONS - {"type", "format"}
    fmt = prop.get("format")
    simple = types is not None and not extra and set(types) <= {"string", "integer", "number", "boolean", "null"}
    if simple and fmt not in (None, "date-time", "date"):
        simple = False
    if simple and fmt is None:
        # One lookup: a missing key yields _M, whose class (object) is allowed.
        assert types is not None
        allowed = sorted({c for t in types for c in _CLASSES[t]} | {"object"})
        test = " and ".join(f"c is not {c}" for c in allowed)
        return [f"    c = g({name!r}, _M).__class__", f"    if {test}: return False"]
    body = [f"    {var} = g({name!r}, _M)", f"    if {var} is not _M:"]
    if not simple:
        # Defer anything richer to a sub-validator for this property alone.
        try:
            sub = fastjsonschema.compile(prop, formats=formats or {}, use_default=False)
        except fastjsonschema.JsonSchemaDefinitionException:
            return None
        env[f"_sub{i}"] = sub
        env["_VE"] = fastjsonschema.JsonSchemaValueException
        return body + _deferred(prop, var, f"_sub{i}")
    assert types is not None
    test = " and ".join(f"c is not {c}" for c in sorted({c for t in types for c in _CLASSES[t]}))
    body.append(f"        c = {var}.__class__")
    body.append(f"        if {test}: return False")
    if fmt is not None:
        fn = "_is_dt" if fmt == "date-time" else "_is_date"
        body.append(f"        if c is str and not {fn}({var}): return False")
    return body


def compile_fast_check(
    schema: dict[str, Any], *, also_required: tuple[str, ...] = (), formats: dict[str, Any] | None = None
) -> Callable[[Any], bool] | None:
    """A fast-accept function for ``schema``, or None when the shape is not supported.

    ``also_required`` names fields that must be present (key properties); ``formats`` are
    the format checks the full validator uses, given to property sub-validators.
    """
    schema = compiled_form(schema)
    if _has_ref(schema) or _types(schema) != ["object"]:
        return None
    if set(schema) - _ANNOTATIONS - {"type", "properties", "required", "additionalProperties", "$schema"}:
        return None
    if schema.get("additionalProperties", True) is not True:
        return None
    props = schema.get("properties")
    required = schema.get("required", [])
    if not isinstance(props, dict) or not isinstance(required, list):
        return None
    env: dict[str, Any] = {
        "_is_dt": is_date_time, "_is_date": is_date, "_M": object(),
        "str": str, "int": int, "bool": bool, "NoneType": type(None), "float": float, "Decimal": Decimal,
        "object": object, "dict": dict,
    }
    body = ["def check(r):", "    if r.__class__ is not dict: return False", "    g = r.get"]
    for name in [*required, *[k for k in also_required if k not in required]]:
        if not isinstance(name, str):
            return None
        body.append(f"    if {name!r} not in r: return False")
    for i, (name, prop) in enumerate(props.items()):
        lines = _property_lines(i, name, prop, env, formats)
        if lines is None:
            return None
        body += lines
    body.append("    return True")
    # Every name the body uses becomes a default argument: local lookups are the fastest.
    body[0] = "def check(r, " + ", ".join(f"{k}={k}" for k in env) + "):"
    namespace: dict[str, Any] = dict(env)
    exec("\n".join(body), namespace)
    return namespace["check"]  # type: ignore[no-any-return]
