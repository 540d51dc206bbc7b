"""protocol._settings: one frozen settings object from a validated config, defaults from the schema."""

from __future__ import annotations

import dataclasses

import pytest

from protocol._settings import build_settings, setting

SCHEMA = {"type": "object", "properties": {
    "batch_rows": {"type": "integer", "default": 1000},
    "columns": {"type": "array", "items": {"type": "string"}},
    "quote": {"type": "string", "default": '"'},
}}


@dataclasses.dataclass(frozen=True)
class Example:
    batch_rows: int
    columns: tuple[str, ...] | None
    quote: str


def test_defaults_come_from_the_schema() -> None:
    built = build_settings(Example, SCHEMA, {})
    assert built == Example(batch_rows=1000, columns=None, quote='"')


def test_config_values_win_and_null_means_unset() -> None:
    built = build_settings(Example, SCHEMA, {"batch_rows": 5, "columns": ["a", "b"], "quote": None})
    assert built == Example(batch_rows=5, columns=("a", "b"), quote='"')
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.batch_rows = 6  # type: ignore[misc]


def test_given_values_override() -> None:
    assert build_settings(Example, SCHEMA, {"quote": "'"}, quote="|").quote == "|"


def test_an_undeclared_setting_is_a_bug_not_a_silent_none() -> None:
    with pytest.raises(KeyError, match="fast_pat"):
        setting(SCHEMA, {}, "fast_pat")
