"""mapper-sluice: Singer messages in on stdin, mapped out on stdout (stream maps and flattening).

    tap-x | mapper-sluice --config maps.json | target-y
    meltano run tap-x mapper-sluice target-y            (a Meltano mapper, ``mappings:``)

SCHEMA and RECORD lines are mapped by :class:`protocol.maps.StreamMaps`; STATE lines pass
untouched, each flushed with everything before it; ACTIVATE_VERSION goes to every output stream
of its input stream (none when the stream is dropped). BATCH lines (records in files) cannot be
mapped and are refused while maps are configured. Without any map setting the lines pass as they
are (parsed and checked). The exit codes are every connector's (protocol._exitcodes).
"""

from __future__ import annotations

import sys
from typing import IO, Any, ClassVar

import click

from protocol._cli import _connector_command, _start, run_cli
from protocol._errors import ProtocolError
from protocol._logs import setup_logging
from protocol._messages import ActivateVersionMessage, BatchMessage, RecordMessage, SchemaMessage, StateMessage
from protocol._reader import MessageReader
from protocol._settings_check import with_kit_settings
from protocol._writer import MessageWriter
from protocol.maps._settings import MAP_SETTINGS
from protocol.maps._streammaps import StreamMaps

__all__ = ["MapperSluice", "main", "map_stream"]


class MapperSluice:
    """The mapper as a connector-like class: name, settings schema, capabilities (for --about)."""

    name = "mapper-sluice"
    description = ("Applies stream maps (rename, filter, mask, drop, copy streams; computed properties) and "
                   "schema flattening to a Singer stream, compatible with singer-sdk's stream maps.")
    capabilities: ClassVar[list[str]] = ["about", "stream-maps", "schema-flattening", "activate-version"]
    settings_schema: ClassVar[dict[str, Any]] = with_kit_settings({"type": "object", "properties": MAP_SETTINGS})

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.maps = StreamMaps.from_config(config, program=self.name)

    def test_connection(self) -> str:
        return "nothing to connect to: the stream maps are valid"


def map_stream(source: IO[bytes], writer: MessageWriter, maps: StreamMaps | None) -> None:
    """Read Singer lines from ``source``, write them mapped with ``writer``."""
    reader = MessageReader(source, validate_records=False)
    if maps is None:
        for msg in reader:
            _pass(msg, writer)
        return
    record = maps.record
    write_record = writer.write_record
    for msg in reader:
        if msg.__class__ is RecordMessage:
            version, extracted = msg.version, msg.time_extracted  # type: ignore[union-attr]
            for stream, out in record(msg.stream, msg.record, msg.line):  # type: ignore[union-attr]
                write_record(stream, out, version=version, time_extracted=extracted)
        elif isinstance(msg, SchemaMessage):
            for schema in maps.schema(msg):
                writer.write_message(schema)
        elif isinstance(msg, ActivateVersionMessage):
            for stream in maps.streams(msg.stream):
                writer.write_activate_version(stream, msg.version)
        elif isinstance(msg, BatchMessage):
            raise ProtocolError("BATCH messages (records in files) cannot be mapped; "
                                "run the tap without batch_config", line=msg.line, stream=msg.stream)
        else:
            _pass(msg, writer)


def _pass(msg: Any, writer: MessageWriter) -> None:
    if isinstance(msg, RecordMessage):
        writer.write_record(msg.stream, msg.record, version=msg.version, time_extracted=msg.time_extracted)
    elif isinstance(msg, StateMessage):
        writer._add(msg.encode())  # every STATE as it came (the writer's own write_state skips repeats)
        writer.flush()
    else:
        writer.write_message(msg)


def _build() -> click.Command:
    @_connector_command(MapperSluice, "A Singer mapper: reads Singer lines on stdin (or --input), writes them "
                        "mapped on stdout.", "Check the config (the stream maps): exit 0, or 2 listing every "
                        "problem. --test=schema checks it against the settings schema only.")
    @click.option("--input", "input_file", type=click.File("rb"), default=None,
                  help="Read Singer messages from FILE instead of stdin ('-' for stdin).")
    def command(configs: tuple[str, ...], about: bool, fmt: str | None, test: str | None,
                input_file: IO[bytes] | None) -> None:
        setup_logging()

        def body() -> None:
            mapper = _start(MapperSluice, configs, about, fmt, test)
            if mapper is None:
                return
            writer = MessageWriter(sys.stdout.buffer)
            map_stream(input_file if input_file is not None else sys.stdin.buffer, writer, mapper.maps)
            writer.close()

        run_cli(body)

    return command


main = _build()
