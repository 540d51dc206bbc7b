"""A stream's JSON Schema as Parquet columns: the Arrow type of every property, decided once per SCHEMA.

    integer            int64; decimal128(38, 0) when asked (``integers``) or when the schema's
                       minimum/maximum reach beyond int64
    number             float64; exact decimal128(38, s) when ``decimals`` asks (multipleOf 10^-s,
                       or every number with scale ``decimal_scale``)
    boolean            bool
    string             string; date-time: timestamp[us, tz=UTC]; date: date32; singer.decimal: decimal128
    object             struct of its properties (``objects_as: struct``), else JSON text
    array              list of its items (``arrays_as: list``), else JSON text
    untyped, mixed     JSON text (mixed scalars: strings as they are, other values as JSON)

Each column also says how pyarrow's JSON reader reads it (``read_type``: the type handed to
``pyarrow.json`` as the explicit schema, with dates read as strings and cast afterwards) or that it
is built in Python (``read_type`` None: JSON text). ``convert`` turns one decoded JSON value into
what ``pyarrow.array`` takes for the column; it raises :class:`ValueFault` for a value the column
cannot hold exactly (the reference path, used when the reader refuses a batch).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Context, Decimal, InvalidOperation
from typing import Any

import pyarrow as pa

from protocol import dumps, field_types, whole_number
from targets.parquet.settings import ParquetSettings

__all__ = ["Column", "ValueFault", "plan_columns"]

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
PRECISION = 38
TIMESTAMP = pa.timestamp("us", tz="UTC")
_DECIMAL_FORMATS = {"singer.decimal", "x-singer.decimal"}

Convert = Callable[[Any], Any]


class ValueFault(ValueError):
    """A value its column cannot hold exactly; the message says why."""


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType            # the column's type in the files
    read_type: pa.DataType | None  # what pyarrow.json reads it as (None: built in Python)
    convert: Convert | None      # one decoded JSON value -> the pyarrow.array input (None: as it is)
    timestamp: bool = False      # a date-time (a field partition is then by its UTC date)


# -- value converters (the reference path) ---------------------------------------------------

def _int64(value: Any) -> Any:
    if value.__class__ is Decimal and (whole := whole_number(value)) is not None:
        value = whole  # 1234567890123456.0, read exactly
    if value.__class__ is not bool and isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        raise ValueFault(f"integer {value} does not fit an int64 column (setting integers: decimal holds 38 digits)")
    return value


def _float(value: Any) -> float:
    number = float(value)
    if math.isinf(number):  # 1E400 or 1.7976931348623159e308 is JSON; a double holds no such number
        raise ValueFault(f"number {value} is past a double's range (setting decimals keeps exact decimals)")
    return number


def _decimal(scale: int) -> Convert:
    quantum = Decimal(1).scaleb(-scale)
    # quantized with one digit more than a column holds: in Python's default context (28 digits) 21.5
    # at scale 30 (32 digits) was refused; the extra digit names the excess below
    context = Context(prec=PRECISION + 1)

    def convert(value: Any) -> Decimal:
        try:
            exact = Decimal(repr(value)) if value.__class__ is float else Decimal(value)
            fixed = exact.quantize(quantum, context=context)
        except (InvalidOperation, ValueError, TypeError) as exc:
            raise ValueFault(f"{value!r} is not a decimal of {PRECISION} digits, scale {scale}") from exc
        if fixed != exact:
            raise ValueFault(f"{value!r} has more than {scale} digits after the point (decimal_scale / multipleOf)")
        if len(fixed.as_tuple().digits) > PRECISION:
            raise ValueFault(f"{value!r} has more than {PRECISION} digits")
        return fixed
    return convert


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _timestamp(value: Any) -> int:
    """Microseconds since the epoch: also for an instant before year 1 in UTC ("0001-01-01T00:00:00+01:00"),
    which pyarrow's reader writes and a Python datetime in UTC cannot hold."""
    try:
        moment = datetime.fromisoformat(value.upper())  # RFC 3339 allows 't' and 'z'; Python wants them upper
    except (TypeError, ValueError) as exc:
        raise ValueFault(f"{value!r} is not an ISO 8601 date-time") from exc
    return ((moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment) - _EPOCH) // _MICROSECOND


def _date(value: Any) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise ValueFault(f"{value!r} is not an ISO 8601 date") from exc


def _json_text(value: Any) -> str:
    return dumps(value).decode()


def _text(value: Any) -> str:
    return value if value.__class__ is str else dumps(value).decode()


def _items(convert: Convert) -> Convert:
    return lambda values: [None if v is None else convert(v) for v in values]


def _fields(converts: dict[str, Convert | None]) -> Convert:
    def convert(value: Mapping[str, Any]) -> dict[str, Any]:
        out = {}
        for name, conv in converts.items():
            v = value.get(name)
            out[name] = v if v is None or conv is None else conv(v)
        return out
    return convert


# -- the plan --------------------------------------------------------------------------------

class _JsonText(Exception):
    """This (nested) property is JSON text: its enclosing column becomes JSON text as a whole."""


@dataclass(frozen=True)
class _Typed:
    type: pa.DataType
    read_type: pa.DataType
    convert: Convert | None
    timestamp: bool = False


def plan_columns(schema: Mapping[str, Any], settings: ParquetSettings) -> list[Column]:
    """Every top-level property of ``schema`` as a column, in the schema's order."""
    columns = []
    for name, prop in (schema.get("properties") or {}).items():
        try:
            typed = _typed(prop if isinstance(prop, Mapping) else {}, settings)
        except _JsonText:
            types = field_types(prop) - {"null"} if isinstance(prop, Mapping) else set()
            mixed = len(types) > 1 and not types & {"object", "array"}
            columns.append(Column(name, pa.string(), None, _text if mixed else _json_text))
            continue
        columns.append(Column(name, typed.type, typed.read_type, typed.convert, typed.timestamp))
    return columns


def _format(prop: Mapping[str, Any]) -> str | None:
    found = prop.get("format")
    if found is None:
        for key in ("anyOf", "oneOf"):
            branches = [b for b in prop.get(key) or [] if isinstance(b, Mapping) and b.get("type") != "null"]
            if len(branches) == 1:
                found = branches[0].get("format")
    return found if isinstance(found, str) else None


def _scale_of(multiple: Any) -> int | None:
    """s when ``multiple`` is 10^-s (0.01 -> 2, 1 -> 0); None otherwise."""
    if multiple.__class__ not in (int, float, Decimal) or multiple <= 0:
        return None
    exact = Decimal(repr(multiple)) if multiple.__class__ is float else Decimal(multiple)
    digits = exact.normalize().as_tuple()
    if digits.digits != (1,) or not isinstance(digits.exponent, int) or digits.exponent > 0:
        return None
    return -digits.exponent


def _number(prop: Mapping[str, Any], settings: ParquetSettings) -> _Typed:
    scale: int | None = None
    if settings.decimals == "always":
        scale = _scale_of(prop.get("multipleOf"))
        scale = settings.decimal_scale if scale is None else scale
    elif settings.decimals == "multipleOf":
        scale = _scale_of(prop.get("multipleOf"))
    if scale is None or scale > PRECISION:
        return _Typed(pa.float64(), pa.float64(), _float)
    kind = pa.decimal128(PRECISION, scale)
    return _Typed(kind, kind, _decimal(scale))


def _integer(prop: Mapping[str, Any], settings: ParquetSettings) -> _Typed:
    bounds = [prop.get(k) for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")]
    beyond = any(isinstance(b, (int, float)) and not INT64_MIN <= b <= INT64_MAX for b in bounds)
    if settings.integers == "decimal" or beyond:
        kind = pa.decimal128(PRECISION, 0)
        return _Typed(kind, kind, _decimal(0))
    return _Typed(pa.int64(), pa.int64(), _int64)


def _string(prop: Mapping[str, Any], settings: ParquetSettings) -> _Typed:
    fmt = _format(prop)
    if fmt == "date-time":
        return _Typed(TIMESTAMP, TIMESTAMP, _timestamp, timestamp=True)
    if fmt == "date":
        return _Typed(pa.date32(), pa.string(), _date)
    if fmt in _DECIMAL_FORMATS:
        kind = pa.decimal128(PRECISION, settings.decimal_scale)
        return _Typed(kind, pa.string(), _decimal(settings.decimal_scale))
    return _Typed(pa.string(), pa.string(), None)


def _typed(prop: Mapping[str, Any], settings: ParquetSettings) -> _Typed:
    types = field_types(prop) - {"null"}
    if len(types) == 1 or types == {"integer", "number"}:
        kind = "number" if types == {"integer", "number"} else next(iter(types))
        if kind == "integer":
            return _integer(prop, settings)
        if kind == "number":
            return _number(prop, settings)
        if kind == "boolean":
            return _Typed(pa.bool_(), pa.bool_(), None)
        if kind == "string":
            return _string(prop, settings)
        if kind == "object" and settings.objects_as == "struct" and prop.get("properties"):
            return _struct(prop["properties"], settings)
        if kind == "array" and settings.arrays_as == "list" and isinstance(prop.get("items"), Mapping):
            item = _typed(prop["items"], settings)
            return _Typed(pa.list_(item.type), pa.list_(item.read_type),
                          None if item.convert is None else _items(item.convert))
    raise _JsonText


def _struct(properties: Mapping[str, Any], settings: ParquetSettings) -> _Typed:
    fields = {name: _typed(sub if isinstance(sub, Mapping) else {}, settings) for name, sub in properties.items()}
    kind = pa.struct([pa.field(n, t.type) for n, t in fields.items()])
    read = pa.struct([pa.field(n, t.read_type) for n, t in fields.items()])
    converts = {n: t.convert for n, t in fields.items()}
    return _Typed(kind, read, _fields(converts) if any(converts.values()) else None)
