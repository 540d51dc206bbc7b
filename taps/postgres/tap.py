"""tap-postgres: tables and views of PostgreSQL as Singer streams.

Accepts the settings of MeltanoLabs tap-postgres (host, port, user, password, database,
sqlalchemy_url, filter_schemas, default_replication_method, replication_slot_name,
json_as_object and the ssl_* settings); ``publication_name`` and ``max_parallel_reads`` are
our additions.
Replication: FULL_TABLE (resumable by key, ACTIVATE_VERSION at the end), INCREMENTAL
(by a replication key) and LOG_BASED (logical decoding with pgoutput, see cdc.py).
"""

from __future__ import annotations

from collections import Counter
from functools import cached_property
from typing import Any, ClassVar

from protocol import (
    REPLICATION_METHODS,
    Bookmarks,
    Catalog,
    CatalogEntry,
    ConfigError,
    FatalSourceError,
    MessageWriter,
    Stream,
    Tap,
    emit_metric,
    plural,
    tap_main,
)
from taps.postgres.cdc import CDC_PROPERTIES, sync_log_based
from taps.postgres.client import Source
from taps.postgres.discovery import Table, entry_for, load_tables
from taps.postgres.settings import SETTINGS, TapSettings
from taps.postgres.streams import StreamPlan, ordering_problems, sync_full_table, sync_incremental

__all__ = ["SETTINGS", "TapPostgres", "main"]

_UNREADABLE = """
SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%%'
  AND (%(schemas)s::text[] IS NULL OR n.nspname = ANY(%(schemas)s::text[]))
  AND NOT (has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, 'SELECT'))
ORDER BY 1
"""


class TapPostgres(Tap):
    name: ClassVar[str] = "tap-postgres"
    description: ClassVar[str] = (
        "Singer tap for PostgreSQL: full-table (resumable, versioned), incremental and log-based (pgoutput) "
        "replication, exact numerics, rows rendered as JSON by the server."
    )
    settings_schema: ClassVar[dict[str, Any]] = SETTINGS
    capabilities: ClassVar[list[str]] = ["catalog", "properties", "discover", "state", "about", "test",
                                         "activate-version", "log-based", "stream-maps", "schema-flattening"]

    @cached_property
    def settings(self) -> TapSettings:
        return TapSettings.from_config(self.config)

    @property
    def schemas(self) -> list[str] | None:
        value = self.settings.filter_schemas
        return list(value) if value else None

    def streams(self) -> list[Stream]:
        """Every readable table and view (Tap.discover builds the catalog from these)."""
        as_object = self.settings.json_as_object
        with Source(self.config) as source:
            return [t.stream(self, as_object) for t in load_tables(source, self.schemas)]

    def test_connection(self) -> str:
        with Source(self.config) as source:
            user, level, can_replicate = source.query(
                "SELECT current_user, current_setting('wal_level'), "
                "(SELECT rolsuper OR rolreplication FROM pg_roles WHERE rolname = current_user)",
                doing="checking the connection")[0]
            problems: list[str] = []
            unreadable = [r[0] for r in source.query(_UNREADABLE, {"schemas": self.schemas},
                                                     doing="checking privileges")]
            if unreadable:
                shown = ", ".join(unreadable[:5]) + (f" and {len(unreadable) - 5} more" if len(unreadable) > 5 else "")
                problems.append(f"user {user} lacks SELECT (or schema USAGE) on {shown}")
            if self.settings.default_replication_method == "LOG_BASED":
                if level != "logical":
                    problems.append(f"wal_level is {level}, LOG_BASED needs logical "
                                    "(ALTER SYSTEM SET wal_level = logical, then restart the server)")
                if not can_replicate:
                    problems.append(f"user {user} lacks the REPLICATION attribute LOG_BASED needs")
            if problems:
                raise FatalSourceError(f"PostgreSQL at {source.where}: " + "; ".join(problems))
            readable = plural(len(load_tables(source, self.schemas)), "table or view", "tables and views")
            return f"connected to {source.where} as {user}; {readable} readable"

    def _open_source(self) -> Source:
        return Source(self.config)

    def _plan(self, entry: CatalogEntry, table: Table) -> StreamPlan:
        method = entry.replication_method or self.settings.default_replication_method
        if method not in REPLICATION_METHODS:
            raise ConfigError("invalid catalog", [f"stream '{entry.tap_stream_id}': replication method {method!r} "
                                                  f"is not one of {', '.join(REPLICATION_METHODS)}"])
        keys = list(table.keys)
        if table.is_view and not keys:
            keys = list(entry.metadata.get((), "view-key-properties") or [])
        rk = entry.replication_key if method == "INCREMENTAL" else None
        problems = []
        if method == "INCREMENTAL" and not rk:
            problems.append("INCREMENTAL needs a replication key (metadata 'replication-key')")
        if rk and rk not in table.columns:
            problems.append(f"replication key {rk!r} is not a column")
        problem = table.log_based_problem() if method == "LOG_BASED" else None
        if problem:
            problems.append(problem)
        if problems:
            raise ConfigError("invalid catalog", [f"stream '{entry.tap_stream_id}': {p}" for p in problems])
        always = set(keys) | ({rk} if rk else set())
        columns = [c for name, c in table.columns.items()
                   if name in always or entry.metadata.is_selected(("properties", name))]
        return StreamPlan(name=entry.stream or entry.tap_stream_id, table=table, columns=columns, keys=keys,
                          method=method, replication_key=rk,
                          extra_properties=dict(CDC_PROPERTIES) if method == "LOG_BASED" else {},
                          json_as_object=self.settings.json_as_object, unique_keys=not table.is_view)

    def _sync_plans(self, source: Source, plans: list[StreamPlan], writer: MessageWriter,
                    bookmarks: Bookmarks) -> None:
        # log-based first: creating a slot waits for every open transaction of the server, which
        # must not include a target's, loading what this run has already written
        log_based = [p for p in plans if p.method == "LOG_BASED"]
        if log_based:
            sync_log_based(source, log_based, writer, bookmarks, self.settings, self._open_source)
        for plan in plans:
            if plan.method == "FULL_TABLE":
                sync_full_table(source, plan, writer, bookmarks, open_source=self._open_source,
                                parallel=self.settings.max_parallel_reads)
            elif plan.method == "INCREMENTAL":
                sync_incremental(source, plan, writer, bookmarks)

    def sync(self, catalog: Catalog, bookmarks: Bookmarks, writer: MessageWriter) -> None:
        selected = catalog.selected()
        _refuse_shared_ids(selected)
        with Source(self.config) as source:
            schemas = sorted({str(e.metadata.get((), "schema-name") or e.tap_stream_id.split("-", 1)[0])
                              for e in selected})
            tables = load_tables(source, schemas) if selected else []
            plans = []
            for entry in selected:
                table = entry_for(tables, entry)
                if table is None:
                    raise FatalSourceError(f"stream '{entry.tap_stream_id}': the table is gone from "
                                           f"PostgreSQL at {source.where} (or not readable)")
                plans.append(self._plan(entry, table))
            problems = [f"stream '{plan.name}': {problem}"
                        for plan in plans for problem in ordering_problems(source, plan)]
            if problems:
                raise ConfigError("invalid catalog", problems)
            try:
                self._sync_plans(source, plans, writer, bookmarks)
            finally:
                for plan in plans:
                    plan.report()
        # each stream's sync ended with a STATE too: the writer skips this one when it repeats that line
        writer.write_state(bookmarks.to_value(), final=True)
        emit_metric("counter", "streams_synced", len(plans), {"tap": self.name})


def _refuse_shared_ids(selected: list[CatalogEntry]) -> None:
    """Selected entries sharing a tap_stream_id (or a stream name) would mix their records and
    bookmarks: a configuration error, one line per shared name."""
    problems: dict[str, str] = {}
    for what, names in (("tap_stream_id", [e.tap_stream_id for e in selected]),
                        ("stream name", [e.stream or e.tap_stream_id for e in selected])):
        for name, count in Counter(names).items():
            if count > 1 and name not in problems:
                problems[name] = (f"stream '{name}': {count} selected catalog entries share this {what}; give "
                                  "each its own (tap-postgres --discover writes unique ids)")
    if problems:
        raise ConfigError("invalid catalog", list(problems.values()))


main = tap_main(TapPostgres)
