"""Config from ``ENV`` and files at their edges: every word a boolean accepts, numbers, JSON and
comma lists, names with dashes, empty and unreadable files, secrets at any depth, the path an
error names (mutants of protocol/_config.py that the older tests let through; see tests/mutation/)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from protocol import ConfigError, load_config
from protocol._config import RedactingFilter, read_json_file, secret_values

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "flag": {"type": "boolean"},
        "maybe": {"type": ["boolean", "null"]},
        "ratio": {"type": "number"},
        "count": {"type": "integer"},
        "names": {"type": "array", "items": {"type": "string"}},
        "opts": {"type": "object"},
        "plain": {},
        "odd-name": {"type": "string"},
    },
}


def _env(**values: str) -> dict[str, Any]:
    environ = {f"TAP_X_{k.upper()}": v for k, v in values.items()}
    return load_config(["ENV"], connector_name="tap-x", settings_schema=SCHEMA, environ=environ)


@pytest.mark.parametrize("word", ["1", "true", "TRUE", "yes", "Yes", "on", "ON", " on "])
def test_true_words(word: str) -> None:
    assert _env(flag=word) == {"flag": True}


@pytest.mark.parametrize("word", ["0", "false", "False", "no", "NO", "off", "Off", ""])
def test_false_words(word: str) -> None:
    assert _env(flag=word) == {"flag": False}


def test_a_word_that_is_no_boolean_is_reported_not_guessed() -> None:
    with pytest.raises(ConfigError) as err:
        _env(flag="maybe")
    assert "flag" in str(err.value.problems) and "boolean" in str(err.value.problems)


def test_numbers_integers_and_text() -> None:
    assert _env(ratio="2.5", count="7", plain="07") == {"ratio": 2.5, "count": 7, "plain": "07"}
    with pytest.raises(ConfigError):
        _env(ratio="fast")


def test_arrays_and_objects_from_json_or_a_comma_list() -> None:
    assert _env(names='  ["a", "b"]') == {"names": ["a", "b"]}
    assert _env(names="a, b,,c ") == {"names": ["a", "b", "c"]}
    assert _env(opts=' {"k": 1}') == {"opts": {"k": 1}}
    with pytest.raises(ConfigError, match="TAP_X_OPTS is not valid JSON"):
        _env(opts="{broken")
    with pytest.raises(ConfigError, match="TAP_X_NAMES is not valid JSON"):
        _env(names="[1,")


def test_a_setting_with_a_dash_is_read_from_an_underscore_name() -> None:
    environ = {"TAP_X_ODD_NAME": "v", "TAP_X_ODD-NAME": "wrong"}
    assert load_config(["ENV"], connector_name="tap-x", settings_schema=SCHEMA, environ=environ) == {"odd-name": "v"}


def test_an_empty_config_file_is_an_empty_object(tmp_path: Path) -> None:
    empty = tmp_path / "c.json"
    empty.write_text("  \n")
    assert read_json_file(empty, "config") == {}
    empty.write_text("[]")
    assert read_json_file(empty, "config") == []


def test_a_directory_as_config_file_names_the_file_and_the_reason(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read config file .*: Is a directory"):
        read_json_file(tmp_path, "config")


def test_env_between_files_keeps_the_later_files(tmp_path: Path) -> None:
    first, last = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text('{"count": 1, "plain": "a"}')
    last.write_text('{"plain": "b"}')
    config = load_config([str(first), "ENV", str(last)], connector_name="tap-x", settings_schema=SCHEMA,
                         environ={"TAP_X_COUNT": "2", "TAP_X_PLAIN": "env"})
    assert config == {"count": 2, "plain": "b"}


SECRET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "api_keys": {"type": "object", "additionalProperties": {"type": "string", "secret": True}},
        "streams": {"type": "array", "items": {"type": "object", "properties": {
            "token": {"type": "string", "writeOnly": True}, "name": {"type": "string"}}}},
        "password": {"type": "string", "secret": True},
        "visible": {"type": "boolean"},
    },
}


def test_secrets_in_maps_lists_and_nested_objects_and_nothing_else() -> None:
    config = {"api_keys": {"a": "key-one", "b": "key-two"}, "streams": [{"token": "tok-1", "name": "n1"}],
              "password": "", "visible": True}
    assert sorted(secret_values(config, SECRET_SCHEMA)) == ["key-one", "key-two", "tok-1"]


def test_a_secret_in_an_invalid_config_is_hidden_and_the_path_joined_with_slashes(tmp_path: Path) -> None:
    schema = {**SECRET_SCHEMA, "properties": {**SECRET_SCHEMA["properties"],
                                              "password": {"type": "string", "secret": True, "minLength": 99}}}
    path = tmp_path / "c.json"
    path.write_text('{"streams": [{"token": "hunter22", "name": 5}], "password": "hunter22"}')
    with pytest.raises(ConfigError) as err:
        load_config([str(path)], connector_name="tap-x", settings_schema=schema, environ={})
    problems = err.value.problems
    assert any(p.startswith("setting 'streams/0/name'") for p in problems), problems
    assert all("hunter22" not in p for p in problems), problems
    assert len(problems) == 2, problems  # every problem, not the first


def test_the_redacting_filter_ignores_secrets_shorter_than_three_characters() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "pw %s and %s", ("ab", "abc"), None)
    assert RedactingFilter(["ab", "abc"]).filter(record)
    assert record.getMessage() == "pw ab and ********"


def test_a_config_file_that_is_no_object_is_named(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text("[1, 2]")
    with pytest.raises(ConfigError, match=r"^config file .*c\.json must hold a JSON object$"):
        load_config([str(path)], connector_name="tap-x", settings_schema=SCHEMA, environ={})


def test_a_missing_required_setting_is_reported_without_an_empty_path() -> None:
    schema = {**SCHEMA, "required": ["count"]}
    with pytest.raises(ConfigError) as err:
        load_config([], connector_name="tap-x", settings_schema=schema, environ={})
    assert str(err.value).startswith("invalid config")
    assert err.value.problems == ["'count' is a required property"]
