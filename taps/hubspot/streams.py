"""The HubSpot streams.

    contacts, companies, deals   CRM objects; schema from the properties API. With no bookmark and
                                 no start_date: every page of ``GET /crm/v3/objects/{type}`` (the
                                 bookmark moves when the stream is done). Otherwise the search API,
                                 modified-date >= the bookmark, ascending: the bookmark moves after
                                 each page, and the 10,000-result window is re-opened at the last
                                 modified date seen (ids already emitted at that date are skipped).
    owners                       ``GET /crm/v3/owners``, full table.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from protocol import Bookmarks, CatalogEntry, FatalSourceError, Stream
from taps.hubspot.client import SEARCH_WINDOW
from taps.hubspot.schemas import OWNERS_SCHEMA, PropertyTyper

if TYPE_CHECKING:
    from taps.hubspot.tap import TapHubSpot

__all__ = ["STREAM_TYPES", "HubSpotStream"]


def millis(iso: str) -> str:
    """An ISO 8601 time as the epoch milliseconds the search API filters on."""
    return str(int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000))


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
        for rows in self.tap.client.pages("/crm/v3/owners", {"archived": "false"}, "/crm/v3/owners"):
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
        end = self.tap.settings.end_date
        params = {"properties": ",".join(self.property_names()), "archived": "false"}
        best: str | None = None
        path = f"/crm/v3/objects/{self.object_type}"
        for rows in self.tap.client.pages(path, params, "/crm/v3/objects/{objectType}"):
            for raw in rows:
                updated = raw.get("updatedAt")
                if end is not None and updated is not None and updated > end:
                    continue
                if updated is not None and (best is None or updated > best):
                    best = updated
                yield raw
        if best is not None:
            bookmarks.advance(self.name, "updatedAt", best)

    def _request(self, start: str) -> dict[str, Any]:
        filters = [{"propertyName": self.modified_property, "operator": "GTE", "value": millis(start)}]
        if self.tap.settings.end_date:
            filters.append({"propertyName": self.modified_property, "operator": "LTE",
                            "value": millis(self.tap.settings.end_date)})
        return {"filterGroups": [{"filters": filters}], "properties": self.property_names(),
                "sorts": [{"propertyName": self.modified_property, "direction": "ASCENDING"}],
                "limit": self.tap.client.limit}

    def _searched(self, bookmarks: Bookmarks, start: str) -> Iterator[dict[str, Any]]:
        """Search windows from ``start``: each one is re-opened at its last modified date."""
        skip: set[str] = set()  # ids emitted at ``start`` by the window before
        while True:
            window = _Window(start, skip)
            yield from self._window(bookmarks, window)
            if window.done:
                return
            if window.last is None or window.last == start:
                raise FatalSourceError(
                    f"stream '{self.name}': more than {SEARCH_WINDOW} records modified at {start}; the search "
                    "API cannot page past them")
            start, skip = window.last, window.at_last

    def _window(self, bookmarks: Bookmarks, window: _Window) -> Iterator[dict[str, Any]]:
        request = self._request(window.start)
        limit = self.tap.client.limit
        while True:
            rows, after = self.tap.client.search(self.object_type, request)
            for raw in rows:
                if window.take(raw):
                    yield raw
            if window.last is not None:
                bookmarks.advance(self.name, "updatedAt", window.last)
            if after is None:
                window.done = True
                return
            if not after.isdigit() or int(after) + limit > SEARCH_WINDOW:
                return  # the next page would pass the search API's window
            request["after"] = after


class _Window:
    """One search from ``start``: the last modified date seen and the ids emitted at it."""

    def __init__(self, start: str, skip: set[str]) -> None:
        self.start, self.skip = start, skip
        self.last: str | None = None
        self.at_last: set[str] = set()
        self.done = False

    def take(self, raw: dict[str, Any]) -> bool:
        rid = str(raw.get("id"))
        updated = raw.get("updatedAt")
        if updated == self.start and rid in self.skip:
            return False  # emitted by the window before, at the date this one starts from
        if updated != self.last:
            self.last, self.at_last = updated, set()
        self.at_last.add(rid)
        if updated == self.start:
            self.at_last |= self.skip
        return True


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
