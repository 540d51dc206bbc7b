"""The Linear streams: each one root connection (issues, projects, teams, users, cycles), read
newest-updated first (``orderBy: updatedAt``) and filtered by ``updatedAt: {gt: $bookmark}``.

Linear orders a connection newest first, so the bookmark (the greatest ``updatedAt`` seen) is
saved when the stream ends; a run cut short starts again from the previous bookmark.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from protocol import Bookmarks, CatalogEntry, Stream
from taps.linear.schemas import FIELDS, SCHEMAS, selection
from taps.linear.settings import linear_time

if TYPE_CHECKING:
    from taps.linear.tap import TapLinear

__all__ = ["LinearStream", "STREAM_NAMES", "query"]

STREAM_NAMES = tuple(FIELDS)


def query(stream: str, only: set[str] | None = None) -> str:
    """The paged query of ``stream`` (the selected fields only, when ``only`` is given)."""
    root, filter_type, fields = FIELDS[stream]
    return (f"query Sync($first: Int!, $after: String, $filter: {filter_type}, $includeArchived: Boolean) "
            f"{{ {root}(first: $first, after: $after, filter: $filter, orderBy: updatedAt, "
            f"includeArchived: $includeArchived) {{ pageInfo {{ hasNextPage endCursor }} "
            f"nodes {{ {selection(fields, only)} }} }} }}")


class LinearStream(Stream):
    primary_keys = ("id",)
    replication_key = "updatedAt"
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
        saved = bookmarks.replication_value(self.name)
        since = linear_time(saved) if saved else settings.start_date  # as Linear writes times
        variables: dict[str, Any] = {"includeArchived": settings.include_archived}
        if since:
            variables["filter"] = {"updatedAt": {"gt": since}}
        selected = self.selected_fields()
        text = query(self.name, selected)
        for records in self.tap.client.pages(self.name, text, variables, FIELDS[self.name][0]):
            yield from records

    def selected_fields(self) -> set[str] | None:
        """The fields the catalog selects (None: all), so the query asks for no more."""
        if self.entry is None:
            return None
        selected = set(self.entry.selected_schema().get("properties", {}))
        return None if selected >= set(self.schema["properties"]) else selected
