"""target-duckdb's settings: their schema (what ``--about`` publishes and the config is validated
against) and the one frozen object the target and its sinks read them from, built once from the
validated config. Defaults are stated once, in the schema.

Every setting of the Meltano Hub default variant of target-duckdb is accepted under its own
name; the ones that mean nothing here say so in their description (they change nothing).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from protocol import ConfigError
from targets.sql.settings import COMMON_SETTINGS, SQLSettings

__all__ = ["NUMBER_TYPES", "SETTINGS", "DuckDBSettings", "translated_config"]

#: number_type -> the DuckDB type of number columns
NUMBER_TYPES = {"decimal": "DECIMAL(38,18)", "double": "DOUBLE", "text": "VARCHAR"}

_NO_OP = " Accepted for compatibility with other DuckDB targets; changes nothing here"

SETTINGS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "path": {"type": "string", "description": "Path of the DuckDB database file (created if missing)."},
        "filepath": {"type": "string", "description": "Alias of 'path'."},
        "database": {"type": "string", "description": "Alias of 'dbname'." + _NO_OP + "."},
        "dbname": {"type": "string", "description": "The database (catalog) name." + _NO_OP + ": the tables "
                   "are loaded into the database of 'path', whatever its name."},
        "token": {"type": "string", "secret": True, "description": "MotherDuck token." + _NO_OP + ": MotherDuck "
                  "(md: paths) is not supported; 'path' is a local file."},
        "delimiter": {"type": "string", "description": "Delimiter of the temporary CSV files." + _NO_OP + ": the "
                      "temporary files are internal to the target."},
        "quotechar": {"type": "string", "description": "Quote character of the temporary CSV files." + _NO_OP +
                      ": the temporary files are internal to the target."},
        "default_target_schema": {"type": "string", "default": "main",
                                  "description": "Schema to load into (created if missing)."},
        "schema_mapping": {"type": "object", "description": "Schema per source schema of <schema>-<table> "
                           "streams." + _NO_OP + ": every table goes into default_target_schema (map table names "
                           "with table_names)."},
        "add_metadata_columns": {"type": "boolean", "description": "Alias of 'add_record_metadata' (used when "
                                 "that is not set)."},
        "flush_all_streams": {"type": "boolean", "default": False, "description": "Flush every stream when one "
                              "batch is full." + _NO_OP + ": every stream is always flushed and committed "
                              "together, before each STATE is emitted."},
        "data_flattening_max_level": {"type": "integer", "minimum": 0, "default": 0,
                                      "description": "Flatten nested objects into columns up to this many "
                                                     "levels (0: off). Sets flattening_enabled and "
                                                     "flattening_max_depth when those are not set."},
        "primary_key_required": {"type": "boolean", "default": False,
                                 "description": "Fail the run (naming the SCHEMA line) when a stream has no key "
                                                "properties. Default false: such streams are appended."},
        "temp_dir": {"type": "string", "description": "Directory of the temporary CSV chunk files DuckDB "
                     "reads (default: the system's temporary directory)."},
        "number_type": {"type": "string", "enum": list(NUMBER_TYPES), "default": "decimal",
                        "description": "Column type of JSON Schema numbers. decimal: DECIMAL(38,18), exact for "
                                       "up to 20 integer and 18 fractional digits (a value with more integer "
                                       "digits fails the run, more fractional digits are rounded to 18). double: "
                                       "DOUBLE (binary floating point). text: VARCHAR holding the exact decimal "
                                       "text, never rounded."},
        **COMMON_SETTINGS,
        # a DuckDB commit writes out what the loads have not (each table's last, partial row group,
        # compressed; the key index) while the target waits: fewer commits by count;
        # state_flush_seconds still commits a held STATE every second
        "batch_size_rows": {**COMMON_SETTINGS["batch_size_rows"], "default": 1_000_000,
                            "description": COMMON_SETTINGS["batch_size_rows"]["description"] + " Each DuckDB "
                            "commit writes out, compressed, what the loads before it have not (each table's "
                            "last, partial row group, and its key index) while the target waits, hence the "
                            "high default; state_flush_seconds still commits a held STATE once it is that "
                            "old."},
        "batch_size_bytes": {**COMMON_SETTINGS["batch_size_bytes"], "description": COMMON_SETTINGS[
            "batch_size_bytes"]["description"] + " Default 8 MiB: DuckDB loads each chunk while the next "
            "is read; the last chunk's load is what the run waits for at its end."},
        "hard_delete": {**COMMON_SETTINGS["hard_delete"], "description": COMMON_SETTINGS["hard_delete"]["description"]
                        + " A record that carries _sdc_deleted_at (log-based change capture) is loaded with it, "
                        "not deleted, whatever this setting."},
        # no default here: when it is not set, add_metadata_columns decides (translated_config)
        "add_record_metadata": {key: value for key, value in COMMON_SETTINGS["add_record_metadata"].items()
                                if key != "default"} | {
            "description": COMMON_SETTINGS["add_record_metadata"]["description"] + " Default: "
                           "add_metadata_columns, else false."},
    },
}


def translated_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The config with the other variant's names turned into ours: add_metadata_columns ->
    add_record_metadata, data_flattening_max_level -> the kit's flattening settings."""
    out = dict(config)
    if out.get("add_record_metadata") is None:
        out["add_record_metadata"] = bool(out.get("add_metadata_columns", False))
    level = out.get("data_flattening_max_level") or 0
    if level > 0 and not out.get("flattening_enabled"):
        out["flattening_enabled"] = True
        if not out.get("flattening_max_depth"):
            out["flattening_max_depth"] = level
    return out


@dataclass(frozen=True)
class DuckDBSettings(SQLSettings):
    """The SQL core's settings and target-duckdb's own."""

    path: str  # the setting 'path', or its alias 'filepath'
    default_target_schema: str
    primary_key_required: bool
    temp_dir: str | None
    number_type: str

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> DuckDBSettings:
        path = config.get("path") or config.get("filepath")
        if not path:
            raise ConfigError("invalid config", ["setting 'path': the DuckDB file path is required"])
        return cls.build(SETTINGS, config, path=str(path))
