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

from protocol._face import lazy_attributes, lazy_table

if TYPE_CHECKING:  # what a type checker sees: the names declared below (``X as X`` re-exports them)
    from protocol.pg._connect import CONNECT_TIMEOUT as CONNECT_TIMEOUT
    from protocol.pg._connect import connect as connect
    from protocol.pg._connect import first_line as first_line
    from protocol.pg._connect import refused_for_good as refused_for_good
    from protocol.pg._connect import unreachable as unreachable
    from protocol.pg._conninfo import CONNECTION_SETTINGS as CONNECTION_SETTINGS
    from protocol.pg._conninfo import SSL_MODES as SSL_MODES
    from protocol.pg._conninfo import SSL_SETTINGS as SSL_SETTINGS
    from protocol.pg._conninfo import conninfo_from_settings as conninfo_from_settings
    from protocol.pg._conninfo import describe as describe

_LAZY = lazy_table(__name__, {  # private module: its public names
    "_connect": ["CONNECT_TIMEOUT", "connect", "first_line", "refused_for_good", "unreachable"],
    "_conninfo": ["CONNECTION_SETTINGS", "SSL_MODES", "SSL_SETTINGS", "conninfo_from_settings", "describe"],
})

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
__all__ = sorted(_LAZY)
