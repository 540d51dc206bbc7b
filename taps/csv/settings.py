"""tap-csv's settings: their schema (what ``--about`` publishes and the config is validated
against) and the frozen objects the tap reads them from, built once from the validated config:
:class:`CsvSettings` for the whole config and a :class:`FileSpec` per ``files`` entry (or
``csv_files_definition`` entry), with the top-level defaults applied.

Setting names are those of MeltanoLabs tap-csv (``files``, ``csv_files_definition``,
``add_metadata_columns``) plus our additions: ``replication_key``, ``schema``, ``types``,
``glob``, ``sample_size``, ``infer_types`` and ``empty_as_null``. Defaults are stated once,
in the schemas; an entry's unset ``sample_size``, ``infer_types`` and ``empty_as_null`` are
the top-level ones.
"""

from __future__ import annotations

import codecs
import csv
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from protocol import ConfigError, build_settings, read_json_file, report_unknown, setting
from taps.csv.inference import TYPE_NAMES

__all__ = ["DIALECT_OPTIONS", "EMPTY_AS_NULL", "FILE_SCHEMA", "SETTINGS", "CsvSettings", "FileSpec", "file_specs"]

log = logging.getLogger("tap_csv")

# The csv.reader options a file entry may set, as MeltanoLabs tap-csv names them.
DIALECT_OPTIONS = ("delimiter", "quotechar", "doublequote", "escapechar", "skipinitialspace", "strict")

_ONE_CHAR = {"type": "string", "minLength": 1, "maxLength": 1}

FILE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["entity", "path"],
    "properties": {
        "entity": {"type": "string", "minLength": 1, "description": "The stream name (the table to load)."},
        "path": {"type": "string", "minLength": 1,
                 "description": "A CSV file, a directory (every *.csv and *.csv.gz under it) or a glob pattern."},
        "keys": {"type": "array", "items": {"type": "string"}, "default": [],
                 "description": "The columns that identify a row (key properties)."},
        "encoding": {"type": "string", "default": "utf-8", "description": "The text encoding of the files."},
        "delimiter": {**_ONE_CHAR, "default": ",", "description": "The field separator."},
        "quotechar": {**_ONE_CHAR, "default": '"', "description": "The quote character."},
        "doublequote": {"type": "boolean", "default": True,
                        "description": "A doubled quote character stands for one."},
        "escapechar": {**_ONE_CHAR, "description": "A character that removes the special meaning of the next one."},
        "skipinitialspace": {"type": "boolean", "default": False, "description": "Ignore spaces after a delimiter."},
        "strict": {"type": "boolean", "default": False, "description": "Fail on malformed quoting."},
        "replication_key": {"type": "string",
                            "description": "Sync incrementally: only rows whose value is at or after the bookmark."},
        "glob": {"type": "string",
                 "description": "A glob pattern matched under 'path' (a directory), e.g. '**/*.csv'."},
        "schema": {"type": "object", "required": ["properties"],
                   "properties": {"properties": {"type": "object",
                                                 "description": "The columns: name -> JSON Schema."}},
                   "additionalProperties": True,
                   "description": "The stream's JSON Schema; no inference."},
        "types": {"type": "object",
                  "additionalProperties": {"anyOf": [{"enum": list(TYPE_NAMES)}, {"type": "object"}]},
                  "description": "Per-column type overrides: a type name (" + ", ".join(TYPE_NAMES)
                  + ") or a JSON Schema."},
        "sample_size": {"type": "integer", "minimum": 0,
                        "description": "Rows sampled to infer this file's types (0: every row; default: the "
                                       "top-level sample_size)."},
        "infer_types": {"type": "boolean", "description": "Infer column types; false makes every column a string "
                                                          "(default: the top-level infer_types)."},
        "empty_as_null": {"type": "boolean", "description": "This file's empty cells are null in string columns too "
                                                            "(default: the top-level empty_as_null)."},
    },
}

EMPTY_AS_NULL = (
    'An empty cell (bare or quoted as "") of a string column is the empty string "", as MeltanoLabs tap-csv '
    "reads it; true makes it null. Empty cells of typed columns (integer, number, boolean, date, date-time) "
    "are always null.")

SETTINGS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "files": {"type": "array", "items": FILE_SCHEMA,
                  "description": "An array of csv file stream settings (csv_files_definition replaces it)."},
        "csv_files_definition": {
            "type": "string", "description": "A path to the JSON file holding an array of file settings."},
        "add_metadata_columns": {
            "type": "boolean", "default": False,
            "description": "When True, add the metadata columns (`_sdc_source_file`, `_sdc_source_file_mtime`, "
                           "`_sdc_source_lineno`) to output."},
        "sample_size": {"type": "integer", "minimum": 0, "default": 1000,
                        "description": "Rows sampled per stream to infer column types (0: every row)."},
        "infer_types": {"type": "boolean", "default": True,
                        "description": "Infer column types; false makes every column a nullable string."},
        "empty_as_null": {"type": "boolean", "default": False, "description": EMPTY_AS_NULL},
    },
}

_DEFINITION_SCHEMA: dict[str, Any] = {"properties": {"csv_files_definition": {"type": "array", "items": FILE_SCHEMA}}}
#: the settings of an entry whose default is the top-level setting of the same name
_INHERITED = ("sample_size", "infer_types", "empty_as_null")


@dataclass(frozen=True)
class FileSpec:
    """One entry of the ``files`` setting, checked and with defaults applied."""

    entity: str
    path: str
    keys: tuple[str, ...]
    replication_key: str | None
    glob: str | None
    encoding: str
    dialect: tuple[tuple[str, Any], ...]  # the csv.reader options (DIALECT_OPTIONS) that are set
    schema: dict[str, Any] | None
    types: tuple[tuple[str, Any], ...]
    sample_size: int
    infer_types: bool
    empty_as_null: bool

    @classmethod
    def from_config(cls, item: Mapping[str, Any], *, sample_size: int, infer_types: bool,
                    empty_as_null: bool) -> FileSpec:
        """The entry ``item``; ``sample_size``, ``infer_types`` and ``empty_as_null`` are the top-level values."""
        entity = setting(FILE_SCHEMA, item, "entity")
        options = ((k, setting(FILE_SCHEMA, item, k)) for k in DIALECT_OPTIONS)
        dialect = tuple((k, v) for k, v in options if v is not None)
        try:
            csv.reader([], **dict(dialect))
        except (TypeError, csv.Error) as exc:
            raise ConfigError(f"files entry '{entity}': invalid CSV dialect option: {exc}") from exc
        encoding = setting(FILE_SCHEMA, item, "encoding")
        try:
            codecs.lookup(encoding)
        except LookupError as exc:
            raise ConfigError(f"files entry '{entity}': unknown encoding '{encoding}'") from exc
        top = {"sample_size": sample_size, "infer_types": infer_types, "empty_as_null": empty_as_null}
        inherited = {name: top[name] if item.get(name) is None else item[name] for name in _INHERITED}
        return build_settings(cls, FILE_SCHEMA, item, dialect=dialect,
                              types=tuple((setting(FILE_SCHEMA, item, "types") or {}).items()), **inherited)

    @property
    def read_encoding(self) -> str:
        # A UTF-8 byte-order mark (spreadsheet exports) is not part of the first column's name.
        return "utf-8-sig" if codecs.lookup(self.encoding).name == "utf-8" else self.encoding


@dataclass(frozen=True)
class CsvSettings:
    """Everything tap-csv reads from its config."""

    files: tuple[FileSpec, ...]  # from csv_files_definition when set, else from files
    add_metadata_columns: bool

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> CsvSettings:
        return build_settings(cls, SETTINGS, config, files=tuple(file_specs(config)))


def _definition(config: Mapping[str, Any], definition: str) -> list[Any]:
    items = read_json_file(definition, "csv_files_definition")
    if not isinstance(items, list):
        raise ConfigError(f"csv_files_definition {definition} must hold a JSON array of file settings")
    import jsonschema  # ~80 ms to import: only for a csv_files_definition file

    validator = jsonschema.Draft7Validator(FILE_SCHEMA)
    problems = sorted(
        f"entry {i}" + (f" '{'/'.join(map(str, e.absolute_path))}'" if e.absolute_path else "") + f": {e.message}"
        for i, item in enumerate(items) for e in validator.iter_errors(item)
    )
    problems += report_unknown({"csv_files_definition": items}, _DEFINITION_SCHEMA, "tap-csv",
                               strict=config.get("strict_settings") is True)
    if problems:
        raise ConfigError(f"invalid csv_files_definition {definition}", problems)
    return items


def file_specs(config: Mapping[str, Any]) -> list[FileSpec]:
    """The ``files`` entries (from ``csv_files_definition`` when set, as MeltanoLabs does)."""
    definition = setting(SETTINGS, config, "csv_files_definition")
    items = setting(SETTINGS, config, "files")
    if definition:
        if items:
            log.warning("setting 'files' is ignored: csv_files_definition %s replaces it", definition)
        items = _definition(config, definition)
    if not items:
        raise ConfigError("no CSV files configured: set 'files' or 'csv_files_definition'")
    top = {name: setting(SETTINGS, config, name) for name in _INHERITED}
    specs = [FileSpec.from_config(item, **top) for item in items]
    names = [spec.entity for spec in specs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError("each files entry needs its own 'entity'", [f"'{n}' is used twice" for n in twice])
    return specs
