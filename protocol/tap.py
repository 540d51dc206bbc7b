"""The tap side of the kit: streams declared as classes, and the sync loop that drives them."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from protocol.catalog import Catalog, CatalogEntry, Metadata
from protocol.metrics import RecordCounter, emit
from protocol.settings_check import with_kit_settings
from protocol.state import Bookmarks
from protocol.wording import plural
from protocol.writer import MessageWriter

__all__ = ["Stream", "Tap"]

log = logging.getLogger("sluice.tap")

STATE_EVERY_RECORDS = 10_000


class Stream:
    """One stream of a tap. Subclasses set the class attributes and ``get_records``.

    ``is_sorted``: records arrive in ascending replication-key order, so intermediate
    STATE messages may carry the bookmark. When False the bookmark only moves at the end
    of the stream.
    """

    name: ClassVar[str] = ""
    primary_keys: ClassVar[list[str]] = []
    replication_key: ClassVar[str | None] = None
    replication_method: ClassVar[str | None] = None
    is_sorted: ClassVar[bool] = False
    #: True when ``get_records`` advances the stream's replication bookmark itself (values
    #: that need a typed comparison, such as date-times with offsets); the sync loop then
    #: does not track the maximum replication-key value.
    manages_bookmark: ClassVar[bool] = False

    def __init__(self, tap: Tap) -> None:
        self.tap = tap
        self.config = tap.config

    @property
    def schema(self) -> dict[str, Any]:
        raise NotImplementedError

    # Instance-level overrides for streams built from config (tap-csv, tap-rest).
    @property
    def stream_name(self) -> str:
        return self.name

    @property
    def keys(self) -> list[str]:
        return list(self.primary_keys)

    @property
    def bookmark_key(self) -> str | None:
        return self.replication_key

    def bind(self, entry: CatalogEntry) -> None:
        """Called by the sync loop before ``get_records`` with the catalog entry being synced.

        Streams whose schema is built at run time (tap-csv) may adopt ``entry.selected_schema()``
        so that the records they emit match the SCHEMA message. The default does nothing.
        """

    def get_records(self, bookmarks: Bookmarks) -> Iterator[dict[str, Any]]:
        raise NotImplementedError

    def catalog_entry(self) -> CatalogEntry:
        md = Metadata()
        md.set((), "inclusion", "available")
        md.set((), "selected-by-default", True)
        md.set((), "table-key-properties", self.keys)
        method = self.replication_method or ("INCREMENTAL" if self.bookmark_key else "FULL_TABLE")
        md.set((), "forced-replication-method", method)
        if self.bookmark_key:
            md.set((), "valid-replication-keys", [self.bookmark_key])
        for prop in self.schema.get("properties", {}):
            automatic = prop in self.keys or prop == self.bookmark_key
            md.set(("properties", prop), "inclusion", "automatic" if automatic else "available")
            if not automatic:
                md.set(("properties", prop), "selected-by-default", True)
        return CatalogEntry(
            tap_stream_id=self.stream_name,
            stream=self.stream_name,
            schema=self.schema,
            metadata=md,
            key_properties=self.keys,
            replication_key=self.bookmark_key,
            replication_method=method,
        )


class Tap:
    """Base of every tap. Subclasses set ``name``, ``settings_schema`` and ``streams()``."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    settings_schema: ClassVar[dict[str, Any]] = {"type": "object", "properties": {}}
    capabilities: ClassVar[list[str]] = ["catalog", "discover", "state", "about", "test"]
    kind: ClassVar[str] = "tap"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.settings_schema = with_kit_settings(cls.settings_schema)  # strict_settings, in --about too

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = dict(config)

    def streams(self) -> list[Stream]:
        raise NotImplementedError

    def test_connection(self) -> str:
        """Connect, authenticate and touch one object; return a one-line success message."""
        streams = self.streams()
        return f"{plural(len(streams), 'stream')} available"

    def discover(self) -> Catalog:
        return Catalog([s.catalog_entry() for s in self.streams()])

    def sync(self, catalog: Catalog, bookmarks: Bookmarks, writer: MessageWriter) -> None:
        """Write every selected stream, then the STATE holding every bookmark.

        Checkpoints, stream ends and this last STATE often carry the same value; the writer
        skips a checkpoint that did not move, and writes this final one unless it would repeat
        the line just before it, so the run ends with exactly one STATE.
        """
        by_name = {s.stream_name: s for s in self.streams()}
        started = time.monotonic()
        for entry in catalog.selected():
            stream = by_name.get(entry.tap_stream_id)
            if stream is None:
                log.warning("catalog stream '%s' is not offered by %s; skipped", entry.tap_stream_id, self.name)
                continue
            self._sync_stream(stream, entry, bookmarks, writer)
        writer.write_state(bookmarks.to_value(), final=True)
        emit("timer", "sync_duration", round(time.monotonic() - started, 6), {"status": "succeeded"})

    def _sync_stream(
        self, stream: Stream, entry: CatalogEntry, bookmarks: Bookmarks, writer: MessageWriter
    ) -> None:
        name = stream.stream_name
        stream.bind(entry)
        schema = entry.selected_schema()
        fields = set(schema.get("properties", {}))
        all_fields = fields == set(stream.schema.get("properties", {}))
        writer.write_schema(name, schema, stream.keys, [stream.bookmark_key] if stream.bookmark_key else None)
        key = None if stream.manages_bookmark else stream.bookmark_key
        started = time.monotonic()
        count = 0
        best: Any = None
        write = writer.write_record
        counter = RecordCounter(name, writer.flush)
        for record in stream.get_records(bookmarks):
            if not all_fields:
                record = {k: v for k, v in record.items() if k in fields}
            write(name, record)
            count += 1
            if count >= counter.check_at:
                counter.tick(count)
            if key is not None:
                value = record.get(key)
                if value is not None and (best is None or value > best):
                    best = value
            if count % STATE_EVERY_RECORDS == 0:
                if key is not None and stream.is_sorted and best is not None:
                    bookmarks.advance(name, key, best)
                writer.write_state(bookmarks.to_value())
        if key is not None and best is not None:
            bookmarks.advance(name, key, best)
        counter.finish(count)
        emit("timer", "sync_duration", round(time.monotonic() - started, 6), {"stream": name, "status": "succeeded"})
        writer.write_state(bookmarks.to_value())
