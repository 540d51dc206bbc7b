"""The drain: spooled deliveries to RECORD lines, a batch at a time, and a STATE after each batch.

Which stream a delivery goes to is decided once per (source, event type) (:class:`Routes`), from
the catalog. The records of a batch are assembled from the database-built heads and the raw bodies
(:mod:`taps.webhook.bodies`) with joins only, and handed to the writer a stream at a time
(``write_records_json``: stream maps still apply). A stream whose catalog deselects some fields
takes the slow path: its records are parsed (exactly) and written field by field.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from itertools import chain, repeat

from protocol import Catalog, MessageWriter, RecordCounter, SchemaMessage, dumps, loads
from taps.webhook.bodies import spliced
from taps.webhook.reader import Row, SpoolReader
from taps.webhook.settings import SourceSettings
from taps.webhook.streams import FIELDS, KEY, RECORD_SCHEMA, stream_name

__all__ = ["BATCH_SIZE", "Routes", "drain"]

log = logging.getLogger("tap_webhook")

BATCH_SIZE = 5_000
_DROP = ""  # the route of a deselected stream
_TAIL = b"}\n"
_PARTS = 5  # head, date and time, microseconds and "body" key, body, tail
_STAMPS_KEPT = 100_000  # seconds formatted and remembered (a run's deliveries mostly share a few)


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
        self._stamps: dict[int, bytes] = {}
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

    def stamps(self, seconds: tuple[int, ...]) -> list[bytes]:
        """Each unix second as ``YYYY-MM-DDTHH:MM:SS`` (UTC), formatted once per second."""
        stamps = list(map(self._stamps.get, seconds))
        if None in stamps:
            if len(self._stamps) > _STAMPS_KEPT:
                self._stamps.clear()
            for second in set(seconds) - self._stamps.keys():
                self._stamps[second] = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S").encode()
            stamps = list(map(self._stamps.__getitem__, seconds))
        return stamps  # type: ignore[return-value]

    def finish(self) -> None:
        for name, counter in self.counters.items():
            counter.finish(self.counts[name])


def drain(reader: SpoolReader, after: int, upto: int, routes: Routes, writer: MessageWriter,
          state: Callable[[int], None], batch_size: int = BATCH_SIZE) -> int:
    """Write every delivery in ``(after, upto]``; the last position written (``after`` when none)."""
    last = after
    for rows in reader.batches(after, upto, batch_size):
        write_batch(rows, routes, writer)
        last = rows[-1][0]
        state(last)
    routes.finish()
    return last


def write_batch(rows: list[Row], routes: Routes, writer: MessageWriter) -> None:
    _seqs, sources, types, heads, seconds, tails, raw = zip(*rows, strict=True)
    keys = list(zip(sources, types, strict=True))
    by_key = routes.by_key
    try:
        names = list(map(by_key.__getitem__, keys))
    except KeyError:  # a kind of delivery first seen in this run
        names = [by_key[key] if key in by_key else routes.resolve(key) for key in keys]
    stamps = routes.stamps(seconds)
    values = spliced(raw)
    bodies = raw if values is None else values
    first = names[0]
    if first and not routes.partial and names.count(first) == len(names):  # one stream: the common case
        parts = list(chain.from_iterable(zip(heads, stamps, tails, bodies, repeat(_TAIL))))
        _write(writer, routes, first, parts, len(names))
        return
    groups: dict[str, list[bytes]] = {}
    for name, *record in zip(names, heads, stamps, tails, bodies, strict=True):
        if name:
            groups.setdefault(name, []).extend((*record, _TAIL))
    for name, parts in groups.items():
        count = len(parts) // _PARTS
        kept = routes.partial.get(name)
        _write(writer, routes, name, parts if kept is None else _project(parts, kept), count)


def _write(writer: MessageWriter, routes: Routes, name: str, parts: list[bytes], count: int) -> None:
    writer.write_records_json(name, b"".join(parts))
    total = routes.counts[name] = routes.counts[name] + count
    counter = routes.counters[name]
    if total >= counter.check_at:
        counter.tick(total)


def _project(parts: list[bytes], kept: frozenset[str]) -> list[bytes]:
    """The slow path of a stream with deselected fields: each record parsed, cut down, encoded again."""
    out = []
    for i in range(0, len(parts), _PARTS):
        record = loads(b"".join(parts[i:i + _PARTS - 1]) + b"}")
        out.append(dumps({k: v for k, v in record.items() if k in kept}) + b"\n")
    return out
