"""Catalog selection follows the Singer spec's rules."""

from __future__ import annotations

from protocol import Catalog

SCHEMA = {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"},
                                           "secret": {"type": "string"}, "extra": {"type": "string"}}}


def entry(metadata: list[dict[str, object]]) -> dict[str, object]:
    return {"tap_stream_id": "users", "schema": SCHEMA, "key_properties": ["id"], "metadata": metadata}


def md(crumb: list[str], **values: object) -> dict[str, object]:
    return {"breadcrumb": crumb, "metadata": {k.replace("_", "-"): v for k, v in values.items()}}


def test_stream_selection_rules() -> None:
    assert not Catalog.from_dict({"streams": [entry([])]}).streams[0].selected
    assert Catalog.from_dict({"streams": [entry([md([], selected=True)])]}).streams[0].selected
    assert Catalog.from_dict({"streams": [entry([md([], selected_by_default=True)])]}).streams[0].selected
    explicit_no = entry([md([], selected=False, selected_by_default=True)])
    assert not Catalog.from_dict({"streams": [explicit_no]}).streams[0].selected
    unsupported = entry([md([], selected=True, inclusion="unsupported")])
    assert not Catalog.from_dict({"streams": [unsupported]}).streams[0].selected


def test_field_selection_rules() -> None:
    cat = Catalog.from_dict({"streams": [entry([
        md([], selected=True),
        md(["properties", "id"], inclusion="automatic", selected=False),
        md(["properties", "name"], inclusion="available"),
        md(["properties", "secret"], inclusion="available", selected=False),
        md(["properties", "extra"], inclusion="unsupported", selected=True),
    ])]})
    e = cat.streams[0]
    assert e.selected_fields() == ["id", "name"]


def test_unselected_stream_selects_no_field() -> None:
    cat = Catalog.from_dict({"streams": [entry([md(["properties", "id"], inclusion="automatic")])]})
    assert cat.streams[0].selected_fields() == []


def test_legacy_schema_selected_and_round_trip() -> None:
    legacy = {"tap_stream_id": "users", "schema": {**SCHEMA, "selected": True}, "metadata": []}
    cat = Catalog.from_dict({"streams": [legacy]})
    assert cat.selected()[0].tap_stream_id == "users"
    again = Catalog.from_dict(cat.to_dict())
    assert again.to_dict() == cat.to_dict()


def test_key_properties_from_metadata() -> None:
    stream_md = md([], table_key_properties=["id"], replication_method="INCREMENTAL", replication_key="id")
    e = Catalog.from_dict({"streams": [{"tap_stream_id": "t", "schema": SCHEMA, "metadata": [stream_md]}]}).streams[0]
    assert (e.key_properties, e.replication_method, e.replication_key) == (["id"], "INCREMENTAL", "id")
