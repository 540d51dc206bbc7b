"""target-sqlite's settings: their schema (what ``--about`` publishes and the config is validated
against) and the one frozen object the target and its sinks read them from, built once from the
validated config. Defaults are stated once, in the schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from protocol import ConfigError
from targets.sql.settings import COMMON_SETTINGS, SQLSettings

__all__ = ["SETTINGS", "SQLiteSettings"]

SETTINGS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "database": {"type": "string", "description": "Path of the SQLite database file (created if missing)."},
        "path": {"type": "string", "description": "Alias of 'database'."},
        **COMMON_SETTINGS,
    },
}


@dataclass(frozen=True)
class SQLiteSettings(SQLSettings):
    """The SQL core's settings and target-sqlite's own."""

    database: str  # the setting 'database', or its alias 'path'

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SQLiteSettings:
        database = config.get("database") or config.get("path")
        if not database:
            raise ConfigError("invalid config", ["setting 'database': the SQLite file path is required"])
        return cls.build(SETTINGS, config, database=str(database))
