"""The PostgreSQL connection of tap-postgres: settings to conninfo, SSL, and error mapping.

Every psycopg error enters our code through :func:`source_error`, which maps it into
protocol.errors: bad credentials, a missing database or privilege are fatal; a refused or
dropped connection, a server shutdown or a serialization failure may be retried.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import errors as pg_errors

from protocol.errors import ConfigError, FatalSourceError, RetryableSourceError, SourceError

__all__ = ["SSL_MODES", "Source", "conninfo_from_config", "describe", "source_error"]

SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")

#: Session settings every value rendering relies on: UTC date-times, ISO dates and intervals.
SESSION_OPTIONS = "-c TimeZone=UTC -c DateStyle=ISO,YMD -c IntervalStyle=iso_8601 -c extra_float_digits=1"

_FATAL_CONNECT = ("password authentication failed", "does not exist", "no pg_hba.conf entry",
                  "permission denied", "certificate", "SSL", "role")


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


def conninfo_from_config(config: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """(conninfo, keyword parameters) for psycopg.connect, from the tap's settings.

    ``sqlalchemy_url`` wins over the separate fields (as in MeltanoLabs tap-postgres); a
    ``+driver`` suffix in its scheme is dropped. The ssl_* settings apply to both.
    """
    params: dict[str, Any] = {"application_name": "sluice tap-postgres", "options": SESSION_OPTIONS}
    url = config.get("sqlalchemy_url")
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
    """host:port/db for messages; never the password."""
    if conninfo:
        parts = urlsplit(conninfo)
        try:
            port = parts.port or 5432
        except ValueError:
            raise ConfigError("invalid config", ["setting 'sqlalchemy_url': bad port"]) from None
        return f"{parts.hostname or 'localhost'}:{port}{parts.path or ''}"
    return f"{params.get('host')}:{params.get('port')}/{params.get('dbname', '')}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def source_error(exc: psycopg.Error, where: str, doing: str) -> SourceError:
    """Map a psycopg error into the kit's tree (raise the result ``from exc``)."""
    message = f"PostgreSQL at {where}: {doing}: {_first_line(exc)}"
    if isinstance(exc, (pg_errors.InsufficientPrivilege, pg_errors.InvalidPassword,
                        pg_errors.InvalidAuthorizationSpecification, pg_errors.UndefinedTable,
                        pg_errors.UndefinedColumn, pg_errors.UndefinedObject, pg_errors.InvalidCatalogName,
                        pg_errors.ObjectNotInPrerequisiteState, pg_errors.FeatureNotSupported,
                        pg_errors.SyntaxError, pg_errors.DataException)):
        return FatalSourceError(message)
    if isinstance(exc, (pg_errors.SerializationFailure, pg_errors.DeadlockDetected,
                        pg_errors.AdminShutdown, pg_errors.CannotConnectNow, pg_errors.QueryCanceled)):
        return RetryableSourceError(message)
    if isinstance(exc, psycopg.OperationalError):
        detail = str(exc)
        if any(marker in detail for marker in _FATAL_CONNECT):
            return FatalSourceError(message)
        return RetryableSourceError(message)
    return FatalSourceError(message)


class Source:
    """One autocommit connection with the session settings the tap relies on, and where it points."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        conninfo, params = conninfo_from_config(config)
        self.where = describe(conninfo, params)
        try:
            self.conn: psycopg.Connection[Any] = psycopg.connect(conninfo, autocommit=True, connect_timeout=10,
                                                                 **params)
        except psycopg.Error as exc:
            raise source_error(exc, self.where, "cannot connect") from exc

    def error(self, exc: psycopg.Error, doing: str) -> SourceError:
        return source_error(exc, self.where, doing)

    def query(self, statement: Any, params: Any = None, *, doing: str) -> list[tuple[Any, ...]]:
        """Run one statement and return every row; errors mapped."""
        try:
            with self.conn.cursor() as cur:
                cur.execute(statement, params)
                return cur.fetchall() if cur.description else []
        except psycopg.Error as exc:
            raise self.error(exc, doing) from exc

    def copy_rows(self, query: Any, doing: str) -> Iterator[bytes]:
        """The rows of a ``COPY ... TO STDOUT`` (each ending in a newline), streamed."""
        try:
            with self.conn.cursor() as cur, cur.copy(query) as copy:
                for data in copy:
                    yield bytes(data)
        except psycopg.Error as exc:
            raise self.error(exc, doing) from exc

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
