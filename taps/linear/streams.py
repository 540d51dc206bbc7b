"""The Linear streams: each one root connection (issues, projects, teams, users, cycles), read
newest-updated first (``orderBy: updatedAt``) and filtered by ``updatedAt: {gte: $bookmark}``
(``gt: $start_date`` on a first run). ``users`` asks for deactivated users too
(``includeDisabled: true``, :data:`ROOT_FLAGS`; Linear leaves them out by default), so that a user deactivated
between runs (``active: false``, a newer ``updatedAt``) reaches the target.

The filter includes the bookmark's own time: a record edited in the same millisecond as the
last one read, but visible only after that read, is not lost. The bookmark keeps the ids
already emitted at its value (``ids_at_value``), skipped when they come again; a state without
them (from before) re-emits at most the records at its value.

Linear orders a connection newest first, so the bookmark (the greatest ``updatedAt`` seen) is
saved when the stream ends; a run cut short starts again from the previous bookmark.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from protocol import Bookmarks, CatalogEntry, IncrementalBookmark, Stream
from taps.linear.schemas import FIELDS, SCHEMAS, selection
from taps.linear.settings import linear_time

if TYPE_CHECKING:
    from taps.linear.tap import TapLinear

__all__ = ["LinearStream", "STREAM_NAMES", "Watermark", "query"]

STREAM_NAMES = tuple(FIELDS)
#: per root, Boolean arguments beyond the common ones, with their values (Linear's schema: only
#: ``users`` has ``includeDisabled``, "Should query return disabled/suspended users (default: false)")
ROOT_FLAGS: dict[str, dict[str, bool]] = {"users": {"includeDisabled": True}}


def query(stream: str, only: set[str] | None = None) -> str:
    """The paged query of ``stream`` (the selected fields only, when ``only`` is given)."""
    root, filter_type, fields = FIELDS[stream]
    flags = ROOT_FLAGS.get(root, {})
    declared, passed = "".join(f", ${f}: Boolean" for f in flags), "".join(f", {f}: ${f}" for f in flags)
    return (f"query Sync($first: Int!, $after: String, $filter: {filter_type}, $includeArchived: Boolean{declared}) "
            f"{{ {root}(first: $first, after: $after, filter: $filter, orderBy: updatedAt, "
            f"includeArchived: $includeArchived{passed}) {{ pageInfo {{ hasNextPage endCursor }} "
            f"nodes {{ {selection(fields, only)} }} }} }}")


class Watermark:
    """A stream's bookmark during a run: where the query starts (``since``, inclusive), the ids
    emitted at exactly that time by earlier runs (skipped), and the greatest ``updatedAt`` read
    with the ids read at it (saved when the stream ends). Times are compared as the strings
    Linear writes (one fixed ISO form), as the saved bookmark is normalised to."""

    KEY = "updatedAt"
    IDS = "ids_at_value"

    def __init__(self, bookmarks: Bookmarks, stream: str) -> None:
        self.stream = stream
        saved = bookmarks.read(stream, IncrementalBookmark).value_for(self.KEY)
        self.since = linear_time(saved) if saved else None
        ids = bookmarks.get(stream, self.IDS) if self.since else None
        self.skip: frozenset[Any] = frozenset(ids if isinstance(ids, list) else ())
        self.best, self.ids = self.since, set(self.skip)

    def admit(self, record: dict[str, Any]) -> bool:
        """Whether ``record`` is new (not emitted at the bookmark's time before); notes its time."""
        value, ident = record.get(self.KEY), record.get("id")
        if value is not None and value == self.since and ident in self.skip:
            return False
        if value is not None and (self.best is None or value > self.best):
            self.best, self.ids = value, set()
        if value is not None and value == self.best:
            self.ids.add(ident)
        return True

    def save(self, bookmarks: Bookmarks) -> None:
        """Store the greatest time read and the ids read at it (nothing when nothing new came)."""
        if self.best is None or (self.best == self.since and self.ids == self.skip):
            return
        bookmarks.write(self.stream, IncrementalBookmark(self.KEY, self.best))
        bookmarks.set(self.stream, self.IDS, sorted(self.ids, key=str))


class LinearStream(Stream):
    primary_keys = ("id",)
    replication_key = "updatedAt"
    manages_bookmark = True  # the bookmark carries the ids at its value (Watermark)
    tap: TapLinear

    def __init__(self, tap: TapLinear, name: str) -> None:
        self.name = name
        self.entry: CatalogEntry | None = None
        super().__init__(tap)

    def bind(self, entry: CatalogEntry) -> None:
        self.entry = entry

    @property
    def schema(self) -> dict[str, Any]:
        return SCHEMAS[self.name]

    def get_records(self, bookmarks: Bookmarks) -> Iterator[dict[str, Any]]:
        settings = self.tap.settings
        mark = Watermark(bookmarks, self.name)
        variables: dict[str, Any] = {"includeArchived": settings.include_archived,
                                     **ROOT_FLAGS.get(FIELDS[self.name][0], {})}
        if mark.since:
            variables["filter"] = {"updatedAt": {"gte": mark.since}}
        elif settings.start_date:  # "updated after" it, as Linear writes times
            variables["filter"] = {"updatedAt": {"gt": settings.start_date}}
        text = query(self.name, self.selected_fields())
        for records in self.tap.client.pages(self.name, text, variables, FIELDS[self.name][0]):
            yield from (record for record in records if mark.admit(record))
        mark.save(bookmarks)

    def selected_fields(self) -> set[str] | None:
        """The fields the catalog selects (None: all), so the query asks for no more."""
        if self.entry is None:
            return None
        selected = set(self.entry.selected_schema().get("properties", {}))
        return None if selected >= set(self.schema["properties"]) else selected
