"""The tap side of the kit: streams declared as classes, and the sync loop that drives them."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

from protocol._catalog import Catalog, CatalogEntry, Metadata
from protocol._errors import FatalSourceError
from protocol._mapwriter import stream_maps_from_config
from protocol._messages import SchemaMessage
from protocol._metrics import RecordCounter, emit_metric
from protocol._settings_check import with_kit_settings
from protocol._state import Bookmarks, Order, _greater, bookmark_order
from protocol._wording import plural
from protocol._writer import MessageWriter

__all__ = ["Stream", "TableStream", "Tap"]

log = logging.getLogger("sluice.tap")

STATE_EVERY_RECORDS = 10_000


class Stream:
    """One stream of a tap. Subclasses set the class attributes and ``get_records``.

    ``name``, ``primary_keys``, ``replication_key`` and ``replication_method`` are class
    attributes for streams declared in code (tap-github); streams built from config or found
    at run time (tap-csv, tap-rest, :class:`TableStream`) set the same attributes per instance.

    ``is_sorted``: records arrive in ascending replication-key order, so intermediate
    STATE messages may carry the bookmark. When False the bookmark only moves at the end
    of the stream.
    """

    name: str = ""
    primary_keys: Sequence[str] = ()
    replication_key: str | None = None
    replication_method: str | None = None
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

    def bind(self, entry: CatalogEntry) -> None:
        """Called by the sync loop before ``get_records`` with the catalog entry being synced.

        Streams whose schema is built at run time (tap-csv) may adopt ``entry.selected_schema()``
        so that the records they emit match the SCHEMA message. The default does nothing.
        """

    def get_records(self, bookmarks: Bookmarks) -> Iterator[dict[str, Any]]:
        raise NotImplementedError

    def catalog_entry(self) -> CatalogEntry:
        method = self.replication_method or ("INCREMENTAL" if self.replication_key else "FULL_TABLE")
        return CatalogEntry(
            tap_stream_id=self.name,
            stream=self.name,
            schema=self.schema,
            metadata=self._metadata(method),
            key_properties=list(self.primary_keys),
            replication_key=self.replication_key,
            replication_method=method,
        )

    def _metadata(
        self,
        forced_method: str | None,
        stream_extra: Mapping[str, Any] | None = None,
        field_extra: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Metadata:
        """The discovery metadata: the stream selected by default, its keys automatic, every other
        field available and selected by default; ``*_extra`` add the source's own entries."""
        keys = list(self.primary_keys)
        md = Metadata()
        md.set((), "inclusion", "available")
        md.set((), "selected-by-default", True)
        md.set((), "table-key-properties", keys)
        if forced_method:
            md.set((), "forced-replication-method", forced_method)
        if self.replication_key:
            md.set((), "valid-replication-keys", [self.replication_key])
        for key, value in (stream_extra or {}).items():
            md.set((), key, value)
        for prop in self.schema.get("properties", {}):
            crumb = ("properties", prop)
            for key, value in (field_extra or {}).get(prop, {}).items():
                md.set(crumb, key, value)
            automatic = prop in keys or prop == self.replication_key
            md.set(crumb, "inclusion", "automatic" if automatic else "available")
            if not automatic:
                md.set(crumb, "selected-by-default", True)
        return md


class TableStream(Stream):
    """A stream found at run time, such as one table or view of a database.

    Its name, schema and keys come from the source. The catalog chooses its replication method
    and key, so its entry forces neither; ``stream_metadata`` (for example the schema and table
    names) and ``field_metadata`` (for example each column's SQL type) are the source's own
    entries. A tap that syncs such streams itself (by its own plans) still offers them here, so
    discovery and the connection check see them like any other stream.
    """

    def __init__(
        self,
        tap: Tap,
        name: str,
        schema: dict[str, Any],
        *,
        primary_keys: Sequence[str] = (),
        stream_metadata: Mapping[str, Any] | None = None,
        field_metadata: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        super().__init__(tap)
        self.name = name
        self.primary_keys = list(primary_keys)
        self._schema = schema
        self.stream_metadata = dict(stream_metadata or {})
        self.field_metadata = {k: dict(v) for k, v in (field_metadata or {}).items()}

    @property
    def schema(self) -> dict[str, Any]:
        return self._schema

    def catalog_entry(self) -> CatalogEntry:
        return CatalogEntry(
            tap_stream_id=self.name,
            stream=self.name,
            schema=self.schema,
            metadata=self._metadata(None, self.stream_metadata, self.field_metadata),
            key_properties=list(self.primary_keys),
        )


class _Latest:
    """The greatest replication-key value of a stream's records, as it came (the text kept), compared
    by the key's type in the schema (``order``, from :func:`bookmark_order`); without one, as the
    values are, values of mixed types (1 and "2") as text, as Bookmarks does."""

    __slots__ = ("key", "order", "rank", "stream", "value")

    def __init__(self, stream: str, key: str | None, order: Order | None) -> None:
        self.stream, self.key, self.order = stream, key, order
        self.value: Any = None
        self.rank: Any = None

    def see(self, value: Any) -> None:
        if self.order is None:
            try:
                newer = self.value is None or value > self.value
            except TypeError:
                newer = _greater(value, self.value)
            if newer:
                self.value = value
            return
        try:
            rank = self.order(value)
        except ValueError as exc:
            raise FatalSourceError(f"stream '{self.stream}': replication key '{self.key}' value {value!r} is not "
                                   f"of its type in the schema ({exc}); it cannot be compared with the "
                                   "bookmark") from exc
        if self.rank is None or rank > self.rank:
            self.rank, self.value = rank, value


class Tap:
    """Base of every tap. Subclasses set ``name``, ``settings_schema`` and ``streams()``."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    settings_schema: ClassVar[dict[str, Any]] = {"type": "object", "properties": {}}
    capabilities: ClassVar[list[str]] = ["catalog", "discover", "state", "about", "test", "stream-maps",
                                         "schema-flattening"]
    kind: ClassVar[str] = "tap"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.settings_schema = with_kit_settings(cls.settings_schema)  # strict_settings, in --about too

    @classmethod
    def log_secrets(cls, config: Mapping[str, Any]) -> list[str]:
        """Values of ``config`` to keep out of every log line beyond the settings its schema marks
        secret (the CLI adds these to the redaction): none by default."""
        return []

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = dict(config)
        #: the stream maps the CLI applies to what this tap writes (protocol/_mapwriter.py); None: none asked for
        self.stream_maps = stream_maps_from_config(self.config, self.name, decoded=False)

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
        by_name = {s.name: s for s in self.streams()}
        started = time.monotonic()
        for entry in catalog.selected():
            stream = by_name.get(entry.tap_stream_id)
            if stream is None:
                log.warning("catalog stream '%s' is not offered by %s; skipped", entry.tap_stream_id, self.name)
                continue
            self._sync_stream(stream, entry, bookmarks, writer)
        writer.write_state(bookmarks.to_value(), final=True)
        emit_metric("timer", "sync_duration", round(time.monotonic() - started, 6), {"status": "succeeded"})

    def _sync_stream(
        self, stream: Stream, entry: CatalogEntry, bookmarks: Bookmarks, writer: MessageWriter
    ) -> None:
        name = stream.name
        stream.bind(entry)
        schema = entry.selected_schema()
        fields = set(schema.get("properties", {}))
        all_fields = fields == set(stream.schema.get("properties", {}))
        rk = stream.replication_key
        writer.write_message(SchemaMessage(name, schema, list(stream.primary_keys), [rk] if rk else None))
        key = None if stream.manages_bookmark else rk
        best = _Latest(name, key, bookmark_order(schema.get("properties", {}).get(key)) if key else None)
        started = time.monotonic()
        count = 0
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
                if value is not None:
                    best.see(value)
            if count % STATE_EVERY_RECORDS == 0:
                if key is not None and stream.is_sorted and best.value is not None:
                    bookmarks.advance(name, key, best.value, best.order)
                writer.write_state(bookmarks.to_value())
        if key is not None and best.value is not None:
            bookmarks.advance(name, key, best.value, best.order)
        counter.finish(count)
        emit_metric("timer", "sync_duration", round(time.monotonic() - started, 6),
                    {"stream": name, "status": "succeeded"})
        writer.write_state(bookmarks.to_value())
