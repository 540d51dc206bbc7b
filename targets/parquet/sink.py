"""target-parquet's sink: records buffered as JSON lines, converted to Arrow in large batches,
written as new Parquet files of the stream's current file set at every commit.

Records of the fast lane arrive as runs of exact JSON bytes (``add_run``) and are kept as they
are; records of the reference lane are encoded (exactly) into the same buffer. Every
``CONVERT_BYTES`` of buffered lines the buffer is handed to the run's worker thread, which
converts it to an Arrow table (convert.py) and, for a stream without field partitions, writes
it as row groups of the open file (hidden, see fileset.py) while the main thread reads on:
pyarrow releases the GIL, so reading and writing overlap. The flush waits for the worker and
makes the batch's files visible and durable (a stream with field partitions writes one file per
partition there), so the STATE the target emits next covers only records in visible files.
An error of the worker (a value no column holds, a write that failed) is raised in the main
thread, at the next hand-over or at the flush, before any STATE after it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pyarrow as pa

from protocol import ConfigError, RecordMessage, SchemaMessage, Sink, SluiceError, TargetError, dumps
from targets.parquet.columns import Column, plan_columns
from targets.parquet.convert import Lines, to_table
from targets.parquet.fileset import FileSet, OpenFile
from targets.parquet.settings import LOAD_DATE_KEY, ParquetSettings
from targets.parquet.unvalidated import plan_checks, refusal

if TYPE_CHECKING:
    from protocol import RecordRun

__all__ = ["CONVERT_BYTES", "ParquetSink", "RunFiles"]

log = logging.getLogger("sluice.target.parquet")

CONVERT_BYTES = 4 << 20
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"


@dataclass(frozen=True)
class RunFiles:
    """What every sink of one run shares: the file name stamp and the load date."""

    stamp: str       # part-<stamp>-<n>.parquet
    load_date: str   # YYYY-MM-DD, UTC, the run's start
    numbers: Iterator[int]
    worker: ThreadPoolExecutor  # one thread: a sink's conversions and writes run in order


@dataclass(frozen=True)
class Partitioning:
    """How a stream's batch is split into directories; decided at its SCHEMA."""

    field: str | None   # the record field partitioned by
    key: str | None     # its directory key
    keep: bool          # the field stays in the files (a date-time, partitioned by its date)
    timestamp: bool
    load_date: str | None  # "load_date=YYYY-MM-DD" or None

    @property
    def keys(self) -> list[str]:
        return ([LOAD_DATE_KEY] if self.load_date else []) + ([self.key] if self.key else [])


def plan_partitioning(stream: str, columns: list[Column], settings: ParquetSettings, run: RunFiles) -> Partitioning:
    names = {c.name: c for c in columns}
    load_date = f"{LOAD_DATE_KEY}={run.load_date}" if settings.partition_by_load_date else None
    if load_date and LOAD_DATE_KEY in names:
        raise ConfigError("invalid config", [f"stream '{stream}' has a property '{LOAD_DATE_KEY}', the directory key "
                                             "of partition_by_load_date: rename it with a stream map"])
    field = settings.partition_field(stream)
    if field is None or (field not in names and stream not in settings.partitions):
        return Partitioning(None, None, False, False, load_date)  # '*': only the streams that have the field
    column = names.get(field)
    if column is None:
        raise ConfigError("invalid config", [f"setting 'partition_by': stream '{stream}' has no property '{field}'"])
    if column.read_type is None or pa.types.is_nested(column.type):
        raise ConfigError("invalid config", [f"setting 'partition_by': property '{field}' of stream '{stream}' is "
                                             "an object, an array or of mixed types; partition by a scalar"])
    key = f"{field}_date" if column.timestamp else field
    if column.timestamp and key in names:
        raise ConfigError("invalid config", [f"setting 'partition_by': stream '{stream}' has a property '{key}', "
                                             f"the directory key of its date-time '{field}'"])
    return Partitioning(field, key, column.timestamp, column.timestamp, load_date)


class ParquetSink(Sink):
    accepts_runs = True
    run_values = False  # runs are written as their text
    loader: RunFiles
    settings: ParquetSettings

    def __init__(self, schema: SchemaMessage, loader: RunFiles, settings: ParquetSettings) -> None:
        super().__init__(schema, loader, settings)
        self._parts: list[bytes | memoryview] = []  # JSON lines, each part ending in a newline
        self._size = 0
        self._lines = Lines()
        self._tasks: list[Future[None]] = []
        # the worker's (the main thread touches them only after waiting for every task)
        self._staged: list[pa.Table] = []
        self._staged_rows = 0
        self._open: OpenFile | None = None
        self.fileset: FileSet | None = None
        self._plan()

    def _plan(self) -> None:
        self.columns = plan_columns(self.schema, self.settings)
        self.arrow_schema = pa.schema([pa.field(c.name, c.type) for c in self.columns])
        self._checks = plan_checks(self.columns, self.settings.validate_records)
        self.partitioning = plan_partitioning(self.stream, self.columns, self.settings, self.loader)
        split = self.partitioning
        file_schema = self.arrow_schema
        if split.field is not None and not split.keep:
            file_schema = file_schema.remove(file_schema.get_field_index(split.field))
        fileset = FileSet(self.settings, self.stream, file_schema, split.keys, self.loader.stamp, self.loader.numbers)
        if self.fileset is None or fileset.fingerprint != self.fileset.fingerprint:
            self.fileset = fileset
        self._streaming = split.field is None  # one open file per batch, written as tables come

    def update_schema(self, schema: SchemaMessage) -> None:
        super().update_schema(schema)  # the target drained this sink first: nothing is buffered
        self._plan()

    # -- records (the main thread) ---------------------------------------------------------

    def add(self, record: dict[str, Any], message: RecordMessage) -> None:
        for field, check in self._checks:  # records not validated only
            value = record.get(field)
            if value is not None and (found := check(value)) is not None:
                raise refusal(found, self.stream, field, message.line or None)
        data = dumps(record) + b"\n"
        self._parts.append(data)
        self._size += len(data)
        self._lines.add(message.line, 1)
        if self._size >= CONVERT_BYTES:
            self._hand_over()

    def add_run(self, run: RecordRun) -> bool:
        self._parts += (run.records, b"\n")
        self._size += len(run.records) + 1
        if run.lines is None:
            self._lines.add(run.first_line, run.count)
        else:  # stream maps' filter dropped some of the run's lines
            for line in run.lines:
                self._lines.add(line, 1)
        if self._size >= CONVERT_BYTES:
            self._hand_over()
        return True

    def _hand_over(self) -> None:
        """The buffered lines to the worker; first, any error of its finished tasks."""
        tasks = self._tasks
        while tasks and tasks[0].done():
            self._result(tasks.pop(0))
        if not self._lines.count:
            return
        data = b"".join(self._parts)
        self._parts = []
        self._size = 0
        lines, self._lines = self._lines, Lines()
        tasks.append(self.loader.worker.submit(self._stage, data, lines))

    def _result(self, task: Future[None]) -> None:
        try:
            task.result()
        except (OSError, pa.ArrowException) as exc:
            raise TargetError(f"stream '{self.stream}': cannot write Parquet: {exc}") from exc

    def _wait(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            self._result(task)

    # -- the worker ------------------------------------------------------------------------

    def _stage(self, data: bytes, lines: Lines) -> None:
        table = to_table(data, self.columns, self.arrow_schema, lines, self.stream)
        self._staged.append(table)
        self._staged_rows += table.num_rows
        if self._streaming and self._staged_rows >= self.settings.row_group_rows:
            self._write_staged()

    def _take_staged(self) -> pa.Table:
        staged = self._staged
        table = pa.concat_tables(staged) if len(staged) > 1 else staged[0]
        self._staged = []
        self._staged_rows = 0
        return table

    def _write_staged(self) -> None:
        """The staged tables into the open file (a new one when full or none is open)."""
        assert self.fileset is not None
        table = self._take_staged()
        most = self.settings.max_rows_per_file
        while table.num_rows:
            if self._open is None:
                self._open = self.fileset.start(self.partitioning.load_date or "")
            room = most - self._open.rows if most else table.num_rows
            self._open.write(table.slice(0, room))
            table = table.slice(room)
            if most and self._open.rows >= most:
                self._open.commit()
                self._open = None

    # -- commits (the main thread) ---------------------------------------------------------

    def flush(self) -> None:
        self._hand_over()
        self._wait()
        if not self._staged and self._open is None:
            return
        try:
            if self._streaming:
                if self._staged:
                    self._write_staged()
                if self._open is not None:
                    self._open.commit()
                    self._open = None
                return
            self._write_partitions(self._take_staged())
        except pa.ArrowException as exc:
            raise TargetError(f"stream '{self.stream}': cannot write Parquet: {exc}") from exc

    def _write_partitions(self, table: pa.Table) -> None:
        assert self.fileset is not None
        most = self.settings.max_rows_per_file or table.num_rows
        for partition, part in self._partitions(table):
            for start in range(0, part.num_rows, most):
                self.fileset.write(part.slice(start, most), partition)

    def _partitions(self, table: pa.Table) -> Iterator[tuple[str, pa.Table]]:
        """(sub-path, rows) of every partition of the batch."""
        import pyarrow.compute as pc  # ~20 ms of start-up: only for streams with field partitions

        split = self.partitioning
        assert split.field is not None
        prefix = split.load_date or ""
        values = table.column(split.field)
        if split.timestamp:
            values = pc.cast(values, pa.date32())
        codes = pc.dictionary_encode(pc.cast(values, pa.string())).combine_chunks()
        drop = [] if split.keep else [split.field]
        for i, value in enumerate(codes.dictionary.to_pylist()):
            rows = table.filter(pc.equal(codes.indices, i)).drop_columns(drop)
            yield _join(prefix, f"{split.key}={quote(value, safe='') or NULL_PARTITION}"), rows
        if codes.null_count:
            rows = table.filter(pc.is_null(codes.indices)).drop_columns(drop)
            yield _join(prefix, f"{split.key}={NULL_PARTITION}"), rows

    def abort(self) -> None:
        """Drop what no STATE covers: the buffer, the worker's tasks, the open (hidden) file."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                task.result()
            except (SluiceError, OSError, pa.ArrowException) as exc:  # the failure on its way is reported
                log.debug("stream '%s': dropped task: %s", self.stream, exc)
            except CancelledError:
                continue
        self._tasks = []
        if self._open is not None:
            self._open.discard()
            self._open = None
        self._parts = []
        self._size = 0
        self._lines = Lines()
        self._staged = []
        self._staged_rows = 0

    def close(self) -> None:
        if self.fileset is not None and self.fileset.written:
            log.info("stream '%s': %d files written to %s", self.stream, len(self.fileset.written),
                     self.fileset.directory)


def _join(prefix: str, part: str) -> str:
    return f"{prefix}/{part}" if prefix else part
