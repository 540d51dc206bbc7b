"""The PostgreSQL connection kit, shared by every connector that talks to PostgreSQL.

    conninfo, params = conninfo_from_settings(config, application_name="sluice tap-x")
    try:
        conn = connect(conninfo, params, autocommit=True)
    except psycopg.Error as exc:
        cause = unreachable(exc)  # "connection refused (...)", or None: reached, and refused
        ...

The settings (``CONNECTION_SETTINGS``, ``SSL_SETTINGS``: MeltanoLabs' names) go into a
connector's settings schema; :func:`conninfo_from_settings` turns them into psycopg's conninfo
and keyword parameters (SSL files included), :func:`describe` into host:port/database for
messages. What a failed connection means is read here once (:func:`unreachable`,
:func:`refused_for_good`); each connector raises its own error from it. Everything not listed
in ``__all__`` is private (modules ``protocol.pg._x``); names are imported on first use (PEP 562),
so psycopg is loaded only by a connector that connects.
"""

from typing import TYPE_CHECKING

from protocol._face import lazy_attributes

if TYPE_CHECKING:
    from protocol.pg._connect import CONNECT_TIMEOUT, connect, first_line, refused_for_good, unreachable
    from protocol.pg._conninfo import CONNECTION_SETTINGS, SSL_MODES, SSL_SETTINGS, conninfo_from_settings, describe

_LAZY: dict[str, tuple[str, str]] = {
    "CONNECTION_SETTINGS": ("protocol.pg._conninfo", "CONNECTION_SETTINGS"),
    "CONNECT_TIMEOUT": ("protocol.pg._connect", "CONNECT_TIMEOUT"),
    "SSL_MODES": ("protocol.pg._conninfo", "SSL_MODES"),
    "SSL_SETTINGS": ("protocol.pg._conninfo", "SSL_SETTINGS"),
    "connect": ("protocol.pg._connect", "connect"),
    "conninfo_from_settings": ("protocol.pg._conninfo", "conninfo_from_settings"),
    "describe": ("protocol.pg._conninfo", "describe"),
    "first_line": ("protocol.pg._connect", "first_line"),
    "refused_for_good": ("protocol.pg._connect", "refused_for_good"),
    "unreachable": ("protocol.pg._connect", "unreachable"),
}

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)

__all__ = [
    "CONNECTION_SETTINGS",
    "CONNECT_TIMEOUT",
    "SSL_MODES",
    "SSL_SETTINGS",
    "connect",
    "conninfo_from_settings",
    "describe",
    "first_line",
    "refused_for_good",
    "unreachable",
]
