"""PostgreSQL connection settings, shared by every connector that talks to PostgreSQL.

The settings are MeltanoLabs' (tap-postgres and target-postgres use the same names):
``sqlalchemy_url`` (or our ``connection_string``) wins over ``host``/``port``/``user``/
``password``/``database``; a ``+driver`` suffix in the URL scheme is dropped; the ``ssl_*``
settings apply either way. Certificates may be paths or PEM text (written to 0600 files).
Nothing here imports a driver: the result is a conninfo string and keyword parameters.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from protocol._errors import ConfigError

__all__ = ["CONNECTION_SETTINGS", "SSL_MODES", "SSL_SETTINGS", "conninfo_from_settings", "describe"]

SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
URL_SETTINGS = ("connection_string", "sqlalchemy_url")

_IGNORED_WITH_URL = " Ignored when sqlalchemy_url or connection_string is set."

#: The connection settings of MeltanoLabs' PostgreSQL connectors (plus ``connection_string``),
#: as JSON Schema properties for a connector's settings schema.
CONNECTION_SETTINGS: dict[str, Any] = {
    "host": {"type": "string", "description": "PostgreSQL host." + _IGNORED_WITH_URL},
    "port": {"type": "integer", "default": 5432, "description": "PostgreSQL port." + _IGNORED_WITH_URL},
    "user": {"type": "string", "description": "User name." + _IGNORED_WITH_URL},
    "password": {"type": "string", "secret": True, "writeOnly": True, "description": "Password." + _IGNORED_WITH_URL},
    "database": {"type": "string", "description": "Database name." + _IGNORED_WITH_URL},
    "sqlalchemy_url": {"type": "string", "secret": True, "writeOnly": True,
                       "description": "Connection URL, e.g. postgresql://user:pass@host:5432/db (a +driver "
                                      "suffix is ignored). Overrides the separate fields."},
    "connection_string": {"type": "string", "secret": True, "writeOnly": True,
                          "description": "libpq connection string or URL (alias of sqlalchemy_url)."},
}

SSL_SETTINGS: dict[str, Any] = {
    "ssl_enable": {"type": "boolean", "default": False,
                   "description": "Use SSL (see ssl_mode and ssl_certificate_authority)."},
    "ssl_client_certificate_enable": {"type": "boolean", "default": False,
                                      "description": "Authenticate with a client certificate."},
    "ssl_mode": {"type": "string", "default": "verify-full", "enum": list(SSL_MODES),
                 "description": "libpq sslmode when ssl_enable is true."},
    "ssl_certificate_authority": {"type": "string", "default": "~/.postgresql/root.crl",
                                  "description": "CA certificate: a file path or the PEM text."},
    "ssl_client_certificate": {"type": "string", "default": "~/.postgresql/postgresql.crt",
                               "description": "Client certificate: a file path or the PEM text."},
    "ssl_client_private_key": {"type": "string", "default": "~/.postgresql/postgresql.key", "secret": True,
                               "writeOnly": True, "description": "Client private key: a file path or the PEM text."},
    "ssl_storage_directory": {"type": "string", "default": ".secrets",
                              "description": "Where certificates given as PEM text are written (mode 0600)."},
}


def _cert_file(value: str, storage: str, name: str) -> str:
    """A certificate given as a path is used as is; given as PEM text it is written to a 0600 file."""
    if "-----BEGIN" not in value:
        return str(Path(value).expanduser())
    folder = Path(storage).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return str(path)


def conninfo_from_settings(
    config: Mapping[str, Any], *, application_name: str, options: str = ""
) -> tuple[str, dict[str, Any]]:
    """(conninfo, keyword parameters) for psycopg.connect, from the connection settings."""
    params: dict[str, Any] = {"application_name": application_name}
    if options:
        params["options"] = options
    url = next((config[k] for k in URL_SETTINGS if config.get(k)), None)
    conninfo = ""
    if url:
        parts = urlsplit(str(url))
        conninfo = urlunsplit(("postgresql", *parts[1:])) if "+" in parts.scheme else str(url)
    elif config.get("host"):
        params.update(host=config["host"], port=int(config.get("port") or 5432))
        for key, name in (("user", "user"), ("password", "password"), ("database", "dbname")):
            if config.get(key) not in (None, ""):
                params[name] = config[key]
    else:
        raise ConfigError("invalid config", ["set 'sqlalchemy_url', or 'host' with 'port', 'user', 'password' "
                                             "and 'database'"])
    storage = str(config.get("ssl_storage_directory") or ".secrets")
    if config.get("ssl_enable"):
        mode = config.get("ssl_mode") or "verify-full"
        if mode not in SSL_MODES:
            raise ConfigError("invalid config", [f"setting 'ssl_mode': {mode!r} is not one of {', '.join(SSL_MODES)}"])
        params["sslmode"] = mode
        if config.get("ssl_certificate_authority"):
            params["sslrootcert"] = _cert_file(str(config["ssl_certificate_authority"]), storage, "root.crt")
    if config.get("ssl_client_certificate_enable"):
        for key, name, file in (("ssl_client_certificate", "sslcert", "client.crt"),
                                ("ssl_client_private_key", "sslkey", "client.key")):
            if not config.get(key):
                raise ConfigError("invalid config", [f"setting '{key}': required when ssl_client_certificate_enable"])
            params[name] = _cert_file(str(config[key]), storage, file)
    return conninfo, params


def describe(conninfo: str, params: Mapping[str, Any]) -> str:
    """host:port/database, for messages; never the password."""
    if conninfo:
        parts = urlsplit(conninfo)
        try:
            port = parts.port or 5432
        except ValueError:
            raise ConfigError("invalid config", ["the connection URL has a bad port"]) from None
        if parts.hostname or parts.path:
            return f"{parts.hostname or 'localhost'}:{port}{parts.path or ''}"
        return "the configured server"
    return f"{params.get('host')}:{params.get('port')}/{params.get('dbname', '')}"
