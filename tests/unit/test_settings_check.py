"""Unknown settings: the walk over config and settings schema, and load_config's strict mode."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from protocol import ConfigError, load_config
from protocol._settings_check import QUIET_SETTINGS, unknown_settings, with_kit_settings

ITEM = {
    "type": "object",
    "properties": {
        "path": {"type": "string"},
        "delimiter": {"type": "string"},
        "types": {"type": "object", "additionalProperties": {"type": "string"}},
        "schema": {"type": "object", "properties": {"properties": {"type": "object"}}, "additionalProperties": True},
        "options": {"type": "object", "properties": {"header": {"type": "boolean"}}},
        "pagination": {"type": "object", "properties": {"style": {"type": "string"}}, "additionalProperties": False},
    },
}
SCHEMA = with_kit_settings({
    "type": "object",
    "properties": {
        "files": {"type": "array", "items": ITEM},
        "destination_path": {"type": "string"},
        "batch_size_rows": {"type": "integer"},
        "stream_maps": {"type": "object"},
        "extra": {"type": "object"},  # no properties: free-form, never walked
    },
})


def found(config: dict[str, Any], **kw: Any) -> list[tuple[str, str | None]]:
    return [(u.path, u.suggestion) for u in unknown_settings(config, SCHEMA, **kw)]


def test_top_level_typo_names_the_closest_key() -> None:
    assert found({"destination_pth": "out", "batch_size_row": 5}) == [
        ("destination_pth", "destination_path"), ("batch_size_row", "batch_size_rows")]


def test_nested_keys_in_arrays_and_objects_are_walked_with_their_path() -> None:
    config = {"files": [{"path": "a"}, {"path": "b", "delimeter": ";", "options": {"headr": True}}]}
    assert found(config) == [("files[1].delimeter", "delimiter"), ("files[1].options.headr", "header")]


def test_no_suggestion_when_nothing_is_close() -> None:
    assert found({"zzzz": 1}) == [("zzzz", None)]


def test_levels_that_allow_extras_are_quiet() -> None:
    config = {"extra": {"anything": 1},
              "files": [{"path": "a", "types": {"col": "integer"},
                         "schema": {"type": "object", "properties": {}, "required": []}}]}
    assert found(config) == []


def test_additional_properties_false_marks_the_key_forbidden() -> None:
    [unknown] = unknown_settings({"files": [{"path": "a", "pagination": {"styel": "x"}}]}, SCHEMA)
    assert (unknown.path, unknown.suggestion, unknown.forbidden) == ("files[0].pagination.styel", "style", True)


def test_sdk_and_meltano_keys_are_quiet_at_the_top_level_only() -> None:
    quiet = {key: None for key in QUIET_SETTINGS}
    assert found(quiet) == []
    assert found({"files": [{"path": "a", "flattening_enabled": True}]}) == [("files[0].flattening_enabled", None)]


def test_top_level_only_for_connectors_not_built_on_the_kit() -> None:
    assert found({"files": [{"path": "a", "delimeter": ";"}], "destination_pth": "x"}, nested=False) == [
        ("destination_pth", "destination_path")]


def test_kit_settings_join_every_schema_without_replacing_a_declared_one() -> None:
    assert SCHEMA["properties"]["strict_settings"]["default"] is False
    own = {"type": "boolean", "description": "mine"}
    assert with_kit_settings({"properties": {"strict_settings": own}})["properties"]["strict_settings"] is own


def _write(tmp_path: Path, config: dict[str, Any]) -> str:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return str(path)


def test_load_config_warns_once_per_unknown_key(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    source = _write(tmp_path, {"files": [{"path": "a", "delimeter": ";"}], "destination_pth": "x"})
    config = load_config([source], connector_name="tap-x", settings_schema=SCHEMA, environ={})
    assert config["destination_pth"] == "x"  # kept: a warning, not a rewrite
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "unknown setting 'files[0].delimeter' (did you mean 'delimiter'?); it is ignored "
        "(set strict_settings to make this an error)",
        "unknown setting 'destination_pth' (did you mean 'destination_path'?); it is ignored "
        "(set strict_settings to make this an error)",
    ]


def test_strict_settings_lists_every_unknown_key_with_the_other_problems(tmp_path: Path) -> None:
    source = _write(tmp_path, {"strict_settings": True, "files": [{"path": "a", "delimeter": ";"}],
                               "destination_pth": "x", "batch_size_rows": "many"})
    with pytest.raises(ConfigError) as err:
        load_config([source], connector_name="tap-x", settings_schema=SCHEMA, environ={})
    assert err.value.problems == [
        "setting 'batch_size_rows': 'many' is not of type 'integer'",
        "unknown setting 'files[0].delimeter' (did you mean 'delimiter'?)",
        "unknown setting 'destination_pth' (did you mean 'destination_path'?)",
    ]
    assert err.value.exit_code == 2


def test_strict_settings_from_the_environment(tmp_path: Path) -> None:
    source = _write(tmp_path, {"destination_pth": "x"})
    with pytest.raises(ConfigError, match="destination_pth"):
        load_config([source, "ENV"], connector_name="tap-x", settings_schema=SCHEMA,
                    environ={"TAP_X_STRICT_SETTINGS": "true"})


def test_forbidden_key_is_an_error_without_strict_and_named_once(tmp_path: Path) -> None:
    source = _write(tmp_path, {"files": [{"path": "a", "pagination": {"styel": "x"}}]})
    with pytest.raises(ConfigError) as err:
        load_config([source], connector_name="tap-x", settings_schema=SCHEMA, environ={})
    assert err.value.problems == ["unknown setting 'files[0].pagination.styel' (did you mean 'style'?)"]


def test_map_settings_are_declared_by_the_kit_and_warned_about_where_not_declared(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    asked = {"stream_maps": {"s": {"x": None}}, "flattening_enabled": True, "flattening_max_depth": 3,
             "faker_config": {"seed": 1}, "batch_config": {}}
    schema = with_kit_settings({"properties": {"path": {"type": "string"}}})
    assert {"stream_maps", "stream_map_config", "flattening_enabled", "flattening_max_depth"} <= set(
        schema["properties"])
    load_config([_write(tmp_path, asked)], connector_name="tap-x", settings_schema=schema, environ={})
    assert caplog.records == []  # declared: applied by the kit, nothing to warn about
    bare = {"properties": {"path": {"type": "string"}}}  # a connector not built on the kit
    load_config([_write(tmp_path, asked)], connector_name="tap-x", settings_schema=bare, environ={})
    assert [r.getMessage() for r in caplog.records] == [
        "setting 'flattening_enabled' is not declared by tap-x, which does not apply it; its value is ignored",
        "setting 'stream_maps' is not declared by tap-x, which does not apply it; its value is ignored"]
    caplog.clear()
    source = _write(tmp_path, {"stream_maps": {}, "flattening_enabled": False})
    load_config([source], connector_name="tap-x", settings_schema=bare, environ={})
    assert caplog.records == []


def test_a_schema_open_at_the_top_is_respected() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": True}
    assert unknown_settings({"b": 1}, schema) == unknown_settings({"b": 1}, schema, nested=False) == []


def test_values_of_a_map_are_walked_with_its_value_schema(tmp_path: Path) -> None:
    closed = {"type": "object", "properties": {"url": {"type": "string"}}, "additionalProperties": False}
    schema = {"type": "object", "properties": {"sources": {"type": "object", "additionalProperties": closed}}}
    assert [(u.path, u.suggestion, u.forbidden) for u in unknown_settings({"sources": {"a": {"ulr": "x"}}}, schema)
            ] == [("sources.a.ulr", "url", True)]
    source = _write(tmp_path, {"sources": {"a": {"ulr": "x"}}})  # the schema's own error, named once
    with pytest.raises(ConfigError) as err:
        load_config([source], connector_name="tap-x", settings_schema=schema, environ={})
    assert err.value.problems == ["unknown setting 'sources.a.ulr' (did you mean 'url'?)"]
