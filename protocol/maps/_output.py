"""One output stream of a mapped input stream: its schema, and the function mapping a record to it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from protocol._messages import SchemaMessage
from protocol.maps._errors import MapExpressionError
from protocol.maps._exactness import reads_decimals, usual_numbers
from protocol.maps._flatten import Flattener, flatten_schema
from protocol.maps._limits import LimitExceeded
from protocol.maps._schema import mapped_schema
from protocol.maps._spec import FILTER, MapSpec

__all__ = ["Output", "build_output"]

#: what an expression may raise on a record (bad input, not a bug of ours): reported, never a traceback
EXPRESSION_ERRORS = (ArithmeticError, LookupError, TypeError, ValueError, AttributeError, NameError,
                     LimitExceeded, RecursionError, UnicodeError)
Apply = Callable[[dict[str, Any], "int | None"], "dict[str, Any] | None"]


def _same(record: dict[str, Any], line: int | None) -> dict[str, Any]:
    return record


class Output:
    """An output stream: ``name``, ``schema``, ``key_properties``; ``apply(record, line)`` gives the
    output record, or None when filtered out. ``drop``: the stream is dropped (no output).
    ``exact``: the output may write a decimal of the input as text, so the input's records are read
    with their decimals as written (protocol/maps/_exactness.py)."""

    __slots__ = ("apply", "drop", "exact", "key_properties", "name", "schema")

    def __init__(self, name: str, schema: dict[str, Any], key_properties: list[str], apply: Apply,
                 *, drop: bool = False, exact: bool = False) -> None:
        self.name = name
        self.schema = schema
        self.key_properties = key_properties
        self.apply = apply
        self.drop = drop
        self.exact = exact

    @classmethod
    def dropped(cls, name: str) -> Output:
        return cls(name, {}, [], _same, drop=True)

    def schema_message(self, bookmarks: list[str]) -> SchemaMessage:
        props = self.schema.get("properties", {})
        return SchemaMessage(self.name, self.schema, self.key_properties, [b for b in bookmarks if b in props])


def build_output(msg: SchemaMessage, alias: str, spec: MapSpec | None, depth: int,
                 compile_one: Callable[[str, str | None], Any], problems: list[str], *, decoded: bool = True
                 ) -> Output:
    """The output ``alias`` of the stream of ``msg`` under ``spec`` (None: the stream as it is);
    ``decoded``: its records are decoded from JSON text (false in a tap, which maps its own values)."""
    exact = decoded and reads_decimals(spec, msg.schema, depth)
    if spec is None:
        schema, keys = msg.schema, list(msg.key_properties)
        if depth:
            schema = flatten_schema(schema, depth)
            return Output(alias, schema, keys, _usual(_flattening(Flattener(schema, depth, alias)), exact), exact=exact)
        return Output(alias, schema, keys, _same)
    schema, keys, found = mapped_schema(spec, msg.schema, msg.key_properties, stream=alias)
    problems.extend(found)
    flattener = None
    if depth:
        schema = flatten_schema(schema, depth)
        flattener = Flattener(schema, depth, alias)
    return Output(alias, schema, keys, _usual(_mapper(alias, spec, keys, compile_one, flattener), exact), exact=exact)


def _usual(apply: Apply, exact: bool) -> Apply:
    """``apply``, whose records (read exactly) then hold the usual numbers (see ``usual_numbers``)."""
    if not exact:
        return apply

    def usual(record: dict[str, Any], line: int | None) -> dict[str, Any] | None:
        out = apply(record, line)
        return None if out is None else usual_numbers(out)
    return usual


def _flattening(flattener: Flattener) -> Apply:
    def apply(record: dict[str, Any], line: int | None) -> dict[str, Any]:
        return flattener(record, line)
    return apply


def _mapper(stream: str, spec: MapSpec, keys: list[str], compile_one: Callable[[str, str | None], Any],
            flattener: Flattener | None) -> Apply:
    """Each property appears once in a map, so its drops and its expressions commute: the drops are
    applied first, then the expressions, each reading the incoming record (as in the SDK)."""
    test = compile_one(spec.filter, None) if spec.filter is not None else None
    drops = tuple(name for name, text in spec.properties if text is None)
    sets = tuple((name, compile_one(text, name)) for name, text in spec.properties if text is not None)
    texts = {FILTER: spec.filter or "", **{name: text for name, text in spec.properties if text is not None}}
    keep_others = spec.keep_others

    def apply(record: dict[str, Any], line: int | None) -> dict[str, Any] | None:
        name = FILTER
        try:
            if test is not None and not test(record):
                return None
            result = record.copy() if keep_others else {key: record[key] for key in keys if key in record}
            for name in drops:
                result.pop(name, None)
            for name, fn in sets:
                result[name] = fn(record)
        except EXPRESSION_ERRORS as exc:
            raise MapExpressionError(stream, name, texts[name], exc, line) from None
        if not result:
            return None
        return flattener(result, line) if flattener is not None else result
    return apply
