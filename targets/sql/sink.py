"""The dialect-neutral SQL sink and target: batching, metadata, evolution, versions.

Rows are encoded as records arrive and written to the database in chunks (bounded by
rows and by size) inside one open transaction, so memory stays flat whatever the
batch size. The target's drain flushes every sink and then calls :meth:`SQLTarget.commit`
once, before it emits the STATE: either everything before the STATE is committed, or,
on any error, the open transaction is rolled back (``Target.abort``) and nothing after the
last STATE is. A sink is given the target's one :class:`Loader` and its :class:`SQLSettings`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import IO, TYPE_CHECKING, Any, ClassVar

from protocol import (
    EXACTLY_ONCE_CAPABILITY,
    Committed,
    MessageWriter,
    RecordMessage,
    RecordRun,
    SchemaMessage,
    Sink,
    Target,
    TargetError,
    emit_metric,
    is_nullable,
    plural,
    property_schemas,
)
from targets.sql.chunkkeys import ChunkKeys
from targets.sql.chunklines import ChunkLines
from targets.sql.dialect import Loader, MetaValues, utc_now
from targets.sql.metadata import METADATA_COLUMNS, bad_time, null_key, past_bounds, wanted_columns
from targets.sql.settings import SQLSettings
from targets.sql.table import AddUniqueKey, CreateTable, Existing, TableError, TableSpec, Wanted, plan_table
from targets.sql.types import DATE, INTEGER, STRING, TIMESTAMP

if TYPE_CHECKING:
    from targets.sql.rawrows import RawRows

__all__ = ["METADATA_COLUMNS", "SQLSink", "SQLTarget"]

log = logging.getLogger("sluice.target.sql")

#: The first chunk of a transaction is this small (then each doubles up to the loader's
#: chunk size), so the database starts loading while the rest of the batch is parsed.
FIRST_CHUNK_BYTES = 256 * 1024

class SQLSink(Sink):
    """One stream's table. Encodes rows on arrival; writes them in bounded chunks."""

    loader: Loader
    settings: SQLSettings

    def __init__(self, schema: SchemaMessage, loader: Loader, settings: SQLSettings) -> None:
        super().__init__(schema, loader, settings)
        self.table = loader.claim_table(self.stream, settings.table_name(self.stream), schema.line or None,
                                        adopt_existing=settings.adopt_existing_tables)
        self.meta = MetaValues()
        self.versioned = settings.add_record_metadata
        self.soft_deletes = False
        self._truncate = settings.load_method == "overwrite"  # once per run: the first chunk empties the table
        # The chunk being built: encoded rows (``add``) or, when ``_bulk``, CSV text of whole runs
        # (``add_run``, ``_bulk_count`` rows); a chunk holds one kind, never both.
        self._chunk: list[Any] = []
        self._lines = ChunkLines(self.stream)  # a chunk of JSON lines: the input line of each
        self._bulk = False
        self._bulk_count = 0
        self.bulk_rows = 0  # rows built in bulk from runs (reported in the closing log line)
        self._size = 0
        self._limit = self._first_limit = min(FIRST_CHUNK_BYTES, loader.chunk_size)
        self._row_limit = loader.chunk_rows
        self._measure = loader.row_size
        self._batch_rows = 0
        self._batch_started = 0.0
        self._prepare()

    # -- the table ------------------------------------------------------------------

    def _wanted(self, existing: Existing | None) -> list[Wanted]:
        return wanted_columns(property_schemas(self.schema), existing, all_metadata=self.settings.add_record_metadata,
                              versioned=self.versioned, soft_deletes=self.soft_deletes)

    def _prepare(self) -> None:
        """Create or evolve the table for the current schema; rebuild the row encoder."""
        keys = [] if self.settings.load_method == "append-only" else list(self.key_properties)
        loader = self.loader
        schema, mapper = loader.schema, loader.mapper()
        existing: Existing | None = loader.describe(schema, self.table)
        wanted = self._wanted(existing)
        try:
            actions, spec = plan_table(existing, wanted, keys, mapper, can_alter=loader.can_alter,
                                       can_alter_key=loader.can_alter_key, schema=schema, table=self.table)
        except TableError as exc:
            raise TargetError(f"stream '{self.stream}': {exc}") from None
        if actions:
            self._apply(actions)
            existing = loader.describe(schema, self.table)
            _, spec = plan_table(existing, wanted, keys, mapper, can_alter=loader.can_alter,
                                 can_alter_key=loader.can_alter_key, schema=schema, table=self.table)
        self.spec: TableSpec = spec
        self._upsert = bool(spec.key)
        if not spec.key and existing is not None and existing.unique_keys:
            log.warning("stream '%s': table %s has a unique key %s and the stream's rows are appended (%s): a row "
                        "whose key is in the table already fails the load; give the stream the key properties "
                        "(load_method upsert) or load it into another table", self.stream, self.table,
                        list(existing.unique_keys[0]), "load_method append-only"
                        if self.settings.load_method == "append-only" else "no key properties")
        # keys whose schema admits null: a null there is refused here, naming its line (a key column
        # is NOT NULL: PostgreSQL and DuckDB would refuse the chunk, SQLite would number the row itself)
        props = property_schemas(self.schema)
        self._nullable_keys = [k for k in keys if is_nullable(props.get(k, {}))]
        # numbers the columns cannot hold: the fast lane refuses them (protocol.Bounds), ``add`` names them
        self._bounded = [(c.source.field, c.name, b) for c in spec.columns
                         if c.source.meta is None and (b := loader.number_bounds(c.logical)) is not None]
        self.bounds = {field: b for field, _, b in self._bounded}
        # without validation, the date-times and dates a database would guess at are refused here
        checked = loader.parses_times and not self.settings.validate_records
        self._times = [(c.source.field, c.logical) for c in spec.columns
                       if checked and c.source.meta is None and c.logical in (TIMESTAMP, DATE)]
        self._encode = loader.encoder(spec, self.meta)
        self._raw: RawRows | None = None
        if loader.csv_rows and not self.settings.add_record_metadata:
            from targets.sql.jsonruns import plan_runs  # msgspec: only where it is used

            self._raw = plan_runs(spec, property_schemas(self.schema), json=loader.json_runs,
                                  nul_removed=loader.nul_removed, keep_nul=loader.stores_nul,
                                  backslash=loader.csv_backslash)
        self.accepts_runs = self._raw is not None
        # the key values of bulk runs, for a loader that takes them (targets/sql/chunkkeys.py)
        fields, logical = dict(self._raw.fields if self._raw else []), {c.name: c.logical for c in spec.columns}
        exact = bool(spec.key) and all(k in fields and logical[k] in (INTEGER, STRING) for k in spec.key)
        self._key_fields = [fields[k] for k in spec.key] if exact and loader.key_stats else []
        self._keys = ChunkKeys(created=any(isinstance(a, CreateTable) for a in actions)) if self._key_fields else None
        self._new_chunk()

    def _apply(self, actions: list[Any]) -> None:
        """The table's changes, logged; a failure names the stream, the table and what was asked."""
        done = "; ".join(type(a).__name__ + " " + str(a.columns if isinstance(a, AddUniqueKey)
                                                     else getattr(a, "name", "")) for a in actions)
        log.info("stream '%s': table %s: %s", self.stream, self.table, done)
        try:
            self.loader.apply(self.loader.schema, self.table, actions)
        except TargetError as exc:  # the database's words, after what was asked of it
            key = " (a unique key needs the rows' keys to differ)" if any(isinstance(a, AddUniqueKey)
                                                                             for a in actions) else ""
            raise TargetError(f"stream '{self.stream}': table {self.table}: {done} failed{key}: {exc}") from exc

    def update_schema(self, schema: SchemaMessage) -> None:
        super().update_schema(schema)
        self._prepare()

    def _enable_versions(self) -> None:
        self._ship()
        self.versioned = True
        self._prepare()

    # -- rows -----------------------------------------------------------------------

    def add(self, record: dict[str, Any], message: RecordMessage) -> None:
        if message.version is not None and not self.versioned:
            self._enable_versions()
        if self._bulk:
            self._ship()  # runs added in bulk before: theirs is the earlier chunk
        for key in self._nullable_keys:
            if record.get(key) is None:
                raise null_key(self.stream, key, message.line)
        for field, column, bounds in self._bounded:
            value = record.get(field)
            if value is not None and value.__class__ is not bool and not bounds.holds(value):
                raise past_bounds(self.stream, field, column, value, bounds, message.line)
        for field, logical in self._times:
            value = record.get(field)
            if value is not None and (error := bad_time(self.stream, field, logical, value, message.line)):
                raise error
        row = self._encode(record, message)
        rows = self._chunk
        rows.append(row)
        self._size += self._measure(row)
        if self._size >= self._limit or len(rows) >= self._row_limit:
            self._ship()

    def add_run(self, run: RecordRun) -> bool:
        """A fast-lane run built into CSV rows in bulk (see rawrows.py); False when the table
        or this run needs the record-by-record path (the target then adds it record by record)."""
        if run.version is not None and not self.versioned:
            self._enable_versions()
        raw = self._raw  # after the version column: the table's plan may have changed
        if raw is None:
            return False
        if self._nullable_keys:
            for key, values in zip(self._nullable_keys, raw.field_values(run.values, self._nullable_keys),
                                   strict=True):
                if values is None:
                    return False  # not a field of the run's type: the records go one by one (checked there)
                if None in values:
                    raise null_key(self.stream, key, run.line_of(values.index(None)))
        # a faithful run's CSV is written from its values alone: its text (written on demand for a
        # mapped run, protocol.RecordRun.of_objects) is not read
        records = b"" if run.faithful and raw.fmt == "csv" else run.records
        data = raw.build(run.values, records, run.version, faithful=run.faithful)
        if data is None:
            return False
        if self._chunk and not self._bulk:
            self._ship()  # rows added one by one before: theirs is the earlier chunk
        if self._keys is not None:  # built: every field of the table, the key's among them, is in the run's type
            self._keys.add(raw.field_values(run.values, self._key_fields))  # type: ignore[arg-type]
        self._bulk = True
        self._chunk.append(data)
        if raw.fmt == "json":  # a run's JSON lines end without a newline
            self._chunk.append(b"\n")
            self._lines.add(run)
        self._bulk_count += run.count
        self.bulk_rows += run.count
        self._size += len(data)
        if self._size >= self._limit or self._bulk_count >= self._row_limit:
            self._ship()
        return True

    def _new_chunk(self) -> None:
        if self.settings.add_record_metadata:
            now = time.time()
            self.meta.received_at = self.meta.batched_at = utc_now()
            self.meta.sequence = int(now * 1000)

    def _ship(self) -> None:
        chunk = self._chunk
        if not chunk:
            return
        if not self._batch_rows:
            self._batch_started = time.monotonic()
        if self._bulk:
            assert self._raw is not None
            raw = self._raw
            keys = self._keys.take(self._bulk_count) if self._keys is not None else None
            if raw.fmt == "json":
                self.loader.write_json(self.spec, chunk, raw.fields, [c for c, _ in raw.constants],
                                       upsert=self._upsert, truncate=self._truncate, keys=keys,
                                       origin=self._lines.take())
            else:
                self.loader.write_csv(self.spec, b"".join(chunk), raw.columns, upsert=self._upsert,
                                      truncate=self._truncate, keys=keys)
            self._batch_rows += self._bulk_count
            self._bulk = False
            self._bulk_count = 0
        else:
            if self._keys is not None:
                self._keys.forget()
            self.loader.write(self.spec, chunk, upsert=self._upsert, truncate=self._truncate)
            self._batch_rows += len(chunk)
        self._chunk = []
        self._truncate = False
        self._size = 0
        self._limit = min(self._limit * 2, self.loader.chunk_size)
        self._new_chunk()

    def flush(self) -> None:
        self._ship()
        self._limit = self._first_limit  # the next transaction starts with a small chunk again
        if self._batch_rows:
            emit_metric("timer", "batch_processing_time", round(time.monotonic() - self._batch_started, 6),
                        {"stream": self.stream, "table": self.table, "rows": self._batch_rows})
        self._batch_rows = 0

    def bulk_note(self) -> str:
        return f", {self.bulk_rows} built in bulk" if self.bulk_rows else ""

    def abort(self) -> None:
        """Drop the chunk being built (the target rolls the loader's transaction back)."""
        self._chunk = []
        self._lines.take()
        self._bulk = False
        self._bulk_count = 0
        self._size = 0
        if self._keys is not None:
            self._keys.take(0)

    # -- versions -------------------------------------------------------------------

    def activate_version(self, version: int) -> None:
        if not self.settings.activate_version:
            log.info("stream '%s': ACTIVATE_VERSION %s ignored (activate_version is false)", self.stream, version)
            return
        hard = self.settings.hard_delete
        if not self.versioned or (not hard and not self.soft_deletes):
            self.versioned = True
            self.soft_deletes = self.soft_deletes or not hard
            self._prepare()
        self.loader.activate_version(self.spec, version, hard_delete=hard)
        log.info("stream '%s': version %s active; older rows %s", self.stream, version,
                 "deleted" if hard else "marked _sdc_deleted_at")


class SQLTarget(Target):
    """Base of the SQL targets: a Loader, the shared settings, one commit per drain.

    Each SQL target sets :attr:`settings` (an extension of :class:`SQLSettings`) in its
    ``__init__`` and opens its loader in :meth:`open_loader`."""

    sink_class: ClassVar[type[Sink]] = SQLSink
    #: the class of :meth:`open_loader`'s loader (known before any connection is made); set by each target
    loader_class: ClassVar[type[Loader]]
    capabilities: ClassVar[list[str]] = [
        "about", "stream-maps", "schema-flattening", "activate-version", "hard-delete",
        "validate-records", EXACTLY_ONCE_CAPABILITY,
    ]  # target-postgres adds target-schema (default_target_schema); SQLite has no schemas
    exactly_once = True
    settings: SQLSettings

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self._loader: Loader | None = None

    @property
    def loader(self) -> Loader:
        if self._loader is None:
            self._loader = self.open_loader()
        return self._loader

    def open_loader(self) -> Loader:
        raise NotImplementedError

    def loader_for(self, schema: SchemaMessage) -> Loader:
        return self.loader  # one loader, one transaction, for every stream

    def test_connection(self) -> str:
        try:
            return self.loader.check()
        finally:
            if self._loader is not None:
                self._loader.close()
                self._loader = None

    def commit(self) -> None:
        self.loader.commit()

    def rollback(self) -> None:
        if self._loader is not None:
            self._loader.rollback()

    # -- exactly-once: the committed state lives in the _sluice_state table ----------------

    def load_committed(self, state_id: str) -> Committed | None:
        opened = self._loader is None
        try:
            return self.loader.load_state(self.loader.schema, state_id)
        finally:
            if opened and self._loader is not None and self.control is None:
                self._loader.close()
                self._loader = None

    def start_exactly_once(self) -> None:
        assert self.control is not None
        self.previous = self.loader.load_state(self.loader.schema, self.control.state_id)
        if self.resuming and self.settings.load_method == "overwrite":
            # the run that died emptied the tables and loaded part of them: this one goes on
            log.info("resuming an interrupted run: load_method overwrite continues as upsert (its tables were "
                     "emptied by that run)")
            self.settings = replace(self.settings, load_method="upsert")

    def commit_state(self, committed: Committed) -> None:
        assert self.control is not None
        self.loader.save_state(self.loader.schema, self.control.state_id, committed)
        self.loader.commit()

    def raw_capable(self) -> bool:
        """The fast lane is open when the loader builds rows in bulk (``Loader.csv_rows``)."""
        return self.loader_class.csv_rows

    def destination(self) -> str:
        """Where the data lands, for the closing log line (never a secret)."""
        return self.name

    def run(self, source: IO[bytes], out: MessageWriter) -> None:
        try:
            super().run(source, out)
            if self._loader is not None:
                self._loader.commit()  # tables of streams that sent a SCHEMA and no record
        finally:
            if self._loader is not None:
                self._loader.close()
        if self.sinks:
            tables = ", ".join(f"{sink.table} ({plural(sink.committed, 'row')}{sink.bulk_note()})"
                               for sink in self.sinks.values() if isinstance(sink, SQLSink))
            log.info("loaded into %s: %s", self.destination(), tables)
