"""Stream maps and schema flattening, compatible with singer-sdk's, for every connector and mapper-sluice.

    maps = StreamMaps.from_config(config, program="tap-x")   # None: nothing asked for
    if maps is not None:
        schemas = maps.schema(schema_message)          # [] when the stream is dropped
        pairs = maps.record(stream, record, line)      # [(output stream, output record), ...]
        names = maps.streams(stream)                   # ACTIVATE_VERSION / BATCH fan-out

``MAP_SETTINGS`` goes into a connector's settings schema. An invalid map is a ``ConfigError``
(exit 2) listing every problem; an expression failing on a record a ``MapExpressionError``
(a ``ProtocolError``: line, stream, property; its tree in protocol/maps/_errors.py). Expressions
are compiled once per stream to closures over a whitelist of Python syntax (see
docs/stream-maps.md). Everything not listed in ``__all__`` is private (modules
``protocol.maps._x``); names are imported on first use (PEP 562).
"""

from typing import TYPE_CHECKING

from protocol._face import lazy_attributes, lazy_table

if TYPE_CHECKING:  # what a type checker sees: the names declared below (``X as X`` re-exports them)
    from protocol.maps._errors import MapExpressionError as MapExpressionError
    from protocol.maps._settings import MAP_SETTINGS as MAP_SETTINGS
    from protocol.maps._streammaps import StreamMaps as StreamMaps

_LAZY = lazy_table(__name__, {  # private module: its public names
    "_errors": ["MapExpressionError"],
    "_settings": ["MAP_SETTINGS"],
    "_streammaps": ["StreamMaps"],
})

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)

__all__ = sorted(_LAZY)
