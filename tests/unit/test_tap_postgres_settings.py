"""tap-postgres's frozen settings: built once from the config, defaults taken from the schema
(stated nowhere else), and every setting it holds is declared in the schema."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from taps.postgres.settings import SETTINGS, TapSettings
from taps.postgres.tap import TapPostgres
from tests.conftest import validated_config


def test_every_setting_is_declared_in_the_schema() -> None:
    assert {f.name for f in dataclasses.fields(TapSettings)} <= set(SETTINGS["properties"])
    assert TapPostgres.settings_schema["properties"]["max_parallel_reads"] is SETTINGS["properties"][
        "max_parallel_reads"]


@pytest.mark.parametrize("config", [{}, {"filter_schemas": None, "replication_slot_name": None,
                                         "max_parallel_reads": None, "json_as_object": None,
                                         "default_replication_method": None, "publication_name": None}])
def test_unset_settings_take_the_schema_defaults(config: dict[str, Any]) -> None:
    assert TapSettings.from_config(config) == TapSettings(
        filter_schemas=None, default_replication_method="FULL_TABLE", replication_slot_name="tappostgres",
        publication_name="tappostgres", max_parallel_reads=3, json_as_object=False)


def test_set_settings_are_kept_and_the_publication_follows_the_slot() -> None:
    settings = TapSettings.from_config({"filter_schemas": ["a", "b"], "default_replication_method": "LOG_BASED",
                                        "replication_slot_name": "s1", "max_parallel_reads": 1,
                                        "json_as_object": True})
    assert settings == TapSettings(("a", "b"), "LOG_BASED", "s1", "s1", 1, True)
    assert TapSettings.from_config({"replication_slot_name": "s1", "publication_name": "p"}).publication_name == "p"
    assert TapSettings.from_config({"filter_schemas": []}).filter_schemas is None  # empty: every schema
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.max_parallel_reads = 2  # type: ignore[misc]


def test_the_tap_reads_the_validated_config_once(tmp_path: Path) -> None:
    tap = TapPostgres(validated_config(tmp_path, TapPostgres, '{"host": "h", "user": "u", "database": "d", '
                                                              '"max_parallel_reads": 5, "filter_schemas": ["x"]}'))
    assert tap.settings.max_parallel_reads == 5 and tap.schemas == ["x"]
    assert tap.settings is tap.settings
