"""The PostgreSQL connection of tap-postgres: its session settings, COPY reading, and error mapping
(settings, conninfo, SSL and connecting are the kit's :mod:`protocol.pg`).

Every psycopg error enters our code through :func:`source_error`, which maps it into
the kit's error tree: bad credentials, a missing database or privilege are fatal; a refused or
dropped connection, a server shutdown or a serialization failure may be retried. A server
that cannot be reached says why first (:func:`connect_error`): "cannot reach PostgreSQL at
HOST:PORT/DB: connection refused (...)", "... name resolution failed (...)".
"""

from __future__ import annotations

import select
from collections.abc import Iterator, Mapping
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import pq, sql

from protocol import FatalSourceError, RetryableSourceError, SourceError
from protocol.pg import SSL_MODES, connect, conninfo_from_settings, describe, first_line, refused_for_good, unreachable

#: rows of a COPY handed over at once by :meth:`Source.copy_blocks`
BLOCK_ROWS = 500

__all__ = ["BLOCK_ROWS", "SSL_MODES", "Source", "connect_error", "conninfo_from_config", "describe", "source_error"]


#: Session settings every value rendering relies on: UTC date-times, ISO dates and intervals,
#: money as ``$1,234.56`` whatever the server's locale (logical decoding's converter reads that text),
#: and bytea as hex (``\x00ff``: bytea[] elements, logical decoding) whatever the database's or role's bytea_output
SESSION_OPTIONS = ("-c TimeZone=UTC -c DateStyle=ISO,YMD -c IntervalStyle=iso_8601 -c extra_float_digits=1 "
                   "-c lc_monetary=C -c bytea_output=hex")

def conninfo_from_config(config: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """(conninfo, keyword parameters) for psycopg.connect, from the tap's settings."""
    return conninfo_from_settings(config, application_name="sluice tap-postgres", options=SESSION_OPTIONS)


def source_error(exc: psycopg.Error, where: str, doing: str) -> SourceError:
    """Map a psycopg error into the kit's tree (raise the result ``from exc``)."""
    message = f"PostgreSQL at {where}: {doing}: {first_line(exc)}"
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
        return FatalSourceError(message) if refused_for_good(exc) else RetryableSourceError(message)
    return FatalSourceError(message)


def connect_error(exc: psycopg.Error, where: str) -> SourceError:
    """A failed connection attempt: its cause first when the server could not be reached."""
    cause = unreachable(exc)
    if cause is None:
        return source_error(exc, where, "cannot connect")
    return RetryableSourceError(f"cannot reach PostgreSQL at {where}: {cause}")


class Source:
    """One autocommit connection with the session settings the tap relies on, and where it points."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        conninfo, params = conninfo_from_config(config)
        self.where = describe(conninfo, params)
        try:
            self.conn: psycopg.Connection[Any] = connect(conninfo, params, autocommit=True)
        except psycopg.Error as exc:
            raise connect_error(exc, self.where) from exc

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

    def copy_blocks(self, query: sql.Composable, doing: str, rows: int = BLOCK_ROWS,
                    ) -> Iterator[tuple[bytes, bytes, int]]:
        """The rows of a ``COPY ... TO STDOUT`` in blocks of up to ``rows``: (the rows joined,
        each ending in a newline; the last row; how many).

        Reads through libpq directly (one call per row, no Python generator per row), which
        takes about half the client CPU of psycopg's row iterator; psycopg's errors and its
        connection state are kept: the COPY is consumed to the end, or the connection closed.
        """
        conn = self.conn
        try:
            statement = query.as_bytes(conn)
        except psycopg.Error as exc:
            raise self.error(exc, doing) from exc
        pg = conn.pgconn
        done = False
        try:
            pg.send_query(statement)
            self._result(pq.ExecStatus.COPY_OUT)
            get, sock = pg.get_copy_data, pg.socket
            block: list[Any] = []
            while True:
                size, data = get(1)
                if size > 0:
                    block.append(data)
                    if len(block) >= rows:
                        yield b"".join(block), bytes(block[-1]), len(block)
                        block = []
                elif size == 0:
                    select.select([sock], [], [])
                    pg.consume_input()
                elif size == -1:
                    break
                else:
                    raise psycopg.OperationalError(pg.error_message.decode("utf-8", "replace").strip())
            if block:
                yield b"".join(block), bytes(block[-1]), len(block)
            self._result(pq.ExecStatus.COMMAND_OK)
            done = True
        except psycopg.Error as exc:
            raise self.error(exc, doing) from exc
        finally:
            if not done:
                conn.close()  # the COPY was not read to its end: the connection is unusable

    def _result(self, wanted: pq.ExecStatus) -> None:
        """Wait for the next result of the statement sent; raise its error unless it is ``wanted``
        (after its end: every result consumed)."""
        pg = self.conn.pgconn
        while True:
            pg.consume_input()
            if not pg.is_busy():
                break
            select.select([pg.socket], [], [])
        result = pg.get_result()
        if wanted == pq.ExecStatus.COMMAND_OK:
            while pg.get_result() is not None:
                pass
        if result is None:
            raise psycopg.OperationalError(pg.error_message.decode("utf-8", "replace").strip() or "no result")
        if result.status != wanted:
            raise _error_of(result)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _error_of(result: pq.abc.PGresult) -> psycopg.Error:
    """The psycopg exception of a failed result (its SQLSTATE class, as psycopg raises)."""
    message = (result.error_message or b"").decode("utf-8", "replace").strip() or "the statement failed"
    sqlstate = (result.error_field(pq.DiagnosticField.SQLSTATE) or b"").decode()
    try:
        cls: type[psycopg.Error] = pg_errors.lookup(sqlstate)
    except KeyError:
        cls = psycopg.DatabaseError
    return cls(message)
