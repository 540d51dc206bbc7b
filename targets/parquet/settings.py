"""target-parquet's settings: their schema (what ``--about`` publishes and the config is validated
against) and the one frozen object the target and its sinks read them from, built once from the
validated config. Defaults are stated once, in the schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from protocol import ConfigError, build_settings, setting
from targets.files.settings import directory

__all__ = ["COMPRESSIONS", "LOAD_DATE_KEY", "SETTINGS", "ParquetSettings"]

COMPRESSIONS = ("snappy", "zstd", "gzip", "none")
#: the directory key of load-date partitions (not ``_sdc_...``: pyarrow skips names starting with '_')
LOAD_DATE_KEY = "load_date"

SETTINGS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "destination_path": {
            "type": "string",
            "default": "",
            "description": "Directory of the output, created if missing; each stream's file sets go to "
                           "<destination_path>/<stream>/v<N>/. Empty: the current directory.",
        },
        "partition_by": {
            "type": ["string", "object"],
            "additionalProperties": {"type": "string", "minLength": 1},
            "description": "Hive-style partitioning by a record field: a field name for every stream that has "
                           "it, or an object of stream name -> field name ('*' for the other streams). A "
                           "partition directory is <field>=<value> (the value percent-encoded, null as "
                           "__HIVE_DEFAULT_PARTITION__) and the field is left out of the files, as hive "
                           "readers expect; a date-time field partitions by its UTC date, <field>_date="
                           "YYYY-MM-DD, and stays in the files. The field's name is the directory's as it "
                           "is: one holding '/', '\\', '=', '%' or NUL, or '.' or '..', is refused. A value "
                           "whose directory name passes the file system's limit (255 bytes; each byte of a non-ASCII "
                           "character is written as 3) fails the run naming it: partition by a shorter field.",
        },
        "partition_by_load_date": {
            "type": "boolean",
            "default": False,
            "description": f"Add a {LOAD_DATE_KEY}=YYYY-MM-DD directory level (the run's start, UTC) above any "
                           "field partition.",
        },
        "compression": {
            "type": "string",
            "enum": list(COMPRESSIONS),
            "default": "snappy",
            "description": "Parquet compression codec of every column.",
        },
        "compression_level": {
            "type": "integer",
            "description": "Codec level (zstd 1-22, gzip 1-9); unset: the codec's default.",
        },
        "row_group_rows": {
            "type": "integer",
            "minimum": 1,
            "default": 131072,
            "description": "Rows per Parquet row group at most.",
        },
        "max_rows_per_file": {
            "type": "integer",
            "minimum": 0,
            "default": 0,
            "description": "Rows per file at most: a commit with more rows for one partition writes several "
                           "files. 0: no limit (one file per partition and commit).",
        },
        "decimals": {
            "type": "string",
            "enum": ["multipleOf", "always", "never"],
            "default": "multipleOf",
            "description": "Which 'number' properties become exact decimal128(38, scale) columns: multipleOf: "
                           "those whose schema has a multipleOf that is a power of ten (0.01 gives scale 2), "
                           "the others float64; always: every number (scale decimal_scale); never: float64 "
                           "for all. Strings of format singer.decimal are always decimals.",
        },
        "decimal_scale": {
            "type": "integer",
            "minimum": 0,
            "maximum": 38,
            "default": 9,
            "description": "Digits after the point of decimal columns without a multipleOf. A value with more "
                           "stops the run with an error line (never rounded).",
        },
        "integers": {
            "type": "string",
            "enum": ["int64", "decimal"],
            "default": "int64",
            "description": "int64: integer properties are int64 (a value beyond int64 stops the run with an "
                           "error line naming it), except those whose schema minimum/maximum reach beyond "
                           "int64, which are decimal128(38, 0); decimal: every integer is decimal128(38, 0) "
                           "(up to 38 digits, exact).",
        },
        "objects_as": {
            "type": "string",
            "enum": ["struct", "json"],
            "default": "struct",
            "description": "Objects with declared properties as Parquet structs, or as JSON text. Free-form "
                           "objects (no properties), and objects holding one, are always JSON text.",
        },
        "arrays_as": {
            "type": "string",
            "enum": ["list", "json"],
            "default": "list",
            "description": "Arrays with typed items as Parquet lists, or as JSON text. Arrays of untyped or "
                           "mixed items are always JSON text.",
        },
        "batch_size_rows": {
            "type": "integer",
            "minimum": 1,
            "default": 500000,
            "description": "Records per stream held in memory before they are written out and committed "
                           "(new files) when no STATE asks for it sooner.",
        },
        "validate_records": {
            "type": "boolean",
            "default": True,
            "description": "Check every record against its stream's schema; a bad record stops the run with "
                           "one error line naming the line, the stream and the field.",
        },
        "state_flush_seconds": {
            "type": "number",
            "minimum": 0,
            "default": 30.0,
            "description": "A STATE is held at most this long before the records it covers are written out as "
                           "new files and it is emitted. Each commit writes new files: larger values mean "
                           "fewer, larger files.",
        },
    },
}


@dataclass(frozen=True)
class ParquetSettings:
    """What target-parquet reads (``batch_size_rows``, ``validate_records``, ``state_flush_seconds``:
    the kit's)."""

    output_dir: Path
    partitions: Mapping[str, str]  # stream (or '*') -> field; empty: no field partitions
    partition_by_load_date: bool
    compression: str
    compression_level: int | None
    row_group_rows: int
    max_rows_per_file: int
    decimals: str
    decimal_scale: int
    integers: str
    objects_as: str
    arrays_as: str
    validate_records: bool

    def partition_field(self, stream: str) -> str | None:
        return self.partitions.get(stream) or self.partitions.get("*")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ParquetSettings:
        raw = setting(SETTINGS, config, "partition_by")
        if isinstance(raw, str):
            if not raw:
                raise ConfigError("invalid config", ["setting 'partition_by': empty field name"])
            partitions: dict[str, str] = {"*": raw}
        else:
            partitions = dict(raw or {})
        bad = [f"setting 'partition_by': field {name!r} cannot name a directory (<field>=<value>): a partition "
               "field's name may not hold '/', '\\', '=', '%' or a NUL, nor be '.' or '..'"
               for name in partitions.values() if not _segment(name)]
        if bad:
            raise ConfigError("invalid config", bad)
        level = setting(SETTINGS, config, "compression_level")
        return build_settings(cls, SETTINGS, config,
                              output_dir=directory(setting(SETTINGS, config, "destination_path")),
                              partitions=MappingProxyType(partitions), compression_level=level)


def _segment(name: str) -> bool:
    """Whether a field's name is a directory's name as it is: the directory is ``<field>=<value>``
    (only the value is percent-encoded), so a name with a separator wrote files outside the stream's
    file set (``../x``) or outside destination_path (``../../../escaped``), where no reader looks."""
    return not any(c in name for c in "/\\=%\x00") and name not in (".", "..")
