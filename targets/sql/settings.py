"""The settings every SQL target shares: their schema (``COMMON_SETTINGS``, merged into each
target's) and the frozen object the SQL core reads them from, built once from the validated
config. Defaults are stated once, in the schema; :func:`protocol.build_settings`
takes them from there.

``batch_size_rows``, ``state_flush_seconds`` and ``validate_records`` are the kit's (read by
protocol/_target.py; a sink reads ``validate_records`` too: without validation it checks the
date-times the database would otherwise guess at); the rest are the SQL core's, in :class:`SQLSettings`. Each SQL target
extends it with its own settings (targets/postgres/settings.py, targets/sqlite/settings.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Self

from protocol import build_settings, setting

__all__ = ["COMMON_SETTINGS", "LOAD_METHODS", "SQLSettings"]

LOAD_METHODS = ("append-only", "upsert", "overwrite")

COMMON_SETTINGS: dict[str, dict[str, Any]] = {
    "load_method": {
        "type": "string", "enum": list(LOAD_METHODS), "default": "upsert",
        "description": "upsert: streams with key properties are upserted (last record of a key wins), others "
                       "appended. append-only: always insert. overwrite: empty each table on its first batch "
                       "of the run, then upsert.",
    },
    "add_record_metadata": {
        "type": "boolean", "default": False,
        "description": "Add the _sdc_extracted_at, _sdc_received_at, _sdc_batched_at, _sdc_deleted_at, "
                       "_sdc_sequence and _sdc_table_version columns.",
    },
    "activate_version": {
        "type": "boolean", "default": True,
        "description": "Process ACTIVATE_VERSION messages: rows of older table versions are deleted "
                       "(hard_delete) or get _sdc_deleted_at. False: ignore them.",
    },
    "hard_delete": {
        "type": "boolean", "default": False,
        "description": "On ACTIVATE_VERSION, delete rows of older versions instead of setting _sdc_deleted_at.",
    },
    "batch_size_rows": {
        "type": "integer", "minimum": 1, "default": 100_000,
        "description": "Commit (and emit the held STATE) at most every this many rows.",
    },
    "batch_size_bytes": {
        "type": "integer", "minimum": 1024,
        "description": "Rows are sent to the database in chunks of about this many bytes (memory bound).",
    },
    "state_flush_seconds": {
        "type": "number", "minimum": 0, "default": 1.0,
        "description": "Commit and emit a held STATE when it is older than this.",
    },
    "validate_records": {
        "type": "boolean", "default": True, "description": "Validate every record against its stream schema.",
    },
    "table_prefix": {"type": "string", "default": "", "description": "Prefix of every table name."},
    "table_names": {
        "type": "object", "additionalProperties": {"type": "string", "minLength": 1},
        "description": "Table name per stream, e.g. {\"public-users\": \"users\"}. Default: table_prefix + "
                       "the stream name, or its last part for streams named <schema>-<table> or <db>-<schema>-<table>. "
                       "Each stream needs a table of its own: two streams whose names resolve to one table (e.g. "
                       "public-people and crm-people, or Users and users in SQLite) fail the run before the second "
                       "loads a row; map one of them here.",
    },
    "adopt_existing_tables": {
        "type": "boolean", "default": False,
        "description": "Load into (and evolve) an existing table that this target did not create for the stream, "
                       "e.g. one made by hand or by another loader. Default false: such a table is never altered, "
                       "the run fails naming it. Tables the target creates are recorded in _sluice_tables with "
                       "their stream, so reruns need no setting; an adopted table is recorded the same way.",
    },
}


@dataclass(frozen=True)
class SQLSettings:
    """The settings the SQL core reads (targets/sql/sink.py); each SQL target's settings extend it."""

    load_method: str
    add_record_metadata: bool
    activate_version: bool
    hard_delete: bool
    batch_size_bytes: int | None  # None: the loader's own chunk size
    table_prefix: str
    table_names: Mapping[str, str]
    adopt_existing_tables: bool
    validate_records: bool

    @classmethod
    def build(cls, schema: Mapping[str, Any], config: Mapping[str, Any], **given: Any) -> Self:
        """The settings of a target whose settings schema is ``schema``, from its validated
        config; ``given`` are the fields the target derives itself."""
        names = setting(schema, config, "table_names") or {}
        return build_settings(cls, schema, config, **{"table_names": MappingProxyType(dict(names)), **given})

    def table_name(self, stream: str) -> str:
        """The table of ``stream`` as configured (before it is made a safe identifier and claimed)."""
        if stream in self.table_names:
            return self.table_names[stream]
        parts = stream.split("-")
        name = parts[-1] if len(parts) in (2, 3) and all(parts) else stream
        return self.table_prefix + name
