"""tap-csv: one Singer stream per CSV file, directory or glob.

Settings are those of MeltanoLabs tap-csv (``files``, ``csv_files_definition``,
``add_metadata_columns``) plus our additions: ``replication_key``, ``schema``, ``types``,
``glob``, ``sample_size``, ``infer_types`` and ``empty_as_null``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import jsonschema

from protocol import ConfigError, Tap, plural, read_json_file, report_unknown, tap_main
from taps.csv.client import FileSpec, missing_path
from taps.csv.inference import TYPE_NAMES
from taps.csv.streams import CsvStream

__all__ = ["FILE_SCHEMA", "TapCsv", "main"]

_ONE_CHAR = {"type": "string", "minLength": 1, "maxLength": 1}

FILE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["entity", "path"],
    "properties": {
        "entity": {"type": "string", "minLength": 1, "description": "The stream name (the table to load)."},
        "path": {"type": "string", "minLength": 1,
                 "description": "A CSV file, a directory (every *.csv and *.csv.gz under it) or a glob pattern."},
        "keys": {"type": "array", "items": {"type": "string"},
                 "description": "The columns that identify a row (key properties)."},
        "encoding": {"type": "string", "default": "utf-8", "description": "The text encoding of the files."},
        "delimiter": {**_ONE_CHAR, "description": "The field separator (default ',')."},
        "quotechar": {**_ONE_CHAR, "description": "The quote character (default '\"')."},
        "doublequote": {"type": "boolean", "description": "A doubled quote character stands for one (default true)."},
        "escapechar": {**_ONE_CHAR, "description": "A character that removes the special meaning of the next one."},
        "skipinitialspace": {"type": "boolean", "description": "Ignore spaces after a delimiter (default false)."},
        "strict": {"type": "boolean", "description": "Fail on malformed quoting (default false)."},
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
                        "description": "Rows sampled to infer this file's types (0: every row)."},
        "infer_types": {"type": "boolean", "description": "Infer column types; false makes every column a string."},
        "empty_as_null": {"type": "boolean", "description": "This file's empty cells are null in string columns too."},
    },
}

_DEFINITION_SCHEMA: dict[str, Any] = {"properties": {"csv_files_definition": {"type": "array", "items": FILE_SCHEMA}}}

EMPTY_AS_NULL = (
    'An empty cell (bare or quoted as "") of a string column is the empty string "", as MeltanoLabs tap-csv '
    "reads it; true makes it null. Empty cells of typed columns (integer, number, boolean, date, date-time) "
    "are always null.")


class TapCsv(Tap):
    name = "tap-csv"
    description = "Singer tap for CSV files: typed columns, incremental by key or file time, gzip."
    settings_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "files": {"type": "array", "items": FILE_SCHEMA, "description": "An array of csv file stream settings."},
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

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.specs = file_specs(self.config)
        missing = [f"files entry '{spec.entity}': {path} does not exist"
                   for spec in self.specs if (path := missing_path(spec)) is not None]
        if missing:
            raise ConfigError("input not found", missing)
        self._streams: list[CsvStream] | None = None

    def streams(self) -> list[CsvStream]:  # type: ignore[override]
        if self._streams is None:
            add_metadata = bool(self.config.get("add_metadata_columns"))
            self._streams = [CsvStream(self, spec, add_metadata=add_metadata) for spec in self.specs]
        return self._streams

    def test_connection(self) -> str:
        streams = self.streams()
        files = sum(stream.check() for stream in streams)
        return f"{plural(len(streams), 'stream')}, {plural(files, 'readable file')} with a header"


def file_specs(config: dict[str, Any]) -> list[FileSpec]:
    """The ``files`` entries (from ``csv_files_definition`` when set, as MeltanoLabs does)."""
    items = config.get("files")
    definition = config.get("csv_files_definition")
    if definition:
        items = read_json_file(definition, "csv_files_definition")
        if not isinstance(items, list):
            raise ConfigError(f"csv_files_definition {definition} must hold a JSON array of file settings")
        validator = jsonschema.Draft7Validator(FILE_SCHEMA)
        problems = sorted(
            f"entry {i}" + (f" '{'/'.join(map(str, e.absolute_path))}'" if e.absolute_path else "") + f": {e.message}"
            for i, item in enumerate(items) for e in validator.iter_errors(item)
        )
        problems += report_unknown({"csv_files_definition": items}, _DEFINITION_SCHEMA, TapCsv.name,
                                   strict=config.get("strict_settings") is True)
        if problems:
            raise ConfigError(f"invalid csv_files_definition {definition}", problems)
    if not items:
        raise ConfigError("no CSV files configured: set 'files' or 'csv_files_definition'")
    sample_size = int(config.get("sample_size", 1000))
    infer_types = bool(config.get("infer_types", True))
    empty_as_null = bool(config.get("empty_as_null", False))
    specs = [FileSpec.from_config(item, sample_size=sample_size, infer_types=infer_types, empty_as_null=empty_as_null)
             for item in items]
    names = [spec.entity for spec in specs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError("each files entry needs its own 'entity'", [f"'{n}' is used twice" for n in twice])
    return specs


main = tap_main(TapCsv)
