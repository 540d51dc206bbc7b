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
from protocol._exactdecode import loads_decimals
from protocol._exitcodes import CONNECTOR_CODES, describe_exit_codes
from protocol._jsoncodec import _default as _jsoncodec_default
from protocol._jsoncodec import dumps, long_digit_lines
from protocol._lines import line_blocks
from protocol._logs import setup_logging
from protocol._messages import ActivateVersionMessage, BatchMessage, RecordMessage, SchemaMessage, StateMessage
from protocol._reader import MessageReader
from protocol._settings_check import with_kit_settings
from protocol._writer import MessageWriter
from protocol.maps._settings import MAP_SETTINGS
from protocol.maps._streammaps import StreamMaps

__all__ = ["READ_BYTES", "LineMapper", "MapperSluice", "main", "map_stream"]


class MapperSluice:
    """The mapper as a connector-like class: name, settings schema, capabilities (for --about)."""

    name = "mapper-sluice"
    description = ("Applies stream maps (rename, filter, mask, drop, copy streams; computed properties) and "
                   "schema flattening to a Singer stream, compatible with singer-sdk's stream maps.")
    capabilities: ClassVar[list[str]] = ["about", "stream-maps", "schema-flattening", "activate-version"]
    settings_schema: ClassVar[dict[str, Any]] = with_kit_settings({"type": "object", "properties": {
        **MAP_SETTINGS,
        "workers": {
            "type": "integer",
            "minimum": 1,
            "description": ("Processes that map records side by side (1: all in this process). Default: one per "
                            "CPU this process may use, at most 4; an input of less than one read (256 KiB) of "
                            "records starts none. The output is the same: every line in input order, each STATE "
                            "after the records before it, the same error for the same bad line."),
        },
    }})

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.maps = StreamMaps.from_config(config, program=self.name)
        workers = config.get("workers")
        if workers is None:
            from protocol.maps._parallel import default_workers
            workers = default_workers()
        self.workers: int = workers

    def test_connection(self) -> str:
        return "nothing to connect to: the stream maps are valid"


def map_stream(source: IO[bytes], writer: MessageWriter, maps: StreamMaps | None, *, workers: int = 1) -> None:
    """Read Singer lines from ``source``, write them mapped with ``writer``; with ``workers`` > 1,
    long runs of RECORD lines are mapped by that many processes (protocol.maps._parallel)."""
    reader = MessageReader(source, validate_records=False)
    if maps is None:
        for msg in reader:
            _pass(msg, writer)
        return
    mapper = LineMapper(reader, writer, maps)
    if workers > 1:
        from protocol.maps._parallel import can_fork, map_parallel
        if can_fork():
            map_parallel(source, mapper, workers)
            return
    n = 0
    for data, cut in line_blocks(source, reader.max_line_bytes, READ_BYTES):
        if cut < 0:  # the last line, without its newline (or the start of one too long)
            n = mapper.run([data], n, b"")
        else:
            n = mapper.run_text(data[:cut] if cut < len(data) else data, n)
    mapper.flush()


class LineMapper:
    """Maps lines: the hot loop of mapper-sluice (also run by each worker process)."""

    def __init__(self, reader: MessageReader, writer: MessageWriter, maps: StreamMaps) -> None:
        self.reader = reader
        self.writer = writer
        self.maps = maps
        self.plans: dict[str, list[tuple[str, Any]] | None] = {}
        reader.exact_streams = maps.exact_streams  # one set: the maps decide when a SCHEMA arrives
        self.batch = _Batch(writer)
        #: set by :meth:`run` with ``stop``: the index of the line it stopped at, and that line's message
        self.stopped: tuple[int, Any] | None = None

    def flush(self) -> None:
        self.batch.flush()

    def run_text(self, text: bytes, n: int, *, stop: bool = False) -> int:
        """Map the whole lines of ``text`` (it ends with a newline), the first being line ``n`` + 1;
        the number of the last (see :meth:`run`)."""
        lines = text.split(b"\n")
        lines.pop()  # after the last newline
        # lines with a number a float could round are read by the strict reader's exact parse
        return self.run(lines, n, b"\n", set(long_digit_lines(text)), stop=stop)

    def handle(self, msg: Any) -> None:
        """The message :meth:`run` stopped at (a SCHEMA, ACTIVATE_VERSION or BATCH)."""
        _message(msg, self.writer, self.maps, self.plans)

    def run(self, lines: list[bytes], n: int, ending: bytes, doubted: set[int] | None = None, *,
            stop: bool = False) -> int:
        """Map ``lines`` (without their newline, ``ending`` each), the first being line ``n`` + 1.
        With ``stop``, the first line that is neither a RECORD nor a STATE is parsed, not handled:
        :attr:`stopped` says which, and the number returned is that of the line before it."""
        self.stopped = None
        if doubted is None:
            doubted = set(range(len(lines)))
        plans, batch, reader, writer, maps = self.plans, self.batch, self.reader, self.writer, self.maps
        rows, key = batch.rows, batch.key
        most, loads, dumps_fast, default = reader.max_line_bytes, orjson.loads, orjson.dumps, _jsoncodec_default
        exact = maps.exact_streams  # their records are read with each decimal as written
        for i, line in enumerate(lines):
            n += 1
            # the hot path: a plain RECORD of a stream whose SCHEMA was seen, mapped straight from orjson's
            # dict; every other line (and any line the checks below doubt) goes through the strict reader
            if len(line) < most and not (doubted and i in doubted):
                try:
                    obj = loads(line)
                except orjson.JSONDecodeError:
                    obj = None
                if obj.__class__ is dict and obj.get("type") == "RECORD":
                    stream, record = obj.get("stream"), obj.get("record")
                    plan = plans.get(stream) if stream.__class__ is str else None
                    version = obj.get("version")  # not an int: the strict reader names the line
                    if (plan is not None and record.__class__ is dict and obj.get("time_extracted") is None
                            and (version is None or version.__class__ is int)):
                        if exact and stream in exact:
                            record = loads_decimals(line)["record"]
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
            parsed = reader.parse_line(line + ending, n)
            if parsed is not None:
                batch.flush()
                if stop and parsed.__class__ is not RecordMessage and parsed.__class__ is not StateMessage:
                    self.stopped = (i, parsed)
                    return n - 1
                _message(parsed, writer, maps, plans)
        return n


#: bytes read at a time: lines are split and screened for long digit runs per read, not per line
READ_BYTES = 1 << 18

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
            map_stream(input_file if input_file is not None else sys.stdin.buffer, writer, mapper.maps,
                       workers=mapper.workers)
            writer.close()

        run_cli(body)

    return command


main = _build()
