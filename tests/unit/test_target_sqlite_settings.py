"""target-sqlite's frozen settings: built once from the validated config, defaults taken from
the schema (stated nowhere else), and every field a declared setting."""

from __future__ import annotations

import dataclasses

import pytest

from protocol import ConfigError
from targets.sqlite.settings import SETTINGS, SQLiteSettings
from targets.sqlite.target import SQLiteTarget


def test_every_field_is_a_declared_setting() -> None:
    fields = {f.name for f in dataclasses.fields(SQLiteSettings)}
    assert fields <= set(SETTINGS["properties"])
    assert {"load_method", "batch_size_bytes", "database"} <= fields
    assert SQLiteTarget.settings_schema["properties"]["batch_size_bytes"] is SETTINGS["properties"]["batch_size_bytes"]


def test_unset_settings_take_the_schema_defaults() -> None:
    built = SQLiteSettings.from_config({"database": "x.db", "load_method": None, "table_prefix": None})
    assert built == SQLiteSettings(load_method="upsert", add_record_metadata=False, activate_version=True,
                                   hard_delete=False, batch_size_bytes=None, table_prefix="", table_names={},
                                   adopt_existing_tables=False, validate_records=True, database="x.db")
    for field in dataclasses.fields(SQLiteSettings):
        if field.name not in ("database", "table_names"):
            assert getattr(built, field.name) == SETTINGS["properties"][field.name].get("default")


def test_the_database_is_required_and_path_is_its_alias() -> None:
    assert SQLiteSettings.from_config({"path": "p.db"}).database == "p.db"
    assert SQLiteSettings.from_config({"path": "p.db", "database": "d.db"}).database == "d.db"
    with pytest.raises(ConfigError, match="'database'"):
        SQLiteSettings.from_config({"load_method": "upsert"})


def test_the_target_holds_one_settings_object() -> None:
    target = SQLiteTarget({"database": "d.db", "batch_size_bytes": 2048, "load_method": "append-only"})
    assert target.settings.batch_size_bytes == 2048 and target.settings.load_method == "append-only"
    assert target.settings is target.settings
