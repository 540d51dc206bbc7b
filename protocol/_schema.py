"""JSON Schema helpers and the compiled per-stream record validator.

``jsonschema`` checks schemas themselves (rarely, where speed does not matter); records
are checked by a validator compiled once per stream with fastjsonschema. Formats
``date-time``, ``date``, ``time``, ``uuid``, ``email`` and the other standard ones are
checked. Decimals are accepted wherever a number is.

Draft 4's boolean exclusive bounds (``"exclusiveMaximum": true`` beside ``"maximum"``, as
pipelinewise taps write them) are read in the Draft 6 form; the validators compile a schema's
exactly read bounds and multipleOf as plain numbers (both: protocol/_fastcheck.py).

fastjsonschema generates nested Python code, which Python refuses past some 45 levels of
nested properties; a schema nested deeper than :data:`FAST_SCHEMA_DEPTH` levels is checked
by jsonschema instead (slower, same formats, recursion room for ``MAX_DEPTH`` levels).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import time
from decimal import Decimal
from typing import Any

import fastjsonschema

from protocol._errors import ProtocolError, RecordValidationError
from protocol._fastcheck import compile_fast_check, compiled_form, draft6_bounds, is_date, is_date_time
from protocol._jsoncodec import deep_recursion, holds_decimal, whole_number

__all__ = [
    "FAST_SCHEMA_DEPTH",
    "RecordValidator",
    "check_schema",
    "draft6_bounds",
    "field_types",
    "is_nullable",
    "merge_types",
    "property_schemas",
]

_TIME = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?(?:[+-](?:[01]\d|2[0-3]):?[0-5]\d|[zZ])?\Z")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\Z")


def _is_time(value: str) -> bool:
    if not _TIME.match(value):
        return False
    try:
        time.fromisoformat(value)
    except ValueError:
        return False
    return True


_FORMATS: dict[str, Any] = {
    "date": is_date,
    "date-time": is_date_time,
    "time": _is_time,
    # fastjsonschema calls a format check; a compiled pattern is not callable (TypeError per record)
    "uuid": lambda value: _UUID.match(value) is not None,
    "singer.decimal": re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?\Z").fullmatch,
}


_SIMPLE_TYPES = frozenset({"array", "boolean", "integer", "null", "number", "object", "string"})
_TEXT_KEYWORDS = frozenset({"format", "description", "title", "$comment"})


def plainly_valid(node: Any, depth: int = 0) -> bool:
    """True only when ``node`` is certainly a valid Draft 7 schema made of the common keywords
    (type, properties, required, items, additionalProperties, format, annotations).

    A cheap check that spares most streams the jsonschema import (~45 ms of start-up);
    False means "ask jsonschema", which gives the error message.
    """
    if node is True or node is False:
        return True
    if not isinstance(node, dict) or depth > 64:
        return False
    for key, value in node.items():
        if key == "type":
            types = [value] if isinstance(value, str) else value
            ok = (isinstance(types, list) and bool(types) and len(set(map(str, types))) == len(types)
                  and all(isinstance(t, str) and t in _SIMPLE_TYPES for t in types))
        elif key == "properties":
            ok = isinstance(value, dict) and all(plainly_valid(sub, depth + 1) for sub in value.values())
        elif key in ("items", "additionalProperties"):
            ok = plainly_valid(value, depth + 1)
        elif key == "required":
            ok = (isinstance(value, list) and all(isinstance(name, str) for name in value)
                  and len(set(value)) == len(value))
        elif key in _TEXT_KEYWORDS:
            ok = isinstance(value, str)
        else:
            ok = key == "default"
        if not ok:
            return False
    return True


def check_schema(schema: Any, *, stream: str, line: int | None = None) -> None:
    """Reject a stream schema that cannot describe records (not an object with properties).
    Draft 4's boolean exclusive bounds are checked in their Draft 6 form (:func:`draft6_bounds`)."""
    if not isinstance(schema, dict):
        raise ProtocolError("schema is not a JSON object", line=line, stream=stream)
    schema = draft6_bounds(schema)
    if not plainly_valid(schema):
        import jsonschema  # imported here: ~45 ms, and only unusual schemas need it

        try:
            with deep_recursion():
                jsonschema.Draft7Validator.check_schema(schema)
        except jsonschema.SchemaError as exc:
            raise ProtocolError(f"invalid JSON Schema: {exc.message}", line=line, stream=stream) from exc
    if not isinstance(schema.get("properties"), dict):
        raise ProtocolError(
            "schema has no 'properties': records cannot be described", line=line, stream=stream
        )


def _field_from_path(name: str) -> str | None:
    # fastjsonschema names the failing value "data.a.b" or "data.items[0]"
    if name == "data":
        return None
    return name[5:] if name.startswith("data.") else name


class _RemoteRef(Exception):
    pass


def _refuse_remote(uri: str) -> Any:
    raise _RemoteRef(f"remote $ref {uri!r} is not fetched; inline the definition")


# A schema is untrusted input: never let it make the validator fetch a URL.
_NO_REMOTE_REFS = {scheme: _refuse_remote for scheme in ("http", "https", "ftp", "file")}

_REQUIRED = re.compile(r"must contain \[(.*)\] properties")


FAST_SCHEMA_DEPTH = 64


class RecordValidator:
    """A compiled validator for one stream. Call it with a record; raises on failure."""

    __slots__ = ("_deep", "_fast", "_validate", "key_properties", "stream")

    def __init__(self, stream: str, schema: dict[str, Any], key_properties: Iterable[str] = ()):
        self.stream = stream
        self.key_properties = tuple(key_properties)
        self._deep: _DeepValidator | None = None
        self._fast: Callable[[Any], bool] | None = None
        schema = compiled_form(schema)
        if nesting_depth(schema) > FAST_SCHEMA_DEPTH:
            self._deep = _DeepValidator(stream, schema)
            return
        try:
            self._validate: Callable[[Any], Any] = fastjsonschema.compile(
                schema, formats=_FORMATS, use_default=False, handlers=_NO_REMOTE_REFS
            )
        except (fastjsonschema.JsonSchemaDefinitionException, _RemoteRef) as exc:
            raise ProtocolError(f"schema cannot be compiled: {exc}", stream=stream) from exc
        except (SyntaxError, RecursionError):  # generated code Python refuses (nested too deep)
            self._deep = _DeepValidator(stream, schema)
            return
        self._fast = compile_fast_check(schema, also_required=self.key_properties, formats=_FORMATS)

    def __call__(self, record: Any, line: int | None = None) -> None:
        try:
            self._check(record, line)
            return
        except (TypeError, ArithmeticError, RecordValidationError):
            if not holds_decimal(record):
                raise
        # An exactly parsed number (a Decimal: the record's line held a long run of digits) is one neither
        # validator can divide exactly (multipleOf) nor counts as an integer (1234567890123456.0 is one,
        # as 2.0 is), and compares with a float bound as the float's binary value. The record is checked
        # again with each such number as the plain parse would give it, but exact (:class:`_Exact`): the
        # same answers as on every other line, and its error names the field at fault (the record
        # itself, exact, is what goes on).
        with deep_recursion():
            view = _floats(record)
        self._check(view, line)

    def _check(self, record: Any, line: int | None) -> None:
        fast = self._fast
        if fast is not None and fast(record):
            return
        if self._deep is not None:
            self._deep(record, line)
            self._check_keys(record, line)
            return
        self._compiled(record, line)

    def _compiled(self, record: Any, line: int | None) -> None:
        try:
            self._validate(record)
        except fastjsonschema.JsonSchemaValueException as exc:
            field = _field_from_path(exc.name or "data")
            detail = exc.message.replace(exc.name, "value", 1) if exc.name else exc.message
            if exc.rule == "required":
                missing = _REQUIRED.search(exc.message)
                detail = f"required field missing ({missing.group(1) if missing else exc.message})"
                if missing and field is None:
                    field = missing.group(1).split(",")[0].strip(" '\"")
            elif exc.rule == "type":
                detail = f"value {_short(exc.value)} is not of type {exc.rule_definition}"
            elif exc.rule == "format":
                detail = f"value {_short(exc.value)} is not a valid {exc.rule_definition}"
            raise RecordValidationError(
                detail, line=line, stream=self.stream, field=field
            ) from None
        self._check_keys(record, line)

    def _check_keys(self, record: Any, line: int | None) -> None:
        for key in self.key_properties:
            if key not in record:
                raise RecordValidationError(
                    "key property missing from record", line=line, stream=self.stream, field=key
                )


class _Exact(float):
    """An exactly read number that is not an integer, as the validators take it: a float (``enum`` and
    ``const`` compare it as the plain parse would have read it) that is never an integer (past 2**53
    every float is integral: -999999999999999999999999999999.5 reads as -1e+30), whose repr is the
    number as written (fastjsonschema's multipleOf divides ``Decimal(repr(value))``: exact) and whose
    order is the written numbers' (0.1 is not below a bound 0.1; 99999999999999.999999 is below 1e14)."""

    __slots__ = ("exact",)
    exact: Decimal

    def __new__(cls, exact: Decimal) -> _Exact:
        self = super().__new__(cls, exact)
        self.exact = exact
        return self

    def __repr__(self) -> str:
        return str(self.exact)

    def is_integer(self) -> bool:
        return False

    def __lt__(self, other: object) -> bool:
        return self.exact < _as_written(other)  # type: ignore[no-any-return, operator]

    def __le__(self, other: object) -> bool:
        return self.exact <= _as_written(other)  # type: ignore[no-any-return, operator]

    def __gt__(self, other: object) -> bool:
        return self.exact > _as_written(other)  # type: ignore[no-any-return, operator]

    def __ge__(self, other: object) -> bool:
        return self.exact >= _as_written(other)  # type: ignore[no-any-return, operator]


def _as_written(number: object) -> object:
    """A float as the number its shortest text writes (the text it was read from); others as they are."""
    return Decimal(repr(number)) if isinstance(number, float) else number


def _floats(value: Any) -> Any:
    """``value`` with every Decimal in it an int where it is integral, else an :class:`_Exact` (a copy;
    ``value`` is not changed): what the plain parse gives, but that no number is rounded."""
    if isinstance(value, Decimal):
        whole = whole_number(value)
        return _Exact(value) if whole is None else whole
    if isinstance(value, dict):
        return {k: _floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_floats(v) for v in value]
    return value


class _DeepValidator:
    """jsonschema for a schema too deep for fastjsonschema: same formats, no remote $ref."""

    __slots__ = ("_validator", "stream")

    def __init__(self, stream: str, schema: dict[str, Any]) -> None:
        import jsonschema

        self.stream = stream
        remote = _remote_ref(schema)
        if remote is not None:
            raise ProtocolError(f"schema cannot be compiled: remote $ref {remote!r} is not fetched; "
                                "inline the definition", stream=stream)
        checker = jsonschema.FormatChecker()
        for name, check in _FORMATS.items():
            checker.checks(name)(check)
        self._validator = jsonschema.Draft7Validator(schema, format_checker=checker)

    def __call__(self, record: Any, line: int | None) -> None:
        with deep_recursion():
            error = next(self._validator.iter_errors(record), None)
            if error is None:
                return
            path = list(error.absolute_path)
            if error.validator == "type":
                detail = f"value {_short(error.instance)} is not of type {error.validator_value}"
            elif error.validator == "format":
                detail = f"value {_short(error.instance)} is not a valid {error.validator_value}"
            elif error.validator == "required":
                detail = f"required field missing ({error.message.split(' is a required')[0]})"
            else:
                detail = f"value {_short(error.instance)} fails '{error.validator}'"
        field = ".".join(map(str, path)) if path else None
        raise RecordValidationError(detail, line=line, stream=self.stream, field=field)


def nesting_depth(node: Any) -> int:
    """How many levels of objects and arrays ``node`` nests (0 for a scalar); no recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(node, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            stack.extend((value, depth + 1) for value in item.values())
        elif isinstance(item, list):
            stack.extend((value, depth + 1) for value in item)
        else:
            continue
        deepest = max(deepest, depth)
    return deepest


def _remote_ref(node: Any) -> str | None:
    """The first "$ref" in ``node`` that points outside the schema; no recursion."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str) and not ref.startswith("#"):
                return ref
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def _short(value: Any) -> str:
    text = str(value) if isinstance(value, Decimal) else repr(value)  # an exactly read number, as written
    return text if len(text) <= 60 else text[:57] + "..."


def property_schemas(schema: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The top-level property schemas of a stream schema."""
    props = schema.get("properties") or {}
    return dict(props)


def field_types(prop: Mapping[str, Any]) -> set[str]:
    """The JSON types a property allows, following anyOf/oneOf one level."""
    types: set[str] = set()
    raw = prop.get("type")
    if isinstance(raw, str):
        types.add(raw)
    elif isinstance(raw, list):
        types.update(t for t in raw if isinstance(t, str))
    for key in ("anyOf", "oneOf"):
        for sub in prop.get(key) or []:
            if isinstance(sub, Mapping):
                types |= field_types(sub)
    if not types and "properties" in prop:
        types.add("object")
    return types


def is_nullable(prop: Mapping[str, Any]) -> bool:
    types = field_types(prop)
    return not types or "null" in types


def merge_types(a: str | None, b: str) -> str:
    """The narrowest JSON type that holds values of both a and b (for inference)."""
    if a is None or a == b:
        return b
    if {a, b} <= {"integer", "number"}:
        return "number"
    return "string"
