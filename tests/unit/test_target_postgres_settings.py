"""target-postgres's frozen settings: built once from the validated config, defaults taken from
the schema (stated nowhere else), and every field a declared setting."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from targets.postgres.settings import SETTINGS, PostgresSettings
from targets.postgres.target import PostgresTarget
from tests.conftest import validated_config

CONNECTION = {"host": "db.example", "user": "u", "database": "d"}


def test_every_field_is_a_declared_setting() -> None:
    fields = {f.name for f in dataclasses.fields(PostgresSettings)}
    assert fields <= set(SETTINGS["properties"])
    assert {"load_method", "batch_size_bytes", "default_target_schema", "connection_retries"} <= fields
    assert PostgresTarget.settings_schema["properties"]["load_method"] is SETTINGS["properties"]["load_method"]


@pytest.mark.parametrize("config", [{}, dict.fromkeys(("load_method", "add_record_metadata", "activate_version",
                                                       "hard_delete", "batch_size_bytes", "table_prefix",
                                                       "table_names", "adopt_existing_tables",
                                                       "default_target_schema", "connection_retries"))])
def test_unset_settings_take_the_schema_defaults(config: dict[str, Any]) -> None:
    expected = PostgresSettings(load_method="upsert", add_record_metadata=False, activate_version=True,
                                hard_delete=False, batch_size_bytes=None, table_prefix="", table_names={},
                                adopt_existing_tables=False, validate_records=True, default_target_schema="public",
                                connection_retries=5)
    built = PostgresSettings.from_config(config)
    assert built == expected
    # and the oracle of the schema itself: each field's value is its setting's default there
    for field in dataclasses.fields(PostgresSettings):
        declared = SETTINGS["properties"][field.name]
        assert getattr(built, field.name) == declared.get("default", {} if field.name == "table_names" else None)


def test_set_settings_are_kept_and_frozen() -> None:
    settings = PostgresSettings.from_config({"load_method": "overwrite", "batch_size_bytes": 4096,
                                             "table_names": {"a-b": "t"}, "table_prefix": "p_",
                                             "default_target_schema": "raw", "connection_retries": 0})
    assert (settings.load_method, settings.batch_size_bytes, settings.default_target_schema,
            settings.connection_retries) == ("overwrite", 4096, "raw", 0)
    assert settings.table_name("a-b") == "t" and settings.table_name("public-users") == "p_users"
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.load_method = "upsert"  # type: ignore[misc]
    with pytest.raises(TypeError):
        settings.table_names["x"] = "y"  # type: ignore[index]


def test_the_target_reads_the_validated_config_once(tmp_path: Path) -> None:
    target = PostgresTarget(validated_config(tmp_path, PostgresTarget, '{"host": "db.example", "user": "u", '
                                             '"database": "d", "hard_delete": true, "default_target_schema": "raw"}'))
    assert target.settings.hard_delete is True and target.settings.default_target_schema == "raw"
    assert target.settings.load_method == "upsert"
    assert "schema raw" in target.destination()
