"""LOG_BASED streams: logical decoding through one slot (pgoutput) shared by every such stream.

A run, in order:
1. ensure the publication holds the tables and the slot exists (publication first: pgoutput
   reads it with the slot's historic snapshot);
2. advance the slot to the smallest ``lsn`` bookmark of the selected streams: the position the
   runner gave back, so a run that died before its STATE was stored loses nothing; the WAL
   before it may be recycled (the slot advances every run that has a state);
3. a stream without a finished snapshot gets one: its ``lsn`` is the slot's position (before the
   read: changes the snapshot already holds are replayed, none it lacks is skipped), and the read
   is a resumable, versioned full-table read (streams.py);
4. changes are *peeked* (never consumed) up to a fixed ``end`` LSN, the flushed WAL position (every
   commit record that starts before it is returned); a change is emitted for a
   stream when its transaction commits at or after the stream's ``lsn``, deletes with
   ``_sdc_deleted_at`` (the commit time). Replays of changes a snapshot already holds are
   harmless for keyed streams (upserted); keyless ones (appended) get them twice: at-least-once,
   as the README says.
5. every stream's ``lsn`` becomes ``end`` (or, in intermediate STATEs, the end of the last whole
   transaction written), and the STATE carries it.

Each change is read with the table's columns as they were when it was logged: binding.py matches
them to the stream's columns and converts each value by its logged type (or fails the stream in
one line when it cannot); columns a change does not carry (generated, added since) are read from
the table by the row's key, as unchanged TOAST values are.

A TRUNCATE cannot be replayed row by row: the stream's ``snapshot_done`` is cleared (its ``lsn``
moves on past the TRUNCATE) so that the next run takes a new snapshot, whose ACTIVATE_VERSION
removes the stale rows downstream.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import psycopg
from psycopg import sql

from protocol import (
    STATE_EVERY_RECORDS,
    Bookmarks,
    ConfigError,
    FatalSourceError,
    LogBasedBookmark,
    MessageWriter,
    RecordCounter,
    RetryableSourceError,
    loads,
    plural,
)
from taps.postgres.binding import Target, bind
from taps.postgres.client import Source
from taps.postgres.nonfinite import nonfinite_key
from taps.postgres.pgoutput import UNCHANGED, Begin, Change, Commit, Relation, Truncate, decode, lsn_to_text
from taps.postgres.settings import TapSettings
from taps.postgres.streams import ROW, ROW_JSON, StreamPlan, sync_full_table

__all__ = ["CDC_PROPERTIES", "sync_log_based"]

log = logging.getLogger("sluice.tap.postgres")

DELETED_AT = "_sdc_deleted_at"
LSN = "_sdc_lsn"
SLOT_WAIT_SECONDS = 30.0
CDC_PROPERTIES: dict[str, Any] = {
    DELETED_AT: {"type": ["null", "string"], "format": "date-time"},
    LSN: {"type": ["null", "integer"]},
}


def _lsn(source: Source, expr: str) -> int:
    return int(source.query(f"SELECT ({expr}) - '0/0'::pg_lsn", doing="reading the WAL position")[0][0])


def _ensure_publication(source: Source, name: str, plans: list[StreamPlan]) -> None:
    rows = source.query("SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = %s", [name],
                        doing="reading the publication")
    exists = bool(source.query("SELECT 1 FROM pg_publication WHERE pubname = %s", [name],
                               doing="reading the publication"))
    have = {(s, t) for s, t in rows}
    missing = [p.table for p in plans if (p.table.schema_name, p.table.name) not in have]
    if exists and not missing:
        return
    tables = sql.SQL(", ").join(t.ident for t in missing)
    if exists:
        statement = sql.SQL("ALTER PUBLICATION {} ADD TABLE {}").format(sql.Identifier(name), tables)
    else:
        # partitioned tables: changes of their partitions are published as the table's own
        statement = sql.SQL("CREATE PUBLICATION {} FOR TABLE {} WITH (publish_via_partition_root = true)").format(
            sql.Identifier(name), tables)
    try:
        source.conn.execute(statement)
    except psycopg.Error as exc:
        raise FatalSourceError(
            f"PostgreSQL at {source.where}: cannot add {', '.join(t.schema_name + '.' + t.name for t in missing)} "
            f"to publication {name!r} ({str(exc).strip().splitlines()[0]}); ask the owner to run: "
            f"{statement.as_string(source.conn)}") from exc
    log.info("publication %s now holds %s", name, ", ".join(f"{t.schema_name}.{t.name}" for t in missing))


def _ensure_slot(source: Source, slot: str) -> int:
    """The slot's confirmed position; the slot is created (pgoutput) when missing."""
    rows = source.query("SELECT database, plugin, confirmed_flush_lsn - '0/0'::pg_lsn FROM pg_replication_slots "
                        "WHERE slot_name = %s", [slot], doing="reading replication slots")
    if rows:
        database, plugin, confirmed = rows[0]
        current = source.query("SELECT current_database()", doing="reading the database")[0][0]
        if database != current or plugin != "pgoutput":
            raise ConfigError("invalid config", [f"setting 'replication_slot_name': slot {slot!r} belongs to "
                                                 f"database {database!r} with plugin {plugin!r}; choose another name"])
        _wait_until_free(source, slot)
        return int(confirmed)
    source.query("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", [slot],
                 doing=f"creating replication slot {slot}")
    log.info("created logical replication slot %s (pgoutput)", slot)
    return _confirmed(source, slot)


def _wait_until_free(source: Source, slot: str) -> None:
    """A killed run's server process may hold the slot for a moment: wait for it, then give up."""
    deadline = time.monotonic() + SLOT_WAIT_SECONDS
    while True:
        rows = source.query("SELECT active_pid FROM pg_replication_slots WHERE slot_name = %s AND active_pid IS NOT "
                            "NULL AND active_pid <> pg_backend_pid()", [slot], doing="reading replication slots")
        if not rows:
            return
        if time.monotonic() > deadline:
            raise RetryableSourceError(f"PostgreSQL at {source.where}: replication slot {slot!r} is in use by "
                                       f"server process {rows[0][0]}; is another run of this tap active?")
        time.sleep(0.5)


def _confirmed(source: Source, slot: str) -> int:
    return int(source.query("SELECT confirmed_flush_lsn - '0/0'::pg_lsn FROM pg_replication_slots "
                            "WHERE slot_name = %s", [slot], doing="reading replication slots")[0][0])


def _check_ready(source: Source) -> None:
    level = source.query("SELECT current_setting('wal_level')", doing="reading wal_level")[0][0]
    if level != "logical":
        raise FatalSourceError(f"PostgreSQL at {source.where}: wal_level is {level}; LOG_BASED streams need "
                               "wal_level = logical (ALTER SYSTEM SET wal_level = logical, then restart)")


def sync_log_based(source: Source, plans: list[StreamPlan], writer: MessageWriter, bookmarks: Bookmarks,
                   settings: TapSettings, open_source: Callable[[], Source]) -> None:
    _check_ready(source)
    slot, publication = settings.replication_slot_name, settings.publication_name
    _ensure_publication(source, publication, plans)
    confirmed = _ensure_slot(source, slot)

    # 2. advance the slot to the position the runner stored
    for plan in plans:
        lsn = bookmarks.read(plan.name, LogBasedBookmark).lsn
        if lsn is not None and lsn < confirmed:
            log.warning("stream '%s': slot %s is past the stream's bookmark (%s < %s); changes in between are "
                        "gone: taking a new snapshot", plan.name, slot, lsn_to_text(lsn), lsn_to_text(confirmed))
            bookmarks.clear(plan.name)
    held = [v for v in (bookmarks.read(p.name, LogBasedBookmark).lsn for p in plans) if v is not None]
    if held and min(held) > confirmed:
        source.query("SELECT pg_replication_slot_advance(%s, %s::pg_lsn)", [slot, lsn_to_text(min(held))],
                     doing=f"advancing replication slot {slot}")
        log.info("slot %s advanced to %s", slot, lsn_to_text(min(held)))
        confirmed = _confirmed(source, slot)

    # 3. snapshots
    pending = False
    for plan in plans:
        held_at = bookmarks.read(plan.name, LogBasedBookmark)
        if held_at.snapshot_done and held_at.lsn is not None:
            plan.write_schema(writer)
            continue
        if held_at.lsn is None:
            # the slot's position, not the current one: a transaction whose commit record is written
            # but not yet visible to the snapshot must be replayed; replaying more is harmless
            bookmarks.clear(plan.name)
            bookmarks.write(plan.name, LogBasedBookmark(lsn=confirmed))
        log.info("stream '%s': initial snapshot", plan.name)
        sync_full_table(source, plan, writer, bookmarks, open_source=open_source,
                        parallel=settings.max_parallel_reads, final_state=False)
        bookmarks.write(plan.name, replace(bookmarks.read(plan.name, LogBasedBookmark), snapshot_done=True))
        pending = True  # its STATE: before the next record, or the run's final STATE

    # 4. changes up to a fixed position: flushed WAL, so that every commit starting before it is returned
    end = _lsn(source, "pg_current_wal_flush_lsn()")
    _Changes(source, plans, writer, bookmarks, slot, publication, pending).read(end)
    for plan in plans:
        held_at = bookmarks.read(plan.name, LogBasedBookmark)
        bookmarks.write(plan.name, replace(held_at, lsn=max(end, held_at.lsn or 0)))
    writer.write_state(bookmarks.to_value())


class _Changes:
    """One pass over the slot's pending changes, written as RECORDs."""

    def __init__(self, source: Source, plans: list[StreamPlan], writer: MessageWriter, bookmarks: Bookmarks,
                 slot: str, publication: str, pending: bool = False) -> None:
        self.source, self.writer, self.bookmarks = source, writer, bookmarks
        self.pending = pending  # a snapshot's STATE is due before the first record
        self.slot, self.publication = slot, publication
        self.plans = {(p.table.schema_name, p.table.name): p for p in plans}
        self.targets: dict[int, Target | None] = {}
        self.since = {p.name: bookmarks.read(p.name, LogBasedBookmark).lsn or 0 for p in plans}
        #: per stream, its change records and their record_count counter (what a snapshot reports too)
        self.counts = {p.name: 0 for p in plans}
        self.counters = {p.name: RecordCounter(p.name, writer.flush) for p in plans}
        self.toast_warned: set[str] = set()

    def _bind(self, rel: Relation) -> None:
        # the table's name now (renamed since the change: the logged name is the old one)
        now = self.source.query("SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = "
                                "c.relnamespace WHERE c.oid = %s", [rel.relid], doing="reading the table's name")
        plan = self.plans.get(now[0] if now else (rel.schema, rel.name))
        self.targets[rel.relid] = None if plan is None else bind(self.source, plan, rel)

    def read(self, end: int) -> None:
        query = ("SELECT data FROM pg_logical_slot_peek_binary_changes(%s, %s::pg_lsn, NULL, 'proto_version', '1', "
                 "'publication_names', %s)")
        pub = '"' + self.publication.replace('"', '""') + '"'
        count = since_state = 0
        commit_lsn, committed_at, skip = 0, "", False
        write = self.writer.write_record
        try:
            with self.source.conn.transaction(), self.source.conn.cursor(name="tap_postgres_changes") as cur:
                cur.itersize = 5000
                cur.execute(query, [self.slot, lsn_to_text(end), pub])
                for (data,) in cur:
                    msg = decode(bytes(data))
                    if isinstance(msg, Change):
                        target = self.targets.get(msg.relid)
                        if target is None or skip or commit_lsn < self.since[target.plan.name]:
                            continue
                        if self.pending:
                            self.pending = False
                            self.writer.write_state(self.bookmarks.to_value())
                        name = target.plan.name
                        produced = self._records(target, msg, commit_lsn, committed_at)
                        for record in produced:
                            write(name, record)
                        count += len(produced)
                        since_state += len(produced)
                        total = self.counts[name] = self.counts[name] + len(produced)
                        if total >= self.counters[name].check_at:
                            self.counters[name].tick(total)
                    elif isinstance(msg, Begin):
                        commit_lsn, committed_at = msg.commit_lsn, msg.committed_at
                        skip = commit_lsn >= end  # belongs to the next run
                    elif isinstance(msg, Commit):
                        if since_state >= STATE_EVERY_RECORDS and not skip:
                            self._checkpoint(msg.end_lsn)
                            since_state = 0
                    elif isinstance(msg, Relation):
                        self._bind(msg)
                    elif isinstance(msg, Truncate) and not skip:
                        self._truncate(msg, commit_lsn)
        except psycopg.Error as exc:
            raise self.source.error(exc, f"reading changes from slot {self.slot}") from exc
        self.writer.flush()  # the records counted are on the pipe before their count
        for name, counter in self.counters.items():
            counter.finish(self.counts[name])
        log.info("read %s from slot %s up to %s", plural(count, "change"), self.slot, lsn_to_text(end))

    def _records(self, target: Target, msg: Change, lsn: int, committed_at: str) -> list[dict[str, Any]]:
        if target.problem is not None:
            raise FatalSourceError(target.problem)
        out = []
        if msg.old is not None and (msg.action == "D" or msg.new is None or (
                target.plan.keys and any(msg.old[i] != msg.new[i] for i, _, _ in target.key_picks))):
            gone = msg.old
            if nonfinite_key(gone, target.nonfinite_keys) is None:  # else never emitted: nothing to delete
                deleted: dict[str, Any] = {name: None if gone[i] is None else conv(gone[i])
                                           for i, name, conv in target.key_picks if gone[i] is not UNCHANGED}
                deleted[DELETED_AT] = committed_at
                deleted[LSN] = lsn
                out.append(deleted)
        if msg.new is not None:
            row = msg.new
            unkeyed = nonfinite_key(row, target.nonfinite_keys)
            if unkeyed is not None:  # a key JSON cannot hold: skipped, counted (nonfinite.py)
                target.plan.nonfinite.skipped[unkeyed] += 1
                return out
            record: dict[str, Any] = {}
            # only a whole old row (REPLICA IDENTITY FULL) holds the unchanged TOASTed values: an old key
            # (a key change under the default identity) has NULL in every other column
            old = msg.old if msg.old_full else None
            unsent = list(target.absent)  # generated columns (never sent), columns added since
            for i, name, conv in target.picks:
                value = row[i]
                if value is UNCHANGED and old is not None:
                    value = old[i]
                if value is None:
                    record[name] = None
                elif value is not UNCHANGED:
                    record[name] = conv(value)
                else:
                    unsent.append(name)
            if unsent:
                self._fill_unsent(target, row, record, unsent)
            record[DELETED_AT] = None
            record[LSN] = lsn
            out.append(record)
        return out

    def _fill_unsent(self, target: Target, row: list[Any], record: dict[str, Any], names: list[str]) -> None:
        """Values PostgreSQL did not send: an update's unchanged TOASTed values (default replica identity),
        STORED generated columns (never sent) and columns added since the change.

        A target would null a missing field on upsert, so they are read from the table: the current
        value, which later changes in the WAL (if any) overwrite in order. A row deleted since is skipped.
        The row is found by its key as PostgreSQL sent it (its text form, cast back to the column's
        type): exact for every type, where the JSON value of an array or a float is not.
        """
        plan = target.plan
        if plan.name not in self.toast_warned:
            self.toast_warned.add(plan.name)
            self._tell_unsent(plan, names)
        if not plan.keys:
            return  # REPLICA IDENTITY FULL sends every value but generated ones; no key finds the row
        table = plan.table
        where = sql.SQL(" AND ").join(
            sql.SQL("{} = CAST({} AS {})").format(table.columns[k].ref, sql.Literal(row[i]),
                                                 sql.SQL(table.columns[k].sql_type))
            for i, k, _ in target.key_picks)
        query = sql.SQL("SELECT {}::text FROM (SELECT {} FROM {} WHERE {}) {}").format(
            ROW_JSON, sql.SQL(", ").join(table.columns[n].select_expr(plan.json_as_object) for n in names),
            table.aliased, where, sql.Identifier(ROW))
        rows = self.source.query(query, doing=f"reading unchanged values of {table.schema_name}.{table.name}")
        if rows:
            record.update(loads(plan.scan(rows[0][0].encode())))

    @staticmethod
    def _tell_unsent(plan: StreamPlan, names: list[str]) -> None:
        if not plan.keys:
            log.warning("stream '%s': changes do not carry %s (a generated column, or added since) and the "
                        "stream has no key to read them from the table by: they are left out of its change "
                        "records", plan.name, ", ".join(repr(n) for n in names))
        else:
            log.info("stream '%s': reading values changes do not carry from the table by the row's key: TOASTed "
                     "values an update left unchanged (ALTER TABLE ... REPLICA IDENTITY FULL makes PostgreSQL "
                     "send them), generated columns, columns added since", plan.name)

    def _truncate(self, msg: Truncate, lsn: int) -> None:
        for relid in msg.relids:
            target = self.targets.get(relid)
            if target is not None and lsn >= self.since[target.plan.name]:
                log.warning("stream '%s': TRUNCATE at %s; the next run takes a new snapshot", target.plan.name,
                            lsn_to_text(lsn))
                name = target.plan.name
                self.bookmarks.write(name, replace(self.bookmarks.read(name, LogBasedBookmark), snapshot_done=False))

    def _checkpoint(self, end_lsn: int) -> None:
        for name, since in self.since.items():
            held_at = self.bookmarks.read(name, LogBasedBookmark)
            self.bookmarks.write(name, replace(held_at, lsn=max(since, end_lsn)))
        self.writer.write_state(self.bookmarks.to_value())
