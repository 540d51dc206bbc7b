"""target-sqlite: loads Singer streams into an SQLite file (stdlib sqlite3, WAL mode)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from protocol import target_main
from targets.sql.dialect import Loader
from targets.sql.sink import SQLTarget
from targets.sqlite.dialect import SQLiteLoader
from targets.sqlite.settings import SETTINGS, SQLiteSettings

__all__ = ["SQLiteTarget", "main"]


class SQLiteTarget(SQLTarget):
    name: ClassVar[str] = "target-sqlite"
    description: ClassVar[str] = (
        "Load Singer streams into an SQLite database file: one table per stream, upserted by key."
    )
    loader_class: ClassVar[type[Loader]] = SQLiteLoader
    settings_schema: ClassVar[dict[str, Any]] = SETTINGS
    settings: SQLiteSettings

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.settings = SQLiteSettings.from_config(self.config)

    def destination(self) -> str:
        return str(Path(self.settings.database).resolve())

    def open_loader(self) -> Loader:
        return SQLiteLoader(self.settings.database, chunk_size=self.settings.batch_size_bytes)


main = target_main(SQLiteTarget)
