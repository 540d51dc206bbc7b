"""`sluice select` patterns, as Meltano's select: stream.field, globs, ! to exclude."""

from __future__ import annotations

from typing import Any

import pytest

from protocol._catalog import Catalog
from protocol._errors import ConfigError
from runner.catalog_select import apply_selection, describe_selection, parse_patterns


def _catalog() -> dict[str, Any]:
    def stream(name: str) -> dict[str, Any]:
        return {
            "tap_stream_id": name,
            "schema": {"type": "object", "properties": {
                "id": {"type": "integer"}, "name": {"type": "string"}, "email": {"type": "string"},
                "address": {"type": "object", "properties": {"city": {"type": "string"}, "zip": {"type": "string"}}},
            }},
            "metadata": [
                {"breadcrumb": [], "metadata": {"selected-by-default": True}},
                {"breadcrumb": ["properties", "id"], "metadata": {"inclusion": "automatic"}},
            ],
            "extra_key": "kept",
        }
    return {"streams": [stream("users"), stream("orders"), stream("user_events")]}


def _selected(catalog: dict[str, Any]) -> dict[str, list[str]]:
    cat = Catalog.from_dict(catalog)
    out = {}
    for entry in cat.selected():
        fields = [f for f in ("name", "email", "address") if entry.metadata.is_selected(("properties", f))]
        nested = [f"address.{f}" for f in ("city", "zip")
                  if entry.metadata.is_selected(("properties", "address", "properties", f))]
        out[entry.tap_stream_id] = fields + nested
    return out


def test_stream_glob_selects_all_fields_and_others_are_deselected() -> None:
    catalog, warnings = apply_selection(_catalog(), ["user*"])
    assert _selected(catalog) == {"users": ["name", "email", "address", "address.city", "address.zip"],
                                  "user_events": ["name", "email", "address", "address.city", "address.zip"]}
    assert warnings == []
    assert catalog["streams"][0]["extra_key"] == "kept"


def test_fields_excludes_and_nested_paths() -> None:
    catalog, _ = apply_selection(_catalog(), ["users.*", "!users.email", "!users.address.zip", "orders.address.city"])
    assert _selected(catalog) == {"users": ["name", "address", "address.city"],
                                  "orders": ["address", "address.city"]}
    ids = Catalog.from_dict(catalog).get("orders")
    assert ids is not None and ids.metadata.is_selected(("properties", "id"))  # automatic stays


def test_whole_stream_exclusion_and_unmatched_pattern_warning() -> None:
    catalog, warnings = apply_selection(_catalog(), ["*.name", "!orders", "nothing.here"])
    assert _selected(catalog) == {"users": ["name"], "user_events": ["name"]}
    assert warnings == ["pattern 'nothing.here' matched nothing"]


def test_describe_and_bad_patterns() -> None:
    catalog, _ = apply_selection(_catalog(), ["users.name"])
    lines = describe_selection(catalog)
    assert "users [selected]" in lines and "orders [excluded]" in lines
    assert "  users.id [automatic]" in lines and "  users.email [excluded]" in lines
    with pytest.raises(ConfigError):
        parse_patterns(["!.field"])


def _dotted() -> dict[str, Any]:
    catalog = _catalog()
    catalog["streams"][0]["tap_stream_id"] = "public.users"
    return catalog


def test_a_stream_id_with_a_dot_is_written_with_an_escaped_dot_as_in_meltano() -> None:
    catalog, warnings = apply_selection(_dotted(), ["public\\.users.*", "!public\\.users.email"])
    assert _selected(catalog) == {"public.users": ["name", "address", "address.city", "address.zip"]}
    assert warnings == []


def test_patterns_that_select_no_stream_change_nothing_and_say_how_to_write_a_dotted_id() -> None:
    with pytest.raises(ConfigError) as info:
        apply_selection(_dotted(), ["public.users.*"])
    assert info.value.summary == "no stream selected by the patterns: the catalog was not changed"
    assert info.value.problems == ["pattern 'public.users.*' matched nothing (stream ids end at the first dot: "
                                   "for stream 'public.users' write public\\.users.*)"]
    catalog, _ = apply_selection(_dotted(), ["!orders"])  # only exclusions: nothing selected, as asked
    assert _selected(catalog) == {}
