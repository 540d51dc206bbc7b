"""target-postgres: loads Singer streams into PostgreSQL.

Accepts the settings of MeltanoLabs target-postgres (the Meltano Hub default variant), so
it is a drop-in replacement; ``connection_string``, ``batch_size_bytes``, ``table_prefix``,
``table_names``, ``connection_retries`` and ``state_flush_seconds`` are our additions.
"""

from __future__ import annotations

import logging
from typing import IO, Any, ClassVar

from protocol import MessageWriter, Sink, plural, target_main
from protocol.pg import describe
from targets.postgres.connection import Session, conninfo_from_config
from targets.postgres.dialect import PostgresLoader
from targets.postgres.settings import SETTINGS, PostgresSettings
from targets.postgres.sink import PostgresSink
from targets.sql.dialect import Loader
from targets.sql.sink import SQLSink, SQLTarget

__all__ = ["PostgresTarget", "main"]

log = logging.getLogger("sluice.target.postgres")


class PostgresTarget(SQLTarget):
    name: ClassVar[str] = "target-postgres"
    description: ClassVar[str] = (
        "Load Singer streams into PostgreSQL: COPY into a staging table, upsert by key, one transaction per batch."
    )
    settings_schema: ClassVar[dict[str, Any]] = SETTINGS
    loader_class: ClassVar[type[Loader]] = PostgresLoader
    sink_class: ClassVar[type[Sink]] = PostgresSink
    capabilities: ClassVar[list[str]] = [*SQLTarget.capabilities, "target-schema"]
    settings: PostgresSettings

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.settings = PostgresSettings.from_config(self.config)
        self.conninfo, self.params = conninfo_from_config(self.config)

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
        return f"PostgreSQL {describe(self.conninfo, self.params)}, schema {self.settings.default_target_schema}"

    def open_loader(self) -> Loader:
        settings = self.settings
        session = Session(self.conninfo, self.params, max_tries=settings.connection_retries + 1,
                          chunk_size=settings.batch_size_bytes)
        return PostgresLoader(session, settings.default_target_schema, chunk_size=settings.batch_size_bytes)


main = target_main(PostgresTarget)
