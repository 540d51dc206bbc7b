"""target-postgres: loads Singer streams into PostgreSQL.

Accepts the settings of MeltanoLabs target-postgres (the Meltano Hub default variant), so
it is a drop-in replacement; ``connection_string``, ``batch_size_bytes``, ``table_prefix``,
``table_names``, ``connection_retries`` and ``state_flush_seconds`` are our additions.
"""

from __future__ import annotations

from typing import Any, ClassVar

from protocol.cli import target_main
from protocol.pgconn import describe
from targets.postgres.connection import Session, conninfo_from_config
from targets.postgres.dialect import PostgresLoader
from targets.sql.dialect import Loader
from targets.sql.sink import COMMON_SETTINGS, SQLTarget

__all__ = ["PostgresTarget", "main"]

_IGNORED_WITH_URL = " Ignored when sqlalchemy_url or connection_string is set."

SETTINGS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "host": {"type": "string", "description": "PostgreSQL host." + _IGNORED_WITH_URL},
        "port": {"type": "integer", "default": 5432, "description": "PostgreSQL port." + _IGNORED_WITH_URL},
        "user": {"type": "string", "description": "User name." + _IGNORED_WITH_URL},
        "password": {"type": "string", "secret": True, "writeOnly": True,
                     "description": "Password." + _IGNORED_WITH_URL},
        "database": {"type": "string", "description": "Database name." + _IGNORED_WITH_URL},
        "sqlalchemy_url": {"type": "string", "secret": True, "writeOnly": True,
                           "description": "Connection URL, e.g. postgresql://user:pass@host:5432/db (a "
                                          "+driver suffix is ignored). Overrides the separate fields."},
        "connection_string": {"type": "string", "secret": True, "writeOnly": True,
                              "description": "libpq connection string or URL (alias of sqlalchemy_url)."},
        "dialect+driver": {"type": "string", "default": "postgresql+psycopg",
                           "description": "Accepted for compatibility; psycopg 3 is always used."},
        "default_target_schema": {"type": "string", "default": "public",
                                  "description": "Schema to load into (created if missing)."},
        "ssl_enable": {"type": "boolean", "default": False,
                       "description": "Verify the server with SSL (see ssl_mode, ssl_certificate_authority)."},
        "ssl_client_certificate_enable": {"type": "boolean", "default": False,
                                          "description": "Authenticate with a client certificate."},
        "ssl_mode": {"type": "string", "default": "verify-full",
                     "enum": ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"],
                     "description": "libpq sslmode when ssl_enable is true."},
        "ssl_certificate_authority": {"type": "string", "default": "~/.postgresql/root.crl",
                                      "description": "CA certificate: a file path or the PEM text."},
        "ssl_client_certificate": {"type": "string", "default": "~/.postgresql/postgresql.crt",
                                   "description": "Client certificate: a file path or the PEM text."},
        "ssl_client_private_key": {"type": "string", "default": "~/.postgresql/postgresql.key", "secret": True,
                                   "writeOnly": True,
                                   "description": "Client private key: a file path or the PEM text."},
        "ssl_storage_directory": {"type": "string", "default": ".secrets",
                                  "description": "Where certificates given as PEM text are written (mode 0600)."},
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

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.conninfo, self.params = conninfo_from_config(self.config)
        self.db_schema = str(self.config.get("default_target_schema") or "public")

    def destination(self) -> str:
        return f"PostgreSQL {describe(self.conninfo, self.params)}, schema {self.db_schema}"

    def open_loader(self) -> Loader:
        retries = int(self.config.get("connection_retries", 5))
        session = Session(self.conninfo, self.params, max_tries=retries + 1)
        return PostgresLoader(session, str(self.db_schema), chunk_size=self.chunk_size or None)


main = target_main(PostgresTarget)
