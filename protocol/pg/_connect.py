"""Opening a PostgreSQL connection, and reading why it failed (psycopg; shared by tap-postgres and
target-postgres).

What a connector makes of a failure is its own (a tap raises a SourceError, a target a
TargetError); what the failure *is* is decided here once: a server that could not be reached
(:func:`unreachable` names the cause in our words: "connection refused", "name resolution
failed", ...), or a refusal that no retry can mend (:func:`refused_for_good`: bad credentials, a
missing database or role, no pg_hba entry, an SSL or certificate problem).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg

__all__ = ["CONNECT_TIMEOUT", "connect", "first_line", "refused_for_good", "unreachable"]

#: seconds libpq waits for a server to answer
CONNECT_TIMEOUT = 10

#: libpq's words for a server that cannot be reached, and ours
_UNREACHABLE = (("failed to resolve host", "name resolution failed"),
                ("could not translate host name", "name resolution failed"),
                ("Connection refused", "connection refused"), ("timeout expired", "connection timed out"),
                ("No route to host", "no route to host"), ("Network is unreachable", "network is unreachable"))

#: words of a connection refused for a reason that a retry does not change
_FOR_GOOD = ("password authentication failed", "does not exist", "no pg_hba.conf entry",
             "permission denied", "certificate", "SSL", "role")


def connect(conninfo: str, params: Mapping[str, Any], *, autocommit: bool = False) -> psycopg.Connection[Any]:
    """A new connection from :func:`protocol.pg.conninfo_from_settings`'s result; psycopg's error
    is raised as it is, for the connector to map."""
    return psycopg.connect(conninfo, autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT, **params)


def first_line(exc: BaseException) -> str:
    """The first line of an error's text (psycopg adds hints and context below it)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def unreachable(exc: BaseException) -> str | None:
    """Why the server could not be reached, with libpq's detail: "connection refused (...)";
    None when it was reached (or the cause is not one of these)."""
    text = str(exc)
    cause = next((ours for words, ours in _UNREACHABLE if words in text), None)
    if cause is None:
        return None
    return f"{cause} ({first_line(exc).removeprefix('connection failed: ')})"


def refused_for_good(exc: BaseException) -> bool:
    """Whether a failed connection was refused for a reason a retry does not change."""
    detail = str(exc)
    return any(marker in detail for marker in _FOR_GOOD)
