"""Stream maps on the tap side: a :class:`MessageWriter` that maps what a tap writes.

A tap writes through its writer whatever it reads (SCHEMA, RECORD, bulk rows, ACTIVATE_VERSION);
with stream maps configured (``stream_maps`` or ``flattening_enabled``, see protocol/maps/) the
CLI hands the tap a :class:`MappedWriter` instead, which writes the mapped messages. Without
maps nothing here is loaded: the tap keeps the plain writer and its hot path as it is.

STATE messages pass untouched (bookmarks speak of the source, not of the mapped streams).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any

from protocol._jsoncodec import dumps, loads
from protocol._messages import ActivateVersionMessage, BatchMessage, Message, SchemaMessage
from protocol._writer import MessageWriter
from protocol.maps._errors import MapRecordError, record_named

if TYPE_CHECKING:
    from protocol.maps import StreamMaps

__all__ = ["MAP_SWITCHES", "MappedWriter", "stream_maps_from_config"]

#: The settings that ask for mapping; a config with none of them set never loads the engine.
MAP_SWITCHES = ("stream_maps", "flattening_enabled")


def stream_maps_from_config(config: Mapping[str, Any], program: str, *, decoded: bool = True) -> StreamMaps | None:
    """The connector's stream maps, or None when its config asks for none (the engine is then
    not even imported). An invalid map raises :class:`protocol.ConfigError` listing every problem.
    ``decoded``: the records mapped are decoded from JSON lines (a target's); a tap maps its own values."""
    if not any(config.get(key) for key in MAP_SWITCHES):
        return None
    from protocol.maps import StreamMaps

    return StreamMaps.from_config(config, program=program, decoded=decoded)


class MappedWriter(MessageWriter):
    """The writer of a tap with stream maps: every message is mapped, then written as usual."""

    def __init__(self, stream: IO[bytes], maps: StreamMaps, *, buffer_bytes: int = 256 * 1024) -> None:
        super().__init__(stream, buffer_bytes=buffer_bytes)
        self.maps = maps
        self._map = maps.record
        self._write = MessageWriter.write_record.__get__(self)  # the plain writer's, bound once
        #: per stream the tap writes: the records handed here so far, and its key properties (from its
        #: SCHEMA), which name a record the maps fail on (no input line names it)
        self._counts: dict[str, int] = {}
        self._keys: dict[str, list[str]] = {}

    def write_record(
        self,
        stream: str,
        record: dict[str, Any],
        *,
        version: int | None = None,
        time_extracted: str | None = None,
    ) -> None:
        write = self._write
        counts = self._counts
        counts[stream] = number = counts.get(stream, 0) + 1
        try:
            outs = self._map(stream, record)
        except MapRecordError as exc:
            exc.locate(record_named(number, record, self._keys.get(stream, ())))
            raise
        for out_stream, out_record in outs:
            write(out_stream, out_record, version=version, time_extracted=time_extracted)

    def write_records_json(self, stream: str, rows: bytes, *, version: int | None = None) -> None:
        """Bulk rows (one JSON object a line): decoded in one call, mapped, encoded again per
        output stream, and written in bulk."""
        if not rows:
            return
        records = loads(b"[" + rows[:-1].replace(b"\n", b",") + b"]")
        by_stream: dict[str, list[bytes]] = {}
        mapped = self.maps.record
        before = self._counts.get(stream, 0)
        for k, record in enumerate(records):
            try:
                outs = mapped(stream, record)
            except MapRecordError as exc:
                exc.locate(record_named(before + k + 1, record, self._keys.get(stream, ())))
                raise
            for out_stream, out_record in outs:
                lines = by_stream.get(out_stream)
                if lines is None:
                    lines = by_stream[out_stream] = []
                lines.append(dumps(out_record))
        self._counts[stream] = before + len(records)
        write = super().write_records_json
        for out_stream, lines in by_stream.items():
            lines.append(b"")
            write(out_stream, b"\n".join(lines), version=version)

    def write_message(self, message: Message) -> None:
        if isinstance(message, SchemaMessage):
            self._keys[message.stream] = list(message.key_properties or ())
            for mapped in self.maps.schema(message):
                super().write_message(mapped)
        elif isinstance(message, ActivateVersionMessage):
            for out_stream in self.maps.streams(message.stream):
                super().write_message(ActivateVersionMessage(out_stream, message.version, message.line))
        elif isinstance(message, BatchMessage):
            # a BATCH's records are in files this writer does not read: they would pass unmapped
            raise NotImplementedError("BATCH messages cannot be stream-mapped by the tap")
        else:
            super().write_message(message)
