"""The drain: spooled deliveries to RECORD lines, a batch at a time, and a STATE after each batch.

Which stream a delivery goes to is decided once per (source, event type) (:class:`Routes`), from
the catalog. The records of a batch are assembled from the spool's raw columns (:mod:`taps.webhook.lines`)
and bodies (:mod:`taps.webhook.bodies`) with joins only, and handed to the writer a stream at a time
(``write_records_json``: stream maps still apply). A stream whose catalog deselects some fields
takes the slow path: its records are parsed (exactly) and written field by field.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from itertools import chain, repeat

from protocol import Catalog, MessageWriter, RecordCounter, SchemaMessage, dumps, loads
from taps.webhook.bodies import spliced
from taps.webhook.lines import Heads
from taps.webhook.reader import Row, SpoolReader
from taps.webhook.settings import SourceSettings
from taps.webhook.streams import FIELDS, KEY, RECORD_SCHEMA, stream_name

__all__ = ["BATCH_BYTES", "BATCH_SIZE", "Routes", "drain"]

log = logging.getLogger("tap_webhook")

BATCH_SIZE = 5_000
#: Body bytes the drain holds at once: a batch of BATCH_SIZE rows is read and written in pieces of
#: about this much (at least one row each). A piece costs ~4x its bodies in memory while its lines
#: are assembled, so 5,000 bodies of 1 MiB (the receiver's default max_body_bytes) took ~20 GB.
#: STATE still follows each batch of BATCH_SIZE rows (and the last), so the output does not change.
BATCH_BYTES = 32 * 1024 * 1024
_DROP = ""  # the route of a deselected stream
_TAIL = b"}\n"


class Routes:
    """Where the deliveries of each (source, event type) go: a stream name, or nowhere."""

    def __init__(self, sources: Mapping[str, SourceSettings], catalog: Catalog, writer: MessageWriter) -> None:
        self._sources = sources
        self._catalog = catalog
        self._writer = writer
        self.by_key: dict[tuple[str, str | None], str] = {}
        self.partial: dict[str, frozenset[str]] = {}  # streams with some fields deselected: the kept ones
        self.counters: dict[str, RecordCounter] = {}
        self.counts: Counter[str] = Counter()
        for entry in catalog.selected():
            self._open(entry.tap_stream_id, entry.selected_schema())

    def _open(self, name: str, schema: dict[str, object]) -> None:
        props = schema.get("properties")
        kept = frozenset(props if isinstance(props, dict) else ()) | {KEY}
        if kept != set(FIELDS):
            self.partial[name] = kept
        self._writer.write_message(SchemaMessage(name, schema, [KEY], None))
        self.counters[name] = RecordCounter(name, self._writer.flush)

    def resolve(self, key: tuple[str, str | None]) -> str:
        """The stream of a (source, event type) seen for the first time in this run."""
        name = stream_name(self._sources, *key)
        if name not in self.counters:
            entry = self._catalog.get(name)
            if entry is not None:  # in the catalog and not selected
                name = _DROP
            else:
                log.info("stream '%s' is not in the catalog (first delivery of its kind since discovery): "
                         "synced with every field", name)
                self._open(name, RECORD_SCHEMA)
        self.by_key[key] = name
        return name

    def finish(self) -> None:
        for name, counter in self.counters.items():
            counter.finish(self.counts[name])


def drain(reader: SpoolReader, after: int, upto: int, routes: Routes, writer: MessageWriter,
          state: Callable[[int], None], batch_size: int = BATCH_SIZE, batch_bytes: int = BATCH_BYTES) -> int:
    """Write every delivery in ``(after, upto]``; the last position written (``after`` when none)."""
    last = after
    heads = Heads(reader)
    held = 0  # rows written since the last STATE: the reader's pieces never straddle a batch
    for rows in reader.batches(after, upto, batch_size, batch_bytes):
        write_batch(rows, heads, routes, writer)
        last = rows[-1][0]
        held += len(rows)
        if held >= batch_size:
            state(last)
            held = 0
    if held:
        state(last)
    routes.finish()
    return last


def write_batch(rows: list[Row], heads: Heads, routes: Routes, writer: MessageWriter) -> None:
    seqs, sources, types, ids, micros, headers, raw = zip(*rows, strict=True)
    columns = heads.columns(seqs, types, ids, micros, headers)
    values = spliced(raw)
    records = zip(*columns, raw if values is None else values, repeat(_TAIL))
    names = _names(routes, sources, types)
    if isinstance(names, str):  # one kind of delivery: the common case
        if names:
            _write(writer, routes, names, records, len(rows))
        return
    groups: dict[str, list[tuple[bytes, ...]]] = {}
    for name, record in zip(names, records, strict=True):
        if name:
            groups.setdefault(name, []).append(record)
    for name, group in groups.items():
        _write(writer, routes, name, iter(group), len(group))


def _names(routes: Routes, sources: tuple[str, ...], types: tuple[str | None, ...]) -> str | list[str]:
    """Each row's stream (``""``: dropped); one name for the batch when its rows are all of one kind."""
    by_key = routes.by_key
    key = (sources[0], types[0])
    if sources.count(key[0]) == len(sources) and types.count(key[1]) == len(types):
        return by_key[key] if key in by_key else routes.resolve(key)
    keys = list(zip(sources, types, strict=True))
    try:
        return list(map(by_key.__getitem__, keys))
    except KeyError:  # a kind of delivery first seen in this run
        return [by_key[key] if key in by_key else routes.resolve(key) for key in keys]


def _write(writer: MessageWriter, routes: Routes, name: str, records: Iterator[tuple[bytes, ...]],
           count: int) -> None:
    kept = routes.partial.get(name)
    parts = chain.from_iterable(records) if kept is None else map(partial(_project, kept), records)
    writer.write_records_json(name, b"".join(parts))
    total = routes.counts[name] = routes.counts[name] + count
    counter = routes.counters[name]
    if total >= counter.check_at:
        counter.tick(total)


def _project(kept: frozenset[str], record: tuple[bytes, ...]) -> bytes:
    """The slow path of a stream with deselected fields: a record parsed, cut down, encoded again."""
    parsed = loads(b"".join(record[:-1]) + b"}")
    return dumps({k: v for k, v in parsed.items() if k in kept}) + b"\n"
