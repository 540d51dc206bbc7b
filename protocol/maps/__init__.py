"""Stream maps and schema flattening, compatible with singer-sdk's, for every connector and mapper-sluice.

    maps = StreamMaps.from_config(config, program="tap-x")   # None: nothing asked for
    if maps is not None:
        schemas = maps.schema(schema_message)          # [] when the stream is dropped
        pairs = maps.record(stream, record, line)      # [(output stream, output record), ...]
        names = maps.streams(stream)                   # ACTIVATE_VERSION / BATCH fan-out

``MAP_SETTINGS`` goes into a connector's settings schema. An invalid map is a ``ConfigError``
(exit 2) listing every problem; an expression failing on a record a ``MapExpressionError``
(a ``ProtocolError``: line, stream, property). Expressions are compiled once per stream to
closures over a whitelist of Python syntax (see docs/stream-maps.md). Everything not listed in
``__all__`` is private (modules ``protocol.maps._x``); names are imported on first use (PEP 562).
"""

from typing import TYPE_CHECKING

from protocol._face import lazy_attributes

if TYPE_CHECKING:
    from protocol.maps._errors import MapExpressionError
    from protocol.maps._settings import MAP_SETTINGS
    from protocol.maps._streammaps import StreamMaps

_LAZY: dict[str, tuple[str, str]] = {
    "MAP_SETTINGS": ("protocol.maps._settings", "MAP_SETTINGS"),
    "MapExpressionError": ("protocol.maps._errors", "MapExpressionError"),
    "StreamMaps": ("protocol.maps._streammaps", "StreamMaps"),
}

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)

__all__ = [
    "MAP_SETTINGS",
    "MapExpressionError",
    "StreamMaps",
]
