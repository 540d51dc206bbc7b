"""The `metadata:` block of sluice.yml: Meltano's forms, precedence, checks, and the comment-keeping edit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from protocol._catalog import Catalog
from protocol._errors import ConfigError
from runner.catalog_metadata import apply_metadata, metadata_rules
from runner.project import validate_project
from runner.project_edit import set_stream_metadata


def _catalog() -> dict[str, Any]:
    def stream(name: str) -> dict[str, Any]:
        return {"tap_stream_id": name, "replication_key": "id", "schema": {"type": "object", "properties": {
            "id": {"type": "integer"}, "updated_at": {"type": "string"}, "email": {"type": "string"},
            "address": {"type": "object", "properties": {"zip": {"type": "string"}}}}},
            "metadata": [{"breadcrumb": [], "metadata": {"selected-by-default": True}}]}
    return {"streams": [stream("public-orders"), stream("public-users"), stream("crm-leads")]}


def _apply(block: dict[str, Any]) -> tuple[Catalog, list[str]]:
    out, warnings = apply_metadata(_catalog(), metadata_rules(block), "connector 'tap'")
    return Catalog.from_dict(out), warnings


def test_stream_keys_set_metadata_and_the_legacy_fields() -> None:
    cat, warnings = _apply({"public-orders": {"replication-method": "INCREMENTAL", "replication-key": "updated_at"}})
    orders = cat.get("public-orders")
    assert orders is not None and warnings == []
    assert (orders.replication_method, orders.replication_key) == ("INCREMENTAL", "updated_at")
    assert orders.metadata.get((), "replication-key") == "updated_at"
    users = cat.get("public-users")
    assert users is not None and users.replication_method is None and users.replication_key == "id"


def test_later_entries_win_key_by_key_whatever_their_specificity() -> None:
    cat, _ = _apply({"public-*": {"selected": False}, "public-orders": {"selected": True}})
    assert [s.tap_stream_id for s in cat.selected()] == ["public-orders", "crm-leads"]
    cat, _ = _apply({"public-orders": {"selected": True}, "public-*": {"selected": False}})
    assert [s.tap_stream_id for s in cat.selected()] == ["crm-leads"]


@pytest.mark.parametrize("block", [
    {"public-orders": {"email": {"selected": False}, "address": {"zip": {"selected": False}}}},
    {"public-orders": {"properties": {"email": {"selected": False},
                                      "address": {"properties": {"zip": {"selected": False}}}}}},
    {"public-orders": {"email.selected": False, "properties.address.properties.zip.selected": False}},
    {"public-orders": {"e*": {"selected": False}, "address.z*": {"selected": False}}},
])
def test_property_entries_in_every_form_meltano_users_write(block: dict[str, Any]) -> None:
    cat, warnings = _apply(block)
    orders = cat.get("public-orders")
    assert orders is not None and warnings == []
    assert not orders.metadata.is_selected(("properties", "email"))
    assert not orders.metadata.is_selected(("properties", "address", "properties", "zip"))
    assert orders.metadata.is_selected(("properties", "updated_at"))


def test_inclusion_and_other_keys_pass_through() -> None:
    cat, _ = _apply({"crm-*": {"table-key-properties": ["id"], "updated_at": {"inclusion": "automatic"}}})
    leads = cat.get("crm-leads")
    assert leads is not None and leads.key_properties == ["id"]
    assert leads.metadata.get(("properties", "updated_at"), "inclusion") == "automatic"


def test_globs_matching_nothing_are_warnings_naming_them() -> None:
    _, warnings = _apply({"public-ordrs": {"selected": False}, "crm-*": {"phone": {"selected": False}}})
    assert warnings == ["connector 'tap': metadata 'public-ordrs' matches no stream",
                        "connector 'tap': metadata 'crm-*.phone.selected' matches no property"]


def test_a_replication_key_not_in_a_selected_stream_is_an_error() -> None:
    with pytest.raises(ConfigError) as caught:
        _apply({"public-*": {"replication-key": "modified"}})
    assert "replication-key 'modified' is not a property of stream 'public-orders'" in caught.value.problems[0]
    assert str(caught.value).startswith("connector 'tap': metadata does not fit the catalog")
    # a stream the same metadata deselects is not checked
    _apply({"public-*": {"replication-key": "modified", "selected": False}})


def test_incremental_without_a_key_and_an_unknown_method_are_errors() -> None:
    catalog = _catalog()
    for stream in catalog["streams"]:
        stream.pop("replication_key")
    with pytest.raises(ConfigError, match="stream 'crm-leads' is INCREMENTAL but has no replication-key"):
        apply_metadata(catalog, metadata_rules({"crm-leads": {"replication-method": "INCREMENTAL"}}), "c")
    with pytest.raises(ConfigError, match="'incremental' is not a replication method"):
        metadata_rules({"crm-leads": {"replication-method": "incremental"}})


def _problems(metadata: Any) -> list[str]:
    return validate_project({"connectors": [{"name": "tap", "executable": "tap", "metadata": metadata}]})


def test_the_project_schema_checks_the_shape() -> None:
    assert _problems({"public-*": {"selected": False, "replication-method": "LOG_BASED", "col": {"selected": True},
                                   "table-key-properties": ["id"]}}) == []
    assert _problems({"s": {"replication-method": "SOMETIMES"}})[0].startswith(
        "0: connectors[0].metadata.s.replication-method: 'SOMETIMES' is not one of")
    assert "connectors[0].metadata.s: 'yes' is not of type 'object'" in _problems({"s": "yes"})[0]
    assert "connectors[0].metadata.s.col.selected: 'no' is not of type 'boolean'" in \
        _problems({"s": {"col": {"selected": "no"}}})[0]
    assert "connectors[0].metadata.s.replication-key: 1 is not of type 'string'" in \
        _problems({"s": {"replication-key": 1}})[0]


PROJECT = """\
# project
connectors:
  - name: tap   # source
    executable: tap
    metadata: {METADATA}
  - name: target
    executable: target
"""


@pytest.mark.parametrize("metadata", ["{}", "", "\n      s: {selected: true}  # keep",
                                      "\n      s:\n        selected: true"])
def test_the_edit_keeps_comments_in_every_layout(tmp_path: Path, metadata: str) -> None:
    path = tmp_path / "sluice.yml"
    path.write_text(PROJECT.replace("{METADATA}", metadata))
    set_stream_metadata(path, "tap", "s", {"replication-method": "INCREMENTAL", "replication-key": "at"})
    set_stream_metadata(path, "tap", "t-*", {"replication-method": "FULL_TABLE", "replication-key": None})
    text = path.read_text()
    assert "# project" in text and "# source" in text
    data = yaml.safe_load(text)
    want: dict[str, Any] = {"replication-method": "INCREMENTAL", "replication-key": "at"}
    if "selected" in metadata:
        want = {"selected": True, **want}
    assert data["connectors"][0]["metadata"] == {"s": want, "t-*": {"replication-method": "FULL_TABLE"}}
    assert data["connectors"][1] == {"name": "target", "executable": "target"}
    set_stream_metadata(path, "tap", "s", {"replication-method": "LOG_BASED", "replication-key": None})
    assert yaml.safe_load(path.read_text())["connectors"][0]["metadata"]["s"] == {
        **({"selected": True} if "selected" in metadata else {}), "replication-method": "LOG_BASED"}


def test_a_layout_the_edit_cannot_handle_is_refused_with_what_to_write(tmp_path: Path) -> None:
    path = tmp_path / "sluice.yml"
    text = "connectors:\n  - {name: tap, executable: tap}  # flow style\n"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"add under connector 'tap': metadata: \{s: \{replication-method: "):
        set_stream_metadata(path, "tap", "s", {"replication-method": "FULL_TABLE"})
    assert path.read_text() == text


def test_a_property_named_properties_is_a_property_not_a_breadcrumb() -> None:
    """Event and CRM data often has a column named ``properties``: ``stream.properties`` (Meltano's
    ``!events.properties``) names it; ``properties.x`` is still the breadcrumb form of ``x`` unless
    only the ``properties`` column's child ``x`` exists."""
    def events() -> dict[str, Any]:
        return {"streams": [{"tap_stream_id": "events", "schema": {"type": "object", "properties": {
            "id": {"type": "integer"}, "properties": {"type": "object", "properties": {"ssn": {"type": "string"}}},
            "email": {"type": "string"}}}, "metadata": []}]}

    out, warnings = apply_metadata(events(), metadata_rules({"events": {"properties": {"selected": False}}}), "tap")
    entry = Catalog.from_dict(out).get("events")
    assert entry is not None and warnings == []
    assert entry.metadata.get(("properties", "properties"), "selected") is False
    out, warnings = apply_metadata(events(), metadata_rules({"events": {"properties.email": {"selected": False},
                                                                        "properties.ssn": {"selected": False}}}), "tap")
    entry = Catalog.from_dict(out).get("events")
    assert entry is not None and warnings == []
    assert entry.metadata.get(("properties", "email"), "selected") is False  # the breadcrumb form
    assert entry.metadata.get(("properties", "properties", "properties", "ssn"), "selected") is False


def test_a_property_glob_reaches_nested_properties_as_in_meltano() -> None:
    """Meltano matches the dotted breadcrumb against the dotted glob: ``*`` covers ``address.zip`` too,
    so ``select: [users.id, users.address.city]`` (imported as a reset and two rules) leaves zip out."""
    cat, warnings = _apply({"*": {"selected": False, "*": {"selected": False}},
                            "public-users": {"selected": True, "id": {"selected": True},
                                             "address": {"selected": True}, "address.zip": {"selected": True}}})
    users = cat.get("public-users")
    assert users is not None and warnings == []
    assert users.metadata.get(("properties", "address", "properties", "zip"), "selected") is True
    assert users.metadata.get(("properties", "email"), "selected") is False
    orders = cat.get("public-orders")
    assert orders is not None
    assert orders.metadata.get(("properties", "address", "properties", "zip"), "selected") is False
    assert orders.metadata.get((), "selected") is False  # the stream's own breadcrumb is no property's
