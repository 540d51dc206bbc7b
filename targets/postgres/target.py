"""target-postgres: loads Singer streams into PostgreSQL.

Accepts the settings of MeltanoLabs target-postgres (the Meltano Hub default variant), so
it is a drop-in replacement; ``connection_string``, ``batch_size_bytes``, ``table_prefix``,
``table_names``, ``connection_retries`` and ``state_flush_seconds`` are our additions.
"""

from __future__ import annotations

import logging
from typing import IO, Any, ClassVar

from protocol import MessageWriter, plural, target_main
from protocol.pg import CONNECTION_SETTINGS, SSL_SETTINGS, describe
from targets.postgres.connection import KEEP_BYTES, Session, conninfo_from_config
from targets.postgres.dialect import PostgresLoader
from targets.sql.dialect import Loader
from targets.sql.sink import COMMON_SETTINGS, SQLSink, SQLTarget

__all__ = ["PostgresTarget", "main"]

log = logging.getLogger("sluice.target.postgres")


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


class PostgresTarget(SQLTarget):
    name: ClassVar[str] = "target-postgres"
    description: ClassVar[str] = (
        "Load Singer streams into PostgreSQL: COPY into a staging table, upsert by key, one transaction per batch."
    )
    settings_schema: ClassVar[dict[str, Any]] = SETTINGS
    loader_class: ClassVar[type[Loader]] = PostgresLoader

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.conninfo, self.params = conninfo_from_config(self.config)
        self.db_schema = str(self.config.get("default_target_schema") or "public")

    def run(self, source: IO[bytes], out: MessageWriter) -> None:
        try:
            super().run(source, out)
        finally:
            self._warn_nul_removed()

    def _warn_nul_removed(self) -> None:
        """One WARNING per stream and column, at the end of the run, with the number of values
        whose NUL characters were removed (PostgreSQL text and jsonb cannot hold NUL)."""
        removed = self._loader.nul_removed if self._loader is not None else None
        if not removed:
            return
        streams: dict[str, list[str]] = {}
        for sink in self.sinks.values():
            if isinstance(sink, SQLSink):
                streams.setdefault(sink.table, []).append(sink.stream)
        for (table, column), n in sorted(removed.items()):
            names = "', '".join(streams.get(table, [table]))
            log.warning("stream '%s' column '%s': removed NUL characters from %s (PostgreSQL cannot "
                        "store them)", names, column, plural(n, "value"))

    def destination(self) -> str:
        return f"PostgreSQL {describe(self.conninfo, self.params)}, schema {self.db_schema}"

    def open_loader(self) -> Loader:
        retries = int(self.config.get("connection_retries", 5))
        # chunks of the open transaction kept in memory for a replay: 16 chunks when the chunk
        # size is set (batch_size_bytes bounds memory), else up to KEEP_BYTES; then a spool file
        keep = 16 * self.chunk_size if self.chunk_size else KEEP_BYTES
        session = Session(self.conninfo, self.params, max_tries=retries + 1, keep_bytes=keep)
        return PostgresLoader(session, str(self.db_schema), chunk_size=self.chunk_size or None)


main = target_main(PostgresTarget)
