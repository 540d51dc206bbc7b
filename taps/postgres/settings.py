"""tap-postgres's settings: their schema (what ``--about`` publishes and the config is validated
against) and the one frozen object the tap reads them from, built once from the validated config.

Defaults are stated once, in the schema; ``TapSettings.from_config`` takes them from there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from protocol import REPLICATION_METHODS, build_settings, setting
from protocol.pg import CONNECTION_SETTINGS, SSL_SETTINGS

__all__ = ["SETTINGS", "TapSettings"]


SETTINGS: dict[str, Any] = {
    "type": "object",
    "properties": {
        **CONNECTION_SETTINGS,
        "filter_schemas": {"type": "array", "items": {"type": "string"},
                           "description": "Only discover these schemas (default: every user schema)."},
        "default_replication_method": {"type": "string", "enum": list(REPLICATION_METHODS), "default": "FULL_TABLE",
                                       "description": "Replication method of streams whose catalog entry names none."},
        "replication_slot_name": {"type": "string", "default": "tappostgres", "pattern": "^[a-z0-9_]{1,63}$",
                                  "description": "The logical replication slot shared by every LOG_BASED stream."},
        "publication_name": {"type": "string", "minLength": 1,
                             "description": "The publication LOG_BASED streams read through (default: the slot "
                                            "name); created, or extended with the selected tables, when needed."},
        "max_parallel_reads": {"type": "integer", "minimum": 1, "maximum": 16, "default": 3,
                               "description": "Connections reading key ranges of one large table at once "
                                              "(full-table reads of tables with an integer key; 1: one)."},
        "json_as_object": {"type": "boolean", "default": False,
                           "description": "Declare json/jsonb columns as objects instead of any JSON value."},
        **SSL_SETTINGS,
    },
}


@dataclass(frozen=True)
class TapSettings:
    """The settings the tap itself reads (the connection settings go to the Source as they are)."""

    filter_schemas: tuple[str, ...] | None
    default_replication_method: str
    replication_slot_name: str
    publication_name: str  # the slot's name when not set
    max_parallel_reads: int
    json_as_object: bool

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TapSettings:
        schemas = config.get("filter_schemas")
        slot = str(setting(SETTINGS, config, "replication_slot_name"))
        return build_settings(cls, SETTINGS, config,
                              filter_schemas=tuple(str(s) for s in schemas) if schemas else None,
                              publication_name=str(config.get("publication_name") or slot))
