"""target-postgres's settings: their schema (what ``--about`` publishes and the config is validated
against) and the one frozen object the target and its sinks read them from, built once from the
validated config. Defaults are stated once, in the schema.

The connection settings go to :func:`targets.postgres.connection.conninfo_from_config` as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from protocol.pg import CONNECTION_SETTINGS, SSL_SETTINGS
from targets.sql.settings import COMMON_SETTINGS, SQLSettings

__all__ = ["SETTINGS", "PostgresSettings"]

SETTINGS: dict[str, Any] = {
    "type": "object",
    "properties": {
        **CONNECTION_SETTINGS,
        "dialect+driver": {"type": "string", "default": "postgresql+psycopg",
                           "description": "Accepted for compatibility; psycopg 3 is always used."},
        "default_target_schema": {"type": "string", "default": "public",
                                  "description": "Schema to load into (created if missing)."},
        **SSL_SETTINGS,
        "connection_retries": {"type": "integer", "minimum": 0, "default": 5,
                               "description": "Reconnects (with exponential backoff) after a dropped connection."},
        **COMMON_SETTINGS,
    },
}


@dataclass(frozen=True)
class PostgresSettings(SQLSettings):
    """The SQL core's settings and target-postgres's own."""

    default_target_schema: str
    connection_retries: int

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> PostgresSettings:
        return cls.build(SETTINGS, config)
