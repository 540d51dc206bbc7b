"""Column values from their PostgreSQL text form (what logical decoding sends) to JSON values.

The session settings of client.py (TimeZone=UTC, DateStyle=ISO, IntervalStyle=iso_8601, lc_monetary=C)
fix the text forms, and every converter gives the same JSON value the full-table read
renders on the server for the same kind (see discovery.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from protocol import loads

__all__ = ["Converter", "converter_for", "parse_array"]

Converter = Callable[[str], Any]

_NOT_MONEY = re.compile(r"[^0-9.\-]")


def _numeric(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal(_NOT_MONEY.sub("", text))  # money: "$1,234.56"
    return value if value.is_finite() else None


def _float(text: str) -> float | None:
    value = float(text)
    return value if value == value and value not in (float("inf"), float("-inf")) else None


def _tstz(text: str) -> str:
    # "2024-01-02 03:04:05.123456+00" (UTC session) -> "2024-01-02T03:04:05.123456+00:00";
    # "... BC" keeps its suffix after the offset, as row_to_json writes it; "infinity" stays
    if text.endswith(" BC"):
        return _tstz(text[:-3]) + " BC"
    if text.endswith("+00"):
        return text[:-3].replace(" ", "T", 1) + "+00:00"
    return text.replace(" ", "T", 1)


def _ts(text: str) -> str:
    if not text[:1].isdigit():
        return text  # infinity, -infinity
    if text.endswith(" BC"):
        return text[:-3].replace(" ", "T", 1) + "+00:00 BC"
    return text.replace(" ", "T", 1) + "+00:00"


def _ts_element(text: str) -> str:
    return text.replace(" ", "T", 1)


def _bytea(text: str) -> str:
    return text[2:] if text.startswith("\\x") else text


def _json(text: str) -> Any:
    # jsonb text is one line: embed it as is (exact numbers, no re-encoding); json text may span lines
    if "\n" in text or "\r" in text:
        return loads(text)
    return orjson.Fragment(text)


def _identity(text: str) -> str:
    return text


_SCALARS: dict[str, Converter] = {
    "int": int, "numeric": _numeric, "float": _float, "bool": lambda t: t == "t", "tstz": _tstz, "ts": _ts,
    "bytea": _bytea, "json": _json,
}


def _as_object(json: Converter) -> Converter:
    # json_as_object: what is not an object (nor null) becomes {"value": <it>}, as the snapshot renders it
    def as_object(text: str) -> Any:
        head = text.lstrip()[:1]
        return json(text) if head in ("{", "n") else {"value": json(text)}

    return as_object


def _rewritten(rewrite: Callable[[str], str]) -> Converter:
    def json(text: str) -> Any:
        return _json(rewrite(text))

    return json


def converter_for(kind: str, element_kind: str | None = None, *, json_as_object: bool = False,
                  delimiter: str = ",", json_text: Callable[[str], str] | None = None) -> Converter:
    """The converter of one column kind (arrays: of their element kind, whose elements ``delimiter``
    separates: ``,`` but for ``box``, whose text holds commas, ``;``); ``json_text`` rewrites the
    text of each json value first (a json column's, or an element's)."""
    json = _json if json_text is None else _rewritten(json_text)
    if kind == "json":
        return _as_object(json) if json_as_object else json
    if kind == "array":
        element = json if element_kind == "json" else _SCALARS.get(element_kind or "", _identity)
        if element_kind == "bytea":
            element = _identity  # the server's array JSON keeps "\\x..." elements
        elif element_kind == "ts":
            element = _ts_element  # ... and timestamps without an offset

        def array(text: str) -> Any:
            return parse_array(text, element, delimiter)

        return array
    return _SCALARS.get(kind, _identity)


def parse_array(text: str, element: Converter = _identity, delimiter: str = ",") -> list[Any]:
    """A PostgreSQL array literal ``{1,2,NULL}``, ``{"a b","c\\"d"}``, ``{{1,2},{3,4}}`` as nested lists;
    an ``int2vector`` or ``oidvector`` (array types written ``1 2``) as a list."""
    if text.startswith("["):  # explicit bounds: "[0:1]={1,2}"
        text = text[text.index("=") + 1:]
    elif not text.startswith("{"):
        return [element(item) for item in text.split()]
    pos = 0
    n = len(text)
    stops = delimiter + "}"

    def parse() -> list[Any]:
        nonlocal pos
        assert text[pos] == "{"
        pos += 1
        items: list[Any] = []
        if text[pos] == "}":
            pos += 1
            return items
        while True:
            ch = text[pos]
            if ch == "{":
                items.append(parse())
            elif ch == '"':
                pos += 1
                chars = []
                while text[pos] != '"':
                    if text[pos] == "\\":
                        pos += 1
                    chars.append(text[pos])
                    pos += 1
                pos += 1
                items.append(element("".join(chars)))
            else:
                start = pos
                while pos < n and text[pos] not in stops:
                    pos += 1
                raw = text[start:pos].strip()
                items.append(None if raw == "NULL" else element(raw))
            if text[pos] == delimiter:
                pos += 1
                continue
            pos += 1  # "}"
            return items

    return parse()
