"""The HubSpot streams.

    contacts, companies, deals   CRM objects; schema from the properties API. With no bookmark and
                                 no start_date: every page of ``GET /crm/v3/objects/{type}`` (the
                                 bookmark moves when the stream is done, never past the listing's
                                 start). Otherwise the search API, modified-date >= the bookmark,
                                 ascending, each page a new search from the last modified date
                                 emitted (:mod:`taps.hubspot.search`): the bookmark moves after each.
    owners                       ``GET /crm/v3/owners``, full table.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from protocol import Bookmarks, CatalogEntry, Stream
from taps.hubspot.schemas import OWNERS_SCHEMA, PropertyTyper
from taps.hubspot.search import Cursor, Search, millis

if TYPE_CHECKING:
    from taps.hubspot.tap import TapHubSpot

__all__ = ["STREAM_TYPES", "HubSpotStream"]


class HubSpotStream(Stream):
    manages_bookmark = True
    tap: TapHubSpot


class OwnersStream(HubSpotStream):
    name = "owners"
    primary_keys = ("id",)

    @property
    def schema(self) -> dict[str, Any]:
        return OWNERS_SCHEMA

    def get_records(self, bookmarks: Bookmarks) -> Iterator[dict[str, Any]]:
        for rows in self.tap.client.pages("/crm/v3/owners", {"archived": "false"}, "/crm/v3/owners", self.name):
            yield from rows


class CrmObjectStream(HubSpotStream):
    """Contacts, companies or deals: incremental on ``updatedAt`` (the object's modified date)."""

    object_type: ClassVar[str] = ""
    modified_property: ClassVar[str] = "hs_lastmodifieddate"
    primary_keys = ("id",)
    replication_key = "updatedAt"
    is_sorted = True

    def __init__(self, tap: TapHubSpot) -> None:
        super().__init__(tap)
        self._schema: dict[str, Any] | None = None

    @property
    def schema(self) -> dict[str, Any]:
        if self._schema is None:
            self._schema = self.tap.object_schema(self.object_type)
        return self._schema

    def bind(self, entry: CatalogEntry) -> None:
        self._schema = entry.schema  # the catalog's properties: no properties API call at sync time

    def property_names(self) -> list[str]:
        return list(self.schema["properties"]["properties"].get("properties", {}))

    def get_records(self, bookmarks: Bookmarks) -> Iterator[dict[str, Any]]:
        typer = PropertyTyper(self.name, self.schema)
        value = bookmarks.replication_value(self.name)
        start = str(value) if value is not None else self.tap.settings.start_date
        rows = self._listed(bookmarks) if start is None else self._searched(bookmarks, start)
        for raw in rows:
            yield typer(raw)

    def _listed(self, bookmarks: Bookmarks) -> Iterator[dict[str, Any]]:
        """Every page of the listing. It is not sorted by modified date: a record changed while it
        pages may be on a page already read, so the bookmark is the newest date listed but never
        later than the moment the listing began (see :meth:`_listing_began`): the next run's search
        starts there and meets every change made since."""
        end = self.tap.settings.end_date
        params = {"properties": ",".join(self.property_names()), "archived": "false"}
        best: str | None = None
        path = f"/crm/v3/objects/{self.object_type}"
        began, newest = datetime.now(UTC), self._search().newest()
        for rows in self.tap.client.pages(path, params, "/crm/v3/objects/{objectType}", self.name):
            for raw in rows:
                updated = raw.get("updatedAt")
                if end is not None and updated is not None and updated > end:
                    continue
                if updated is not None and (best is None or updated > best):
                    best = updated
                yield raw
        if best is not None:
            bookmarks.advance(self.name, "updatedAt", min(best, *self._listing_began(began, newest), key=millis))

    def _listing_began(self, began: datetime, newest: str | None) -> list[str]:
        """When the listing began, at the latest: the newest modified date there was then (the server's
        own stamp), and our clock at that moment, read on the server's as far as its ``Date`` headers
        tell (for when there was none)."""
        clock = self.tap.client.server_time(began).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return [clock] if newest is None else [clock, newest]

    def _search(self) -> Search:
        end = self.tap.settings.end_date
        return Search(self.name, self.tap.client, self.object_type, self.modified_property,
                      self.property_names(), millis(end) if end else None)

    def _searched(self, bookmarks: Bookmarks, start: str) -> Iterator[dict[str, Any]]:
        """The search from ``start`` (see :mod:`taps.hubspot.search`); the bookmark moves after each page."""

        def paged(cursor: Cursor) -> None:
            if cursor.at is not None:
                bookmarks.advance(self.name, "updatedAt", cursor.at)

        yield from self._search().rows(Cursor(millis(start)), paged)


class ContactsStream(CrmObjectStream):
    name = "contacts"
    object_type = "contacts"
    modified_property = "lastmodifieddate"


class CompaniesStream(CrmObjectStream):
    name = "companies"
    object_type = "companies"


class DealsStream(CrmObjectStream):
    name = "deals"
    object_type = "deals"


STREAM_TYPES: list[type[HubSpotStream]] = [ContactsStream, CompaniesStream, DealsStream, OwnersStream]
