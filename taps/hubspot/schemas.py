"""JSON Schemas of the HubSpot streams, and the typing of CRM property values.

A CRM object (contacts, companies, deals) is ``{id, properties, createdAt, updatedAt, archived}``
as the v3 API returns it, ``properties`` nested (as MeltanoLabs tap-hubspot emits it) and typed
from the properties API (``GET /crm/v3/properties/{objectType}``). The API returns every property
value as a string; :class:`PropertyTyper` turns them into what the schema says:

    HubSpot type       JSON Schema (all nullable)             value
    string, phone_number, enumeration, json, object_coordinates
                       string                                 as is
    number             number                                 exact Decimal ("" -> null)
    bool               boolean                                "true"/"false"
    datetime           string, format date-time               ISO 8601 as is; epoch millis -> ISO 8601
    date               string, format date                    YYYY-MM-DD; epoch millis -> its UTC date
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from protocol import FatalSourceError
from taps.hubspot.settings import iso_millis

__all__ = ["OWNERS_SCHEMA", "PropertyTyper", "object_schema", "property_schema"]


def _n(*types: str, **extra: Any) -> dict[str, Any]:
    return {"type": [*types, "null"], **extra}


STR, INT, BOOL, NUM = _n("string"), _n("integer"), _n("boolean"), _n("number")
TIME, DATE = _n("string", format="date-time"), _n("string", format="date")

_BY_TYPE: dict[str, dict[str, Any]] = {"number": NUM, "bool": BOOL, "datetime": TIME, "date": DATE}

OWNERS_SCHEMA: dict[str, Any] = {"type": "object", "properties": {
    "id": {"type": "string"}, "email": STR, "firstName": STR, "lastName": STR, "userId": INT,
    "userIdIncludingInactive": INT, "type": STR, "createdAt": TIME, "updatedAt": TIME, "archived": BOOL,
    "teams": _n("array", items={"type": "object", "properties": {"id": STR, "name": STR, "primary": BOOL}}),
}}


def property_schema(definition: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON Schema of one property, from its definition in the properties API."""
    schema = dict(_BY_TYPE.get(str(definition.get("type")), STR))
    label = definition.get("label")
    if isinstance(label, str) and label:
        schema["description"] = label
    return schema


def object_schema(definitions: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The schema of a CRM object stream with these property definitions."""
    props = {str(d["name"]): property_schema(d) for d in definitions if d.get("name")}
    return {"type": "object", "properties": {
        "id": {"type": "string"}, "properties": _n("object", properties=props), "createdAt": TIME,
        "updatedAt": {"type": "string", "format": "date-time"}, "archived": BOOL,
    }}


def _millis(text: str) -> datetime:
    return datetime.fromtimestamp(int(text) / 1000, UTC)


def _number(text: str) -> Decimal:
    value = Decimal(text)
    if not value.is_finite():
        raise InvalidOperation(text)
    return value


def _bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    raise ValueError(text)


def _datetime(text: str) -> str:
    if text.isdigit():
        return iso_millis(_millis(text))
    datetime.fromisoformat(text.replace("Z", "+00:00"))  # raises on a value that is not a time
    return text


def _date(text: str) -> str:
    if text.isdigit():
        return _millis(text).date().isoformat()
    return datetime.fromisoformat(text[:10]).date().isoformat()


_CONVERT: dict[str, Callable[[str], Any]] = {"number": _number, "bool": _bool, "datetime": _datetime,
                                             "date": _date}


class PropertyTyper:
    """Types the ``properties`` of the records of one stream, in place."""

    def __init__(self, stream: str, schema: Mapping[str, Any]) -> None:
        self.stream = stream
        props = schema.get("properties", {}).get("properties", {}).get("properties", {})
        self.converters = [(name, _CONVERT[kind]) for name, prop in props.items()
                           if (kind := _kind(prop)) in _CONVERT]

    def __call__(self, record: dict[str, Any]) -> dict[str, Any]:
        values = record.get("properties")
        if not isinstance(values, dict):
            return record
        for name, convert in self.converters:
            value = values.get(name)
            if value is None or not isinstance(value, str):
                continue
            if value == "":
                values[name] = None
                continue
            try:
                values[name] = convert(value)
            except (ValueError, InvalidOperation, OverflowError, OSError) as exc:
                raise FatalSourceError(f"stream '{self.stream}': record {record.get('id')}: field "
                                       f"'properties.{name}': {value!r} is not a valid "
                                       f"{convert.__name__.strip('_')}") from exc
        return record


def _kind(prop: Mapping[str, Any]) -> str:
    types = prop.get("type", [])
    main = next((t for t in types if t != "null"), "string") if isinstance(types, list) else types
    if main == "number":
        return "number"
    if main == "boolean":
        return "bool"
    fmt = prop.get("format")
    return {"date-time": "datetime", "date": "date"}.get(str(fmt), "string")
