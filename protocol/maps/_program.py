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
import orjson

from protocol._cli import _connector_command, _start, run_cli
from protocol._errors import ProtocolError
from protocol._exitcodes import CONNECTOR_CODES, describe_exit_codes
from protocol._jsoncodec import _default as _jsoncodec_default
from protocol._jsoncodec import dumps, needs_exact_parse
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
    plans: dict[str, list[tuple[str, Any]] | None] = {}
    batch = _Batch(writer)
    rows, key = batch.rows, batch.key
    readline, most, loads, dumps_fast, default = source.readline, reader.max_line_bytes, orjson.loads, orjson.dumps, \
        _jsoncodec_default
    n = 0
    while line := readline(most + 1):
        n += 1
        # the hot path: a plain RECORD of a stream whose SCHEMA was seen, mapped straight from orjson's
        # dict; every other line (and any line the checks below doubt) goes through the strict reader
        if len(line) <= most and not needs_exact_parse(line):
            try:
                obj = loads(line)
            except orjson.JSONDecodeError:
                obj = None
            if obj.__class__ is dict and obj.get("type") == "RECORD":
                stream, record = obj.get("stream"), obj.get("record")
                plan = plans.get(stream) if stream.__class__ is str else None
                if plan is not None and record.__class__ is dict and obj.get("time_extracted") is None:
                    version = obj.get("version")
                    for name, apply in plan:
                        mapped = apply(record, n)
                        if mapped is not None:
                            if key[0] != name or key[1] != version:
                                batch.flush()
                                key[0], key[1] = name, version
                            try:
                                rows.append(dumps_fast(mapped, default=default))
                            except TypeError:  # an integer past 64 bits, nesting orjson refuses
                                rows.append(dumps(mapped))
                    if len(rows) >= _BLOCK_ROWS:
                        batch.flush()
                    continue
        reader.line_number = n
        parsed = reader.parse_line(line, n)
        if parsed is not None:
            batch.flush()
            _message(parsed, writer, maps, plans)
    batch.flush()


# rows per block: a block of about 30 KB stays below the allocator's mmap threshold; blocks of 1,000
# rows (300 KB) were mapped and unmapped each time: 230,000 page faults on 200,000 records, 0.5 s of system time
_BLOCK_ROWS = 100


class _Batch:
    """Mapped records of one output stream (and version) in a row, written as one block."""

    __slots__ = ("key", "rows", "writer")

    def __init__(self, writer: MessageWriter) -> None:
        self.writer = writer
        self.rows: list[bytes] = []
        self.key: list[Any] = ["", None]  # the output stream and version of the rows

    def flush(self) -> None:
        if self.rows:
            self.writer.write_records_json(self.key[0], b"\n".join(self.rows) + b"\n", version=self.key[1])
            self.rows.clear()


def _message(msg: Any, writer: MessageWriter, maps: StreamMaps, plans: dict[str, Any]) -> None:
    if isinstance(msg, RecordMessage):
        for stream, out in maps.record(msg.stream, msg.record, msg.line):
            writer.write_record(stream, out, version=msg.version, time_extracted=msg.time_extracted)
    elif isinstance(msg, SchemaMessage):
        for schema in maps.schema(msg):
            writer.write_message(schema)
        plans[msg.stream] = maps.plan(msg.stream)
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


_SUMMARY = ("A Singer mapper: reads Singer lines on stdin (or --input), writes them mapped on stdout; STATE lines "
            "pass untouched. Settings: stream_maps, stream_map_config, flattening_enabled, flattening_max_depth "
            f"(docs/stream-maps.md). Exit codes: {describe_exit_codes(CONNECTOR_CODES, connector=True, sep=', ')}.")
_TEST = ("Check the config (the stream maps): exit 0, or 2 listing every problem. --test=schema checks it against "
         "the settings schema only.")


def _build() -> click.Command:
    @_connector_command(MapperSluice, _SUMMARY, _TEST)
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
