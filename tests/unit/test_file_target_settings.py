"""target-csv's and target-jsonl's frozen settings: every field is a declared setting (or derived
from declared ones), every default comes from the schema (stated nowhere else), and the target
builds the object once and hands it to its sinks."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from protocol import ConfigError, SchemaMessage
from targets.csv import settings as csv_settings
from targets.csv.settings import CsvSettings
from targets.csv.target import TargetCsv
from targets.files.settings import FileSettings
from targets.jsonl import settings as jsonl_settings
from targets.jsonl.settings import JsonlSettings
from targets.jsonl.target import TargetJsonl

ROOT = Path(__file__).resolve().parents[2]

CONNECTORS = [
    pytest.param(csv_settings.SETTINGS, CsvSettings, TargetCsv, id="target-csv"),
    pytest.param(jsonl_settings.SETTINGS, JsonlSettings, TargetJsonl, id="target-jsonl"),
]


def _own_fields(cls: type[FileSettings]) -> list[str]:
    """The fields filled from the setting of the same name (the others are derived)."""
    return [f.name for f in dataclasses.fields(cls) if f.name not in cls.DERIVED]


@pytest.mark.parametrize(("schema", "cls", "target"), CONNECTORS)
def test_every_field_is_a_declared_setting_or_derived_from_declared_ones(
        schema: dict[str, Any], cls: type[FileSettings], target: type[TargetCsv | TargetJsonl]) -> None:
    declared = set(schema["properties"])
    fields = [f.name for f in dataclasses.fields(cls)]
    assert set(_own_fields(cls)) <= declared
    assert set(cls.DERIVED) <= set(fields)
    for field, sources in cls.DERIVED.items():
        assert sources and set(sources) <= declared, field
    # what --about publishes is that schema (plus the kit's settings), the very same entries
    published = target.settings_schema["properties"]
    assert all(published[name] is schema["properties"][name] for name in declared)
    # no default is restated in the code
    assert all(f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
               for f in dataclasses.fields(cls))


@pytest.mark.parametrize(("schema", "cls", "target"), CONNECTORS)
def test_unset_settings_take_the_schema_defaults(schema: dict[str, Any], cls: type[FileSettings],
                                                 target: type[Any]) -> None:
    for config in ({}, dict.fromkeys(schema["properties"])):  # absent or null: unset
        built = cls.from_config(config)  # type: ignore[attr-defined]
        for name in _own_fields(cls):
            assert getattr(built, name) == schema["properties"][name].get("default"), name


def _another(prop: dict[str, Any], name: str) -> Any:
    if prop.get("type") == "boolean":
        return not prop.get("default", False)
    if "enum" in prop:
        return next(v for v in prop["enum"] if v != prop.get("default"))
    return f"<{name}>"


@pytest.mark.parametrize(("schema", "cls", "target"), CONNECTORS)
def test_defaults_are_read_from_the_schema_not_restated(monkeypatch: pytest.MonkeyPatch, schema: dict[str, Any],
                                                        cls: type[FileSettings], target: type[Any]) -> None:
    expected = {}
    for name in _own_fields(cls):
        prop = schema["properties"][name]
        expected[name] = _another(prop, name)
        monkeypatch.setitem(prop, "default", expected[name])
    built = cls.from_config({})  # type: ignore[attr-defined]
    assert {name: getattr(built, name) for name in expected} == expected


def test_csv_derived_settings_follow_the_schema_and_the_aliases(monkeypatch: pytest.MonkeyPatch) -> None:
    default = CsvSettings.from_config({})
    assert default.output_dir == Path(".") and default.overwrite is True and default.dialect == {"dialect": "excel"}
    assert CsvSettings.from_config({"overwrite_behavior": "append_records"}).overwrite is False
    assert CsvSettings.from_config({"overwrite_behavior": "append_records", "mode": "overwrite"}).overwrite is True
    assert CsvSettings.from_config({"overwrite_behavior": "replace_file", "mode": "append"}).overwrite is False
    paths = {"output_path": "a", "destination_path": "b", "output_path_prefix": "c"}
    assert CsvSettings.from_config(paths).output_dir == Path("a")
    assert CsvSettings.from_config({**paths, "output_path": ""}).output_dir == Path("b")
    assert CsvSettings.from_config({"output_path_prefix": "~/c"}).output_dir == Path.home() / "c"
    assert CsvSettings.from_config({"escape_character": "\\"}).dialect == {"dialect": "excel", "escapechar": "\\"}
    monkeypatch.setitem(csv_settings.SETTINGS["properties"]["overwrite_behavior"], "default", "append_records")
    assert CsvSettings.from_config({}).overwrite is False


def test_jsonl_derived_settings_follow_the_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    default = JsonlSettings.from_config({})
    assert default.output_dir == Path(".") and default.overwrite is False and default.compress is False
    assert JsonlSettings.from_config({"mode": "overwrite", "compression": "gzip"}).overwrite is True
    assert JsonlSettings.from_config({"compression": "gzip"}).compress is True
    assert JsonlSettings.from_config({"destination_path": "~/out"}).output_dir == Path.home() / "out"
    monkeypatch.setitem(jsonl_settings.SETTINGS["properties"]["mode"], "default", "overwrite")
    assert JsonlSettings.from_config({}).overwrite is True


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        CsvSettings.from_config({}).file_naming_scheme = "x"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        JsonlSettings.from_config({}).custom_name = "x"  # type: ignore[misc]


def test_each_target_builds_its_settings_once_and_hands_them_to_its_sinks(tmp_path: Path) -> None:
    schema = SchemaMessage("users", {"type": "object", "properties": {"id": {"type": "integer"}}}, ["id"])
    csv_target = TargetCsv({"output_path": str(tmp_path), "escape_character": "\\", "record_sort_property_name": "id",
                            "timestamp_timezone": "Etc/GMT-14"})
    assert csv_target.settings == CsvSettings.from_config(csv_target.config)
    assert csv_target.make_sink(schema).settings is csv_target.settings
    jsonl_target = TargetJsonl({"destination_path": str(tmp_path), "custom_name": "all"})
    assert jsonl_target.settings == JsonlSettings.from_config(jsonl_target.config)
    assert jsonl_target.make_sink(schema).settings is jsonl_target.settings
    assert jsonl_target.file_path("users") == tmp_path / "all.jsonl"


@pytest.mark.parametrize("target", [TargetCsv, TargetJsonl])
def test_stream_maps_are_declared_and_applied_and_an_invalid_map_is_a_config_error(target: type[Any]) -> None:
    assert {"stream_maps", "stream_map_config", "flattening_enabled", "flattening_max_depth"} <= set(
        target.settings_schema["properties"])
    assert target({"stream_maps": {}}).stream_maps is None  # empty: nothing asked for, the unmapped path
    assert target({"stream_maps": {"users": {"name": None}}}).stream_maps is not None
    with pytest.raises(ConfigError):
        target({"stream_maps": {"users": {"name": "len(("}}})


def test_the_file_targets_read_no_setting_from_the_config_mapping() -> None:
    """Settings are read by name only where each settings object is built (``setting`` and
    ``build_settings`` in the settings modules), never by ``config.get(name, default)``."""
    reads = re.compile(r"config\s*(\.get\(|\[)")
    for package in ("csv", "jsonl", "files"):
        for path in sorted((ROOT / "targets" / package).glob("*.py")):
            assert not reads.search(path.read_text()), f"{path.relative_to(ROOT)} reads the config mapping"
