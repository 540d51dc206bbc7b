"""Typed, frozen settings: each connector reads its settings from one frozen object built
once from its validated config, never by ``config.get(name, default)`` calls that restate
the schema's defaults.

A connector declares its settings schema (what ``--about`` publishes and the config is
validated against) and a frozen dataclass whose fields are named after the settings it
reads. :func:`build_settings` fills each field from the config, or from the schema's
``default`` when the setting is unset (absent or null); a field whose value is derived
(a path made absolute, a default that is another setting) is passed in by name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

__all__ = ["build_settings", "setting"]

T = TypeVar("T")


def setting(schema: Mapping[str, Any], config: Mapping[str, Any], name: str) -> Any:
    """The value of setting ``name``: the config's, or the schema's default when unset."""
    value = config.get(name)
    if value is not None:
        return value
    declared = schema.get("properties", {}).get(name)
    if declared is None:
        raise KeyError(f"setting {name!r} is not declared in the settings schema")
    return declared.get("default")


def _frozen(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


def build_settings(cls: type[T], schema: Mapping[str, Any], config: Mapping[str, Any], /, **given: Any) -> T:
    """An instance of the frozen dataclass ``cls``: fields named in ``given`` take that value,
    every other field the value of the setting of the same name (lists become tuples)."""
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        if field.name in given:
            values[field.name] = given[field.name]
        else:
            values[field.name] = _frozen(setting(schema, config, field.name))
    return cls(**values)
