"""Which input streams a map must read with their decimals as written (``2.50``, not ``2.5``).

singer-sdk reads every decimal of a record as a ``Decimal`` with the digits of its text, so an
expression that turns a number into text (``str(price)``, ``json.dumps(record)``, an f-string, a
hash of either) sees ``2.50`` where the number was written ``2.50``. Our readers decode a decimal as
a float where the float keeps its value (``2.5``): the same number, other text. A stream whose map
may turn one of its decimals into text is therefore read exactly (a Decimal per decimal, from its
text); every other stream keeps the float decode, which costs less.

"May turn into text" is decided from the expressions' names, once per SCHEMA, erring towards
exact: an expression reading the whole record (``record``, ``_``), a property that can hold a
decimal (``"number"`` anywhere in its schema, or no type, or not declared by a schema that allows
other properties), or ``self`` of such a property; and flattening, which writes the objects and
arrays below its depth as JSON text.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from protocol.maps._limits import FUNCTIONS
from protocol.maps._spec import MapSpec

__all__ = ["reads_decimals", "usual_numbers"]

_WHOLE_RECORD = frozenset({"record", "_"})
#: names an expression reads that are not the record's (unless its schema declares them: see _names)
_NOT_RECORD = frozenset({*FUNCTIONS, "config", "self", "__stream_name__", "__original_stream_name__"})


def reads_decimals(spec: MapSpec | None, schema: Mapping[str, Any], flatten_depth: int) -> bool:
    """Whether the output built from ``spec`` (None: the stream unmapped) may write a decimal of
    ``schema``'s records as text."""
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        properties = {}
    if flatten_depth and any(_nested_decimal(sub) for sub in properties.values()):
        return True
    if spec is None:
        return False
    decimal_props = {name for name, sub in properties.items() if _may_hold_decimal(sub)}
    texts: list[tuple[str | None, str]] = [(name, text) for name, text in spec.properties if text is not None]
    if spec.filter is not None:
        texts.append((None, spec.filter))
    reads = [(prop, set(_names(text))) for prop, text in texts]
    if schema.get("additionalProperties", True) is not False:  # a record may hold undeclared properties:
        # any of them may hold a decimal
        named = {name for _, names in reads for name in names} | {name for name, _ in spec.properties}
        decimal_props.update(name for name in named if name not in properties and name not in _NOT_RECORD)
    for prop, names in reads:
        if names & _WHOLE_RECORD or names & decimal_props:
            return True
        if "self" in names and prop in decimal_props:
            return True
    return False


def _names(text: str) -> Iterable[str]:
    """The names an expression reads, but a comprehension's own (the map's parser has accepted it)."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:  # a map's problems are reported where it is compiled
        return ()
    bound = {node.id for comp in ast.walk(tree) if isinstance(comp, ast.comprehension)
             for node in ast.walk(comp.target) if isinstance(node, ast.Name)}
    return (node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and node.id not in bound)


def _may_hold_decimal(schema: Any) -> bool:
    """Whether a property of this schema can hold a non-integer number, at any depth."""
    if not isinstance(schema, Mapping):
        return True
    kinds = schema.get("type")
    if kinds is None:  # no type: anything, unless anyOf/oneOf branches say otherwise
        branches = [b for key in ("anyOf", "oneOf") for b in schema.get(key) or ()]
        return not branches or any(map(_may_hold_decimal, branches))
    kinds = [kinds] if isinstance(kinds, str) else list(kinds)
    if "number" in kinds:
        return True
    if "object" in kinds:
        props = schema.get("properties")
        if not isinstance(props, Mapping) or schema.get("additionalProperties", True) is not False:
            return True  # an open object may hold anything
        return any(map(_may_hold_decimal, props.values()))
    if "array" in kinds:
        return _may_hold_decimal(schema.get("items"))
    return False


def _nested_decimal(schema: Any) -> bool:
    """Whether an object or array property can hold a decimal inside it (flattening may write it as text)."""
    if not isinstance(schema, Mapping):
        return True
    kinds = schema.get("type")
    if kinds is None:
        return _may_hold_decimal(schema)
    kinds = [kinds] if isinstance(kinds, str) else list(kinds)
    return ("object" in kinds or "array" in kinds) and _may_hold_decimal(schema)


def usual_numbers(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` (mapped, read with decimals as written) with each decimal the usual decode reads
    as a float a float again: a stream read exactly for its expressions writes its numbers as it
    would without (``2.50`` passes through as ``2.5``, as unmapped), while the text an expression or
    flattening made of a decimal keeps its digits. A decimal of 16 digits or more, or of an exponent
    a float cannot hold, stays a Decimal, as the usual decode keeps it."""
    for key, value in record.items():
        cls = value.__class__
        if cls is Decimal or cls is dict or cls is list:
            record[key] = _usual(value)
    return record


def _usual(value: Any) -> Any:
    cls = value.__class__
    if cls is Decimal:
        short = value.is_finite() and len(value.as_tuple().digits) <= _FLOAT_DIGITS
        return float(value) if short and -_EXPONENT < value.adjusted() < _EXPONENT else value
    if cls is dict:
        return {k: _usual(v) for k, v in value.items()}
    if cls is list:
        return [_usual(v) for v in value]
    return value


_FLOAT_DIGITS = 15  # every decimal of up to 15 significant digits reads back from its float
_EXPONENT = 300  # well inside a float's normal range (1e-307 .. 1e308)
