"""The one interface between the SQL core and a database (SQLite, PostgreSQL, ...).

A :class:`Loader` owns one connection, one open transaction and the tables the run's
streams claimed. It is what a SQL sink is given besides its settings. The core calls it in
this order, and nothing is committed except by :meth:`Loader.commit` (called by the target
after every sink flushed, just before the STATE goes out, and after an ACTIVATE_VERSION)::

    claim_table -> describe -> apply -> encoder -> write* -> commit | rollback
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

from protocol import Bounds, Committed, ProtocolError, is_date_time
from targets.sql.chunkkeys import KeyStats
from targets.sql.chunklines import ChunkOrigin
from targets.sql.naming import IdentifierMapper
from targets.sql.owners import OWNERS_TABLE, TableClaims
from targets.sql.table import Action, Existing, TableSpec

__all__ = ["DELETED_COLUMN", "OWNERS_TABLE", "VERSION_COLUMN", "Encoder", "Loader", "MetaValues", "meta_row",
           "quote_identifier", "upsert_action", "utc_now"]

Encoder = Callable[[dict[str, Any], Any], Any]
VERSION_COLUMN = "_sdc_table_version"
DELETED_COLUMN = "_sdc_deleted_at"


def utc_now() -> str:
    return datetime.now(UTC).isoformat()


def quote_identifier(name: str) -> str:
    """Standard SQL quoting: double quotes, embedded quotes doubled. NUL is dropped."""
    return '"' + name.replace("\x00", "").replace('"', '""') + '"'


def upsert_action(spec: TableSpec) -> str:
    """The ``ON CONFLICT`` action of an upsert into ``spec``'s table: each column outside the key takes
    the incoming value, and the columns that held the spec's fields in other types are cleared
    (``TableSpec.superseded``); ``DO NOTHING`` for a table of key columns only."""
    q = quote_identifier
    others = [n for n in spec.names if n not in spec.key]
    if not others:
        return "DO NOTHING"
    sets = [f"{q(n)} = excluded.{q(n)}" for n in others] + [f"{q(n)} = NULL" for n in spec.superseded]
    return "DO UPDATE SET " + ", ".join(sets)


class MetaValues:
    """Values of the metadata columns that are constant for one chunk of rows."""

    __slots__ = ("batched_at", "received_at", "sequence")

    def __init__(self) -> None:
        self.received_at = ""
        self.batched_at = ""
        self.sequence = 0


def meta_row(
    order: list[tuple[str | None, str, Callable[[Any], Any]]],
    meta: MetaValues,
    *,
    extracted: Callable[[Any], Any],
    version: Callable[[Any], Any],
    sequence: Callable[[Any], Any],
) -> Callable[[dict[str, Any], Any], list[Any]]:
    """A row builder for tables with metadata columns: ``order`` names, per column, its
    metadata kind (None for a record field), the field, and the field's converter; the
    dialect supplies how the extracted time, the version and the sequence are written.
    """

    def values(record: dict[str, Any], message: Any) -> list[Any]:
        get = record.get
        out: list[Any] = []
        for kind, f, conv in order:
            if kind is None:
                out.append(conv(get(f)))
            elif kind == "extracted":
                stamp = message.time_extracted
                if stamp is not None and (stamp.__class__ is not str or not is_date_time(stamp)):
                    # PostgreSQL would read "yesterday" or "now" as a time: never guess
                    raise ProtocolError(f"time_extracted {stamp!r} is not an RFC 3339 date-time",
                                        line=message.line, stream=message.stream, field="time_extracted")
                out.append(extracted(stamp))
            elif kind == "version":
                out.append(version(message.version))
            elif kind == "sequence":
                out.append(sequence(meta.sequence))
            else:
                out.append(meta.received_at)
        return out

    return values


class Loader(ABC):
    """One destination database. Subclasses implement the SQL of their dialect."""

    name: ClassVar[str] = ""
    #: the longest identifier in bytes (None: no limit)
    max_identifier_bytes: ClassVar[int | None] = None
    #: whether identifiers that differ only by case are the same (SQLite)
    case_insensitive: ClassVar[bool] = False
    #: whether a column's type can be changed in place (else: a sibling column)
    can_alter: ClassVar[bool] = True
    #: the database schema the tables are in (None: the database has none)
    schema: str | None = None
    #: a chunk is written when its rows, measured by ``row_size``, reach ``chunk_size``, or
    #: when it holds ``chunk_rows`` rows
    chunk_size: int = 8 * 1024 * 1024
    chunk_rows: int = 50_000
    row_size: Callable[[Any], int] = staticmethod(len)
    #: whether :meth:`write_csv` is implemented (rows built in bulk from decoded records)
    csv_rows: ClassVar[bool] = False
    #: for a database that cannot store NUL characters: how many values had them removed, per
    #: (table, column), counted by the row builders; None where NUL is stored as it is
    nul_removed: Counter[tuple[str, str]] | None = None
    #: whether :meth:`write_json` is implemented: runs are loaded as the JSON text they arrived in
    #: (targets/sql/jsonruns.py)
    json_runs: bool = False
    #: whether text values keep their NUL characters in the bulk rows (targets/sql/rawrows.py): DuckDB
    stores_nul: ClassVar[bool] = False
    #: whether :meth:`write_csv` reads a backslash as the CSV escape (a quote inside a string is \",
    #: a backslash \\, as JSON writes them; PostgreSQL's ESCAPE '\'), not a doubled quote
    csv_backslash: ClassVar[bool] = False
    #: whether :meth:`write_csv` and :meth:`write_json` use the chunk's key stats gathered by the
    #: sink (targets/sql/chunkkeys.py) instead of reading the chunk for them
    key_stats: ClassVar[bool] = False
    #: whether the database parses date-time and date text itself (PostgreSQL reads "yesterday" and
    #: "epoch" as dates; DuckDB's error names its CSV line): with validate_records false, the sink
    #: refuses such a value that is not RFC 3339, naming its line (SQLite stores text as it is)
    parses_times: ClassVar[bool] = False
    #: whether a column of the table's key can change its type (DuckDB: not that of a key column)
    can_alter_key: ClassVar[bool] = True

    _claims: TableClaims | None = None

    def number_bounds(self, logical: str) -> Bounds | None:
        """The numbers a column of ``logical`` type holds, when the database refuses some that
        JSON Schema allows (a record outside them is one error naming its line and field, not a
        failed load); None: any."""
        return None

    def mapper(self) -> IdentifierMapper:
        return IdentifierMapper(self.max_identifier_bytes, case_insensitive=self.case_insensitive)

    def claim_table(self, stream: str, name: str, line: int | None, *, adopt_existing: bool) -> str:
        """The table of ``stream`` (``name`` as configured), its own for this run (see
        targets/sql/owners.py), or ConfigError."""
        if self._claims is None:
            self._claims = TableClaims(self, self.schema)
        return self._claims.claim(stream, name, line, adopt_existing=adopt_existing)

    @abstractmethod
    def check(self) -> str:
        """Connect and check privileges; return a short description or raise TargetError."""

    @abstractmethod
    def describe(self, schema: str | None, table: str) -> Existing | None:
        """The table's columns (logical types) and unique keys, or None if it is absent."""

    @abstractmethod
    def owner(self, schema: str | None, table: str) -> str | None:
        """The stream recorded in :data:`OWNERS_TABLE` for ``table`` (None: no record)."""

    @abstractmethod
    def record_owner(self, schema: str | None, table: str, stream: str, *, replace: bool) -> str:
        """Record ``stream`` as the owner of ``table`` in the open transaction, replacing a
        record only if ``replace``; return the owner recorded now (another run may have won)."""

    @abstractmethod
    def apply(self, schema: str | None, table: str, actions: list[Action]) -> None:
        """Run DDL in the open transaction."""

    @abstractmethod
    def encoder(self, spec: TableSpec, meta: MetaValues) -> Encoder:
        """A function turning (record, RecordMessage) into one row for :meth:`write`."""

    @abstractmethod
    def write(self, spec: TableSpec, rows: list[Any], *, upsert: bool, truncate: bool) -> None:
        """Load a chunk of rows in the open transaction (last row of a key wins)."""

    def write_csv(self, spec: TableSpec, data: bytes, columns: list[str], *, upsert: bool, truncate: bool,
                  keys: KeyStats | None = None) -> None:
        """Load CSV rows (see :mod:`targets.sql.rawrows`) like :meth:`write`, if ``csv_rows``.
        ``keys``: what the chunk's keys are, when ``key_stats`` and the sink gathered them."""
        raise NotImplementedError

    def write_json(self, spec: TableSpec, data: list[bytes], fields: list[tuple[str, str]], nulls: list[str], *,
                   upsert: bool, truncate: bool, keys: KeyStats | None = None,
                   origin: ChunkOrigin | None = None) -> None:
        """Load JSON lines (records as received, see :mod:`targets.sql.jsonruns`) like :meth:`write`:
        ``data`` the chunk's text in parts (not joined: the loader writes them to its file as they
        are), ``fields`` (column, record field), then the ``nulls`` columns, if ``json_runs``.
        ``origin``: the stream and input line of each record, for the errors of the load."""
        raise NotImplementedError

    @abstractmethod
    def commit(self) -> None:
        """Commit the open transaction durably."""

    @abstractmethod
    def rollback(self) -> None:
        """Undo the open transaction. Safe to call more than once and after a failure."""

    @abstractmethod
    def activate_version(self, spec: TableSpec, version: int, *, hard_delete: bool) -> None:
        """Delete (or mark ``_sdc_deleted_at``) rows of versions older than ``version`` in the
        open transaction (the target commits it)."""

    def save_state(self, schema: str | None, state_id: str, committed: Committed) -> None:
        """Write the committed state (targets/sql/statetable.py) into the open transaction."""
        raise NotImplementedError

    def load_state(self, schema: str | None, state_id: str) -> Committed | None:
        """The committed state of ``state_id``, or None (no row, no table)."""
        raise NotImplementedError

    @abstractmethod
    def close(self) -> None:
        """Release the connection."""
