"""The dialect-neutral SQL sink and target: batching, metadata, evolution, versions.

Rows are encoded as records arrive and written to the database in chunks (bounded by
rows and by size) inside one open transaction, so memory stays flat whatever the
batch size. The target's drain flushes every sink and then calls :meth:`SQLTarget.commit`
once, before it emits the STATE: either everything before the STATE is committed, or,
on any error, the open transaction is rolled back and nothing after the last STATE is.
"""

from __future__ import annotations

import logging
import time
from typing import IO, TYPE_CHECKING, Any, ClassVar

from protocol import (
    EXACTLY_ONCE_CAPABILITY,
    Committed,
    ConfigError,
    MessageWriter,
    RecordMessage,
    RecordRun,
    SchemaMessage,
    Sink,
    Target,
    emit_metric,
    plural,
    property_schemas,
)
from targets.sql.dialect import DELETED_COLUMN, VERSION_COLUMN, Loader, MetaValues, utc_now
from targets.sql.owners import TableClaims
from targets.sql.table import Existing, TableSpec, Wanted, plan_table
from targets.sql.types import INTEGER, TIMESTAMP, logical_type

if TYPE_CHECKING:
    from targets.sql.rawrows import RawRows

__all__ = ["COMMON_SETTINGS", "METADATA_COLUMNS", "SQLSink", "SQLTarget"]

log = logging.getLogger("sluice.target.sql")

#: The first chunk of a transaction is this small (then each doubles up to the loader's
#: chunk size), so the database starts loading while the rest of the batch is parsed.
FIRST_CHUNK_BYTES = 256 * 1024

#: name, logical type, source (``field``: read from the record like any field)
METADATA_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("_sdc_extracted_at", TIMESTAMP, "extracted"),
    ("_sdc_received_at", TIMESTAMP, "received"),
    ("_sdc_batched_at", TIMESTAMP, "batched"),
    ("_sdc_deleted_at", TIMESTAMP, "field"),
    ("_sdc_sequence", INTEGER, "sequence"),
    ("_sdc_table_version", INTEGER, "version"),
)

COMMON_SETTINGS: dict[str, dict[str, Any]] = {
    "load_method": {
        "type": "string", "enum": ["append-only", "upsert", "overwrite"], "default": "upsert",
        "description": "upsert: streams with key properties are upserted (last record of a key wins), others "
                       "appended. append-only: always insert. overwrite: empty each table on its first batch "
                       "of the run, then upsert.",
    },
    "add_record_metadata": {
        "type": "boolean", "default": False,
        "description": "Add the _sdc_extracted_at, _sdc_received_at, _sdc_batched_at, _sdc_deleted_at, "
                       "_sdc_sequence and _sdc_table_version columns.",
    },
    "activate_version": {
        "type": "boolean", "default": True,
        "description": "Process ACTIVATE_VERSION messages: rows of older table versions are deleted "
                       "(hard_delete) or get _sdc_deleted_at. False: ignore them.",
    },
    "hard_delete": {
        "type": "boolean", "default": False,
        "description": "On ACTIVATE_VERSION, delete rows of older versions instead of setting _sdc_deleted_at.",
    },
    "batch_size_rows": {
        "type": "integer", "minimum": 1, "default": 100_000,
        "description": "Commit (and emit the held STATE) at most every this many rows.",
    },
    "batch_size_bytes": {
        "type": "integer", "minimum": 1024,
        "description": "Rows are sent to the database in chunks of about this many bytes (memory bound).",
    },
    "state_flush_seconds": {
        "type": "number", "minimum": 0, "default": 1.0,
        "description": "Commit and emit a held STATE when it is older than this.",
    },
    "validate_records": {
        "type": "boolean", "default": True, "description": "Validate every record against its stream schema.",
    },
    "table_prefix": {"type": "string", "default": "", "description": "Prefix of every table name."},
    "table_names": {
        "type": "object", "additionalProperties": {"type": "string", "minLength": 1},
        "description": "Table name per stream, e.g. {\"public-users\": \"users\"}. Default: table_prefix + "
                       "the stream name, or its last part for streams named <schema>-<table> or <db>-<schema>-<table>. "
                       "Each stream needs a table of its own: two streams whose names resolve to one table (e.g. "
                       "public-people and crm-people, or Users and users in SQLite) fail the run before the second "
                       "loads a row; map one of them here.",
    },
    "adopt_existing_tables": {
        "type": "boolean", "default": False,
        "description": "Load into (and evolve) an existing table that this target did not create for the stream, "
                       "e.g. one made by hand or by another loader. Default false: such a table is never altered, "
                       "the run fails naming it. Tables the target creates are recorded in _sluice_tables with "
                       "their stream, so reruns need no setting; an adopted table is recorded the same way.",
    },
}


class SQLSink(Sink):
    """One stream's table. Encodes rows on arrival; writes them in bounded chunks."""

    target: SQLTarget

    def __init__(self, target: Target, schema: SchemaMessage) -> None:
        super().__init__(target, schema)
        assert isinstance(target, SQLTarget)
        self.loader = target.loader
        self.table = target.claim_table(self.stream, schema.line or None)
        self.meta = MetaValues()
        self.versioned = target.add_record_metadata
        self.soft_deletes = False
        # overwrite empties the table once per run; not again when resuming a run that died
        self._truncate = target.load_method == "overwrite" and not target.resuming
        # The chunk being built: encoded rows (``add``) or, when ``_bulk``, CSV text of whole runs
        # (``add_run``, ``_bulk_count`` rows); a chunk holds one kind, never both.
        self._chunk: list[Any] = []
        self._bulk = False
        self._bulk_count = 0
        self.bulk_rows = 0  # rows built in bulk from runs (reported in the closing log line)
        self._size = 0
        self._limit = self._first_limit = min(FIRST_CHUNK_BYTES, self.loader.chunk_size)
        self._row_limit = self.loader.chunk_rows
        self._batch_rows = 0
        self._batch_started = 0.0
        self._prepare()

    # -- the table ------------------------------------------------------------------

    def _wanted(self) -> list[Wanted]:
        props = property_schemas(self.schema)
        wanted = [Wanted(name, logical_type(prop)) for name, prop in props.items()]
        if self.target.add_record_metadata:
            metas = list(METADATA_COLUMNS)
        else:
            metas = [m for m in METADATA_COLUMNS if (m[0] == VERSION_COLUMN and self.versioned)
                     or (m[0] == DELETED_COLUMN and self.soft_deletes)]
        wanted += [Wanted(name, logical, None if src == "field" else src)
                   for name, logical, src in metas if name not in props]
        return wanted

    def _prepare(self) -> None:
        """Create or evolve the table for the current schema; rebuild the row encoder."""
        keys = [] if self.target.load_method == "append-only" else list(self.key_properties)
        schema, loader, mapper = self.target.db_schema, self.loader, self.loader.mapper()
        wanted = self._wanted()
        existing: Existing | None = loader.describe(schema, self.table)
        actions, spec = plan_table(existing, wanted, keys, mapper, can_alter=loader.can_alter,
                                   schema=schema, table=self.table)
        if actions:
            log.info("stream '%s': table %s: %s", self.stream, self.table,
                     "; ".join(type(a).__name__ + " " + str(getattr(a, "name", "")) for a in actions))
            loader.apply(schema, self.table, actions)
            existing = loader.describe(schema, self.table)
            _, spec = plan_table(existing, wanted, keys, mapper, can_alter=loader.can_alter,
                                 schema=schema, table=self.table)
        self.spec: TableSpec = spec
        self._upsert = bool(spec.key)
        self._encode = loader.encoder(spec, self.meta)
        self._raw: RawRows | None = None
        if loader.csv_rows and not self.target.add_record_metadata:
            from targets.sql.rawrows import plan_raw_rows  # msgspec: only where it is used

            self._raw = plan_raw_rows(spec, property_schemas(self.schema), loader.nul_removed)
        self.accepts_runs = self._raw is not None
        self._new_chunk()

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
        row = self._encode(record, message)
        rows = self._chunk
        rows.append(row)
        self._size += len(row)
        if self._size >= self._limit or len(rows) >= self._row_limit:
            self._ship()

    def add_run(self, run: RecordRun) -> bool:
        """A fast-lane run built into CSV rows in bulk (see rawrows.py); False when the table
        or this run needs the record-by-record path (the target then adds it record by record)."""
        if run.version is not None and not self.versioned:
            self._enable_versions()
        data = self._raw.build(run.values, run.records, run.version) if self._raw is not None else None
        if data is None:
            return False
        if self._chunk and not self._bulk:
            self._ship()  # rows added one by one before: theirs is the earlier chunk
        self._bulk = True
        self._chunk.append(data)
        self._bulk_count += run.count
        self.bulk_rows += run.count
        self._size += len(data)
        if self._size >= self._limit or self._bulk_count >= self._row_limit:
            self._ship()
        return True

    def _new_chunk(self) -> None:
        if self.target.add_record_metadata:
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
            self.loader.write_csv(self.spec, b"".join(chunk), self._raw.columns, upsert=self._upsert,
                                  truncate=self._truncate)
            self._batch_rows += self._bulk_count
            self._bulk = False
            self._bulk_count = 0
        else:
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
        self._chunk = []
        self._bulk = False
        self._bulk_count = 0
        self.target.rollback()

    # -- versions -------------------------------------------------------------------

    def activate_version(self, version: int) -> None:
        if not self.target.process_versions:
            log.info("stream '%s': ACTIVATE_VERSION %s ignored (activate_version is false)", self.stream, version)
            return
        hard = self.target.hard_delete
        if not self.versioned or (not hard and not self.soft_deletes):
            self.versioned = True
            self.soft_deletes = self.soft_deletes or not hard
            self._prepare()
        self.loader.activate_version(self.spec, version, hard_delete=hard, commit=self.target.control is None)
        log.info("stream '%s': version %s active; older rows %s", self.stream, version,
                 "deleted" if hard else "marked _sdc_deleted_at")


class SQLTarget(Target):
    """Base of the SQL targets: a Loader, the shared settings, one commit per drain."""

    sink_class: ClassVar[type[Sink]] = SQLSink
    #: the class of :meth:`open_loader`'s loader (known before any connection is made); set by each target
    loader_class: ClassVar[type[Loader]]
    capabilities: ClassVar[list[str]] = [
        "about", "stream-maps", "schema-flattening", "activate-version", "hard-delete",
        "validate-records", "target-schema", EXACTLY_ONCE_CAPABILITY,
    ]
    exactly_once = True

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        cfg = self.config
        self.load_method = str(cfg.get("load_method") or "upsert")
        if self.load_method not in ("append-only", "upsert", "overwrite"):
            raise ConfigError("invalid config", [f"setting 'load_method': unknown method {self.load_method!r}"])
        self.add_record_metadata = bool(cfg.get("add_record_metadata", False))
        self.process_versions = bool(cfg.get("activate_version", True))
        self.hard_delete = bool(cfg.get("hard_delete", False))
        self.chunk_size = int(cfg.get("batch_size_bytes") or 0)
        self.table_prefix = str(cfg.get("table_prefix") or "")
        self.table_names: dict[str, str] = dict(cfg.get("table_names") or {})
        self.adopt_existing_tables = bool(cfg.get("adopt_existing_tables", False))
        self.db_schema: str | None = None
        self._loader: Loader | None = None
        self._claims: TableClaims | None = None

    @property
    def loader(self) -> Loader:
        if self._loader is None:
            self._loader = self.open_loader()
        return self._loader

    def open_loader(self) -> Loader:
        raise NotImplementedError

    def table_name(self, stream: str) -> str:
        if stream in self.table_names:
            return self.table_names[stream]
        parts = stream.split("-")
        name = parts[-1] if len(parts) in (2, 3) and all(parts) else stream
        return self.table_prefix + name

    def claim_table(self, stream: str, line: int | None) -> str:
        """The table of ``stream``, its own (see targets/sql/owners.py), or ConfigError."""
        if self._claims is None:
            self._claims = TableClaims(self.loader, self.db_schema, adopt_existing=self.adopt_existing_tables)
        return self._claims.claim(stream, self.table_name(stream), line)

    def test_connection(self) -> str:
        try:
            return self.loader.check()
        finally:
            if self._loader is not None:
                self._loader.close()
                self._loader = None

    def commit(self) -> None:
        self.loader.commit()

    # -- exactly-once: the committed state lives in the _sluice_state table ----------------

    def load_committed(self, state_id: str) -> Committed | None:
        opened = self._loader is None
        try:
            return self.loader.load_state(self.db_schema, state_id)
        finally:
            if opened and self._loader is not None and self.control is None:
                self._loader.close()
                self._loader = None

    def start_exactly_once(self) -> None:
        assert self.control is not None
        self.previous = self.loader.load_state(self.db_schema, self.control.state_id)

    def commit_state(self, committed: Committed) -> None:
        assert self.control is not None
        self.loader.save_state(self.db_schema, self.control.state_id, committed)
        self.loader.commit()

    def raw_capable(self) -> bool:
        """The fast lane is open when the loader builds rows in bulk (``Loader.csv_rows``)."""
        return self.loader_class.csv_rows

    def rollback(self) -> None:
        if self._loader is not None:
            self._loader.rollback()

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
