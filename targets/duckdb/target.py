"""target-duckdb: loads Singer streams into a DuckDB database file.

Accepts the settings of the Meltano Hub default variant of target-duckdb (``path`` or
``filepath``, ``default_target_schema``, ``add_metadata_columns``, ``hard_delete``,
``data_flattening_max_level``, ``primary_key_required``, ``validate_records``, ``temp_dir``,
``batch_size_rows``, ...); those that mean nothing here say so in ``--about``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from protocol import ConfigError, SchemaMessage, Sink, target_main
from targets.duckdb.connection import load_duckdb
from targets.duckdb.instance import open_ahead
from targets.duckdb.loader import DuckDBLoader
from targets.duckdb.settings import NUMBER_TYPES, SETTINGS, DuckDBSettings, translated_config
from targets.sql.dialect import Loader
from targets.sql.sink import SQLTarget

__all__ = ["DuckDBTarget", "main"]

class DuckDBTarget(SQLTarget):
    name: ClassVar[str] = "target-duckdb"
    description: ClassVar[str] = (
        "Load Singer streams into a DuckDB database file: each chunk read by DuckDB's own JSON or CSV reader, "
        "upserted by key, one transaction per batch."
    )
    loader_class: ClassVar[type[Loader]] = DuckDBLoader
    settings_schema: ClassVar[dict[str, Any]] = SETTINGS
    capabilities: ClassVar[list[str]] = [*SQLTarget.capabilities, "target-schema"]
    settings: DuckDBSettings

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(translated_config(config))
        self.settings = DuckDBSettings.from_config(self.config)
        open_ahead(load_duckdb())  # a missing extra: one line, before anything is read

    @classmethod
    def start_early(cls) -> None:
        try:
            open_ahead(load_duckdb())
        except ConfigError:
            return  # the constructor says what is missing

    def make_sink(self, schema: SchemaMessage) -> Sink:
        if self.settings.primary_key_required and not schema.key_properties:
            at = f"line {schema.line}: " if schema.line else ""
            raise ConfigError(f"{at}stream '{schema.stream}' has no key properties and primary_key_required is "
                              "true; set key properties in the tap's catalog or primary_key_required false")
        return super().make_sink(schema)

    def destination(self) -> str:
        return f"DuckDB {Path(self.settings.path).resolve()}, schema {self.settings.default_target_schema}"

    def open_loader(self) -> Loader:
        s = self.settings
        return DuckDBLoader(s.path, s.default_target_schema, number_type=NUMBER_TYPES[s.number_type],
                            temp_dir=s.temp_dir, chunk_size=s.batch_size_bytes)


main = target_main(DuckDBTarget)
