"""Catalogs both ways: the source's Airbyte catalog as Singer streams, and the Singer selection as
the ConfiguredAirbyteCatalog that ``read`` is given.

An Airbyte stream becomes the Singer stream ``name`` (``namespace-name`` with a namespace):

- its JSON schema, with every property nullable but the key's (Airbyte's sources do not promise
  non-null values; its destinations make every column nullable too);
- ``source_defined_primary_key`` as the key properties (top-level fields only);
- the cursor (``default_cursor_field``) as the replication key;
- ``supported_sync_modes``: one mode forces its replication method (``full_refresh`` FULL_TABLE,
  ``incremental`` INCREMENTAL); with both, INCREMENTAL is the default when the source defines
  the cursor, and the catalog may choose either;
- the Airbyte stream itself (without its schema) in the stream metadata ``airbyte-stream``,
  from which a run builds its configured stream without discovering again.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from protocol import CatalogEntry, ConfigError, SchemaMessage, Stream
from taps.airbyte.messages import stream_id

if TYPE_CHECKING:
    from protocol import Tap

__all__ = ["AIRBYTE_STREAM", "AirbyteStream", "StreamPlan", "plan_stream"]

log = logging.getLogger("sluice.airbyte")

AIRBYTE_STREAM = "airbyte-stream"
FULL_REFRESH, INCREMENTAL = "full_refresh", "incremental"
_METHOD_OF_MODE = {FULL_REFRESH: "FULL_TABLE", INCREMENTAL: "INCREMENTAL"}


def _top_level(paths: Any) -> list[str] | None:
    """``[["id"], ["org"]]`` as ``["id", "org"]``; None when a path is nested (or the value is not paths)."""
    if not isinstance(paths, list) or not all(isinstance(p, list) and len(p) == 1 for p in paths):
        return None
    return [str(p[0]) for p in paths]


def nullable(schema: dict[str, Any], keys: frozenset[str] = frozenset()) -> dict[str, Any]:
    """``schema`` with every property (at any depth, array items included) allowing null, but ``keys``."""
    out = copy.deepcopy(schema)
    _allow_null(out, keys)
    return out


def _allow_null(schema: Any, keys: frozenset[str]) -> None:
    if not isinstance(schema, dict):
        return
    for name, prop in (schema.get("properties") or {}).items():
        if isinstance(prop, dict):
            if name not in keys:
                _null_ok(prop)
            _allow_null(prop, frozenset())
    items = schema.get("items")
    if isinstance(items, dict):
        _null_ok(items)
        _allow_null(items, frozenset())
    for key in ("anyOf", "oneOf"):  # the objects and arrays inside each branch
        for branch in schema.get(key) or ():
            _allow_null(branch, frozenset())


def _null_ok(schema: dict[str, Any]) -> None:
    """One value's schema allowing null: its type, or a null branch beside its anyOf/oneOf branches
    (a property typed by branches, and array items, stayed non-null: a target refused the records)."""
    kind = schema.get("type")
    if isinstance(kind, str) and kind != "null":
        schema["type"] = ["null", kind]
    elif isinstance(kind, list) and "null" not in kind:
        schema["type"] = ["null", *kind]
    elif kind is None:
        for key in ("anyOf", "oneOf"):
            branches = schema.get(key)
            if isinstance(branches, list) and not any(_takes_null(b) for b in branches):
                branches.append({"type": "null"})


def _takes_null(branch: Any) -> bool:
    kind = branch.get("type") if isinstance(branch, dict) else None
    return kind == "null" or (isinstance(kind, list) and "null" in kind)


class AirbyteStream(Stream):
    """One stream of the source's catalog, as discovery offers it."""

    def __init__(self, tap: Tap, airbyte: Mapping[str, Any]) -> None:
        super().__init__(tap)
        self.airbyte = {k: copy.deepcopy(v) for k, v in airbyte.items() if k != "json_schema"}
        self.name = stream_id(str(airbyte["name"]), airbyte.get("namespace"))
        keys = _top_level(airbyte.get("source_defined_primary_key") or [])
        if keys is None:
            log.warning("stream '%s': its primary key %s has nested fields; no Singer key properties",
                        self.name, airbyte.get("source_defined_primary_key"))
        self.primary_keys = keys or []
        cursor = _top_level([airbyte["default_cursor_field"]]) if airbyte.get("default_cursor_field") else None
        self.replication_key = cursor[0] if cursor else None
        modes = [m for m in airbyte.get("supported_sync_modes") or [FULL_REFRESH] if m in _METHOD_OF_MODE]
        self.forced_method = _METHOD_OF_MODE[modes[0]] if len(modes) == 1 else None
        incremental = INCREMENTAL in modes and self.replication_key is not None
        self.replication_method = self.forced_method or ("INCREMENTAL" if incremental else "FULL_TABLE")
        self._schema = nullable(dict(airbyte.get("json_schema") or {"type": "object"}), frozenset(self.primary_keys))

    @property
    def schema(self) -> dict[str, Any]:
        return self._schema

    def catalog_entry(self) -> CatalogEntry:
        extra: dict[str, Any] = {"replication-method": self.replication_method, AIRBYTE_STREAM: self.airbyte}
        if self.replication_key:
            extra["replication-key"] = self.replication_key
        # the method and key are in the metadata only, where a catalog edits them (the top-level
        # fields would win over the metadata); a run without a catalog reads its discovery as a file
        # catalog is read (protocol/_cli.py), so it finds them there too
        return CatalogEntry(tap_stream_id=self.name, stream=self.name, schema=self.schema,
                            metadata=self._metadata(self.forced_method, extra), key_properties=list(self.primary_keys))


@dataclass(frozen=True)
class StreamPlan:
    """How one selected stream is read and written: decided once, before the source starts."""

    name: str  # the Singer stream
    configured: dict[str, Any]  # its ConfiguredAirbyteStream
    schema: SchemaMessage
    #: the selected fields when only some are (records are cut down to them); None: all, records pass as they are
    fields: frozenset[str] | None
    incremental: bool


def plan_stream(entry: CatalogEntry, airbyte: Mapping[str, Any]) -> StreamPlan:
    """The plan of a selected catalog entry, ``airbyte`` its Airbyte stream (without its schema)."""
    name = entry.tap_stream_id
    modes = list(airbyte.get("supported_sync_modes") or [FULL_REFRESH])
    method = entry.replication_method or (
        "INCREMENTAL" if INCREMENTAL in modes and airbyte.get("default_cursor_field") else "FULL_TABLE")
    mode = {"FULL_TABLE": FULL_REFRESH, "INCREMENTAL": INCREMENTAL}.get(method)
    if mode is None or mode not in modes:
        raise ConfigError(f"stream '{name}': replication method {method} is not supported by the source "
                          f"(its sync modes: {', '.join(modes)})")
    incremental = mode == INCREMENTAL
    cursor: list[str] | None = None
    if incremental:
        rk = entry.replication_key
        cursor = list(airbyte.get("default_cursor_field") or []) if airbyte.get("source_defined_cursor") else None
        if not cursor and rk:
            cursor = [rk]
        if not cursor:
            raise ConfigError(f"stream '{name}': INCREMENTAL needs a replication-key (the source defines no cursor)")
    pk = airbyte.get("source_defined_primary_key") or [[k] for k in entry.key_properties]
    configured: dict[str, Any] = {
        "stream": {**airbyte, "json_schema": entry.schema},
        "sync_mode": mode,
        "destination_sync_mode": ("append_dedup" if pk else "append") if incremental else "overwrite",
        "primary_key": pk,
    }
    if cursor:
        configured["cursor_field"] = cursor
    schema = entry.selected_schema()
    all_fields = set(schema.get("properties") or {}) == set(entry.schema.get("properties") or {})
    rk = cursor[0] if cursor and len(cursor) == 1 else None
    message = SchemaMessage(name, schema, list(entry.key_properties), [rk] if rk else None)
    return StreamPlan(name, configured, message, None if all_fields else frozenset(schema.get("properties") or {}),
                      incremental)
