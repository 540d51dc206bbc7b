"""target-sqlite: loads Singer streams into an SQLite file (stdlib sqlite3, WAL mode)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from protocol import ConfigError, target_main
from targets.sql.dialect import Loader
from targets.sql.sink import COMMON_SETTINGS, SQLTarget
from targets.sqlite.dialect import SQLiteLoader

__all__ = ["SQLiteTarget", "main"]


class SQLiteTarget(SQLTarget):
    name: ClassVar[str] = "target-sqlite"
    description: ClassVar[str] = (
        "Load Singer streams into an SQLite database file: one table per stream, upserted by key."
    )
    loader_class: ClassVar[type[Loader]] = SQLiteLoader
    settings_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "database": {"type": "string", "description": "Path of the SQLite database file (created if missing)."},
            "path": {"type": "string", "description": "Alias of 'database'."},
            **COMMON_SETTINGS,
        },
    }

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.path = str(self.config.get("database") or self.config.get("path") or "")
        if not self.path:
            raise ConfigError("invalid config", ["setting 'database': the SQLite file path is required"])

    def destination(self) -> str:
        return str(Path(self.path).resolve())

    def open_loader(self) -> Loader:
        return SQLiteLoader(self.path)


main = target_main(SQLiteTarget)
