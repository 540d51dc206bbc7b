"""Config merging, ENV settings, every problem listed at once, secrets never shown; bookmarks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from protocol import Bookmarks, ConfigError, load_config
from protocol._config import RedactingFilter

SCHEMA = {
    "type": "object",
    "required": ["host", "port"],
    "properties": {
        "host": {"type": "string"},
        "port": {"type": "integer"},
        "password": {"type": "string", "secret": True},
        "tables": {"type": "array", "items": {"type": "string"}},
        "ssl": {"type": "boolean", "default": False},
    },
}


def write(tmp_path: Path, name: str, data: object) -> str:
    p = tmp_path / name
    p.write_text(json.dumps(data))
    return str(p)


def test_files_merge_left_to_right_with_defaults(tmp_path: Path) -> None:
    a = write(tmp_path, "a.json", {"host": "a", "port": 1})
    b = write(tmp_path, "b.json", {"port": 2})
    cfg = load_config([a, b], connector_name="tap-x", settings_schema=SCHEMA, environ={})
    assert cfg == {"host": "a", "port": 2, "ssl": False}


def test_env_settings_are_typed(tmp_path: Path) -> None:
    env = {"TAP_X_HOST": "h", "TAP_X_PORT": "5432", "TAP_X_TABLES": "a, b", "TAP_X_SSL": "true", "OTHER": "1"}
    cfg = load_config(["ENV"], connector_name="tap-x", settings_schema=SCHEMA, environ=env)
    assert cfg == {"host": "h", "port": 5432, "tables": ["a", "b"], "ssl": True}
    env["TAP_X_TABLES"] = '["x"]'
    assert load_config(["ENV"], connector_name="tap-x", settings_schema=SCHEMA, environ=env)["tables"] == ["x"]


def test_all_problems_reported_together_and_secret_hidden(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.json", {"port": "not-a-port", "password": 12345678, "tables": "x"})
    with pytest.raises(ConfigError) as info:
        load_config([bad], connector_name="tap-x", settings_schema=SCHEMA, environ={})
    err = info.value
    assert err.exit_code == 2
    assert len(err.problems) == 4  # host missing, port type, password type, tables type
    assert "'host' is a required property" in str(err)
    assert "12345678" not in str(err)


def test_missing_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config([str(tmp_path / "nope.json")], connector_name="t", settings_schema=SCHEMA, environ={})
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config([str(broken)], connector_name="t", settings_schema=SCHEMA, environ={})


def test_redacting_filter() -> None:
    import logging

    record = logging.LogRecord("x", logging.INFO, __file__, 1, "connecting with %s", ("pw=s3cret!",), None)
    RedactingFilter(["s3cret!"]).filter(record)
    assert record.getMessage() == "connecting with pw=********"


def test_bookmarks_advance_never_backwards() -> None:
    b = Bookmarks({"bookmarks": {"users": {"replication_key": "updated_at", "replication_key_value": "2024-02"}}})
    b.advance("users", "updated_at", "2024-01")
    assert b.replication_value("users") == "2024-02"
    b.advance("users", "updated_at", "2024-03")
    b.advance("orders", "id", 5)
    assert b.to_value() == {"bookmarks": {
        "users": {"replication_key": "updated_at", "replication_key_value": "2024-03"},
        "orders": {"replication_key": "id", "replication_key_value": 5},
    }}
    b.clear("orders")
    assert b.streams() == ["users"]


def test_bookmarks_copy_input() -> None:
    value = {"bookmarks": {"a": {"x": 1}}}
    b = Bookmarks(value)
    b.set("a", "x", 2)
    assert value["bookmarks"]["a"]["x"] == 1


def test_a_format_only_the_quick_check_enforces_is_still_reported(tmp_path: Path) -> None:
    schema = {"type": "object", "properties": {"url": {"type": "string", "format": "uri"},
                                               "token": {"type": "string", "secret": True}}}
    bad = write(tmp_path, "bad.json", {"url": "not a uri", "token": "tok-secret-1"})
    with pytest.raises(ConfigError) as info:
        load_config([bad], connector_name="tap-x", settings_schema=schema, environ={})
    assert info.value.problems == ["setting 'url': data.url must be uri"]


def test_secrets_are_found_at_any_depth() -> None:
    from protocol._config import secret_values

    schema = {"type": "object", "properties": {
        "password": {"type": "string", "secret": True},
        "api_keys": {"type": "object", "additionalProperties": {"type": "string"}, "secret": True},
        "streams": {"type": "array", "items": {"type": "object", "properties": {
            "name": {"type": "string"}, "bearer_token": {"type": "string", "writeOnly": True}}}},
        "flag": {"type": "boolean", "secret": True},
        "host": {"type": "string"},
    }}
    config = {"password": "pw-1", "api_keys": {"X-Key": "key-2"}, "host": "db.example",
              "streams": [{"name": "a", "bearer_token": "tok-3"}, {"name": "b"}], "flag": True}
    assert secret_values(config, schema) == ["pw-1", "key-2", "tok-3"]  # never a plain value, never a boolean


def test_redacting_filter_hides_the_longest_secret_first_and_tracebacks_too() -> None:
    """A secret inside a longer one (a client secret beginning a refresh token) replaced first left
    the rest of the longer one readable; a traceback logged with exc_info was not redacted at all."""
    import logging
    import sys

    secrets = ["cs_4242", "cs_4242.RT-9f8e7d6c5b4a"]
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "invalid grant for %s", (secrets[1],), None)
    RedactingFilter(secrets).filter(record)
    assert record.getMessage() == "invalid grant for ********"
    try:
        raise RuntimeError("bad token " + secrets[0])
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    RedactingFilter(secrets).filter(record)
    text = logging.Formatter().format(record)
    assert "RuntimeError: bad token ********" in text and "cs_4242" not in text
