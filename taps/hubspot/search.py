"""Paging the CRM search API by its sort key, never by ``after``.

``after`` is an offset into results sorted by modified date, computed again for every page: a
record modified while the tap pages moves to the end, everything behind it moves up one place,
and the record that slid across the page boundary is never returned (the run still ends with
exit 0). The search API also refuses offsets past 10,000 results. So every page is a new search
that starts where the last one ended:

    forward   modified >= the last modified date emitted (> once every record at it is out),
              ascending; the ids already emitted at that date are skipped.
    at one    a full page of one modified date: more records than a page may share it. Page
    date      through that date alone, by ``hs_object_id`` > the last id, ascending; then go on
              after it. Records cannot enter a past date (a change stamps the time of the
              change), and one that leaves it is returned again at its new date: no record
              can slide past the tap.

A record changed during the run is emitted at each version the tap meets, never skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from protocol import FatalSourceError

if TYPE_CHECKING:
    from taps.hubspot.client import HubSpotClient

__all__ = ["Cursor", "Search", "millis"]

ID_PROPERTY = "hs_object_id"


def millis(iso: str) -> int:
    """An ISO 8601 time as the epoch milliseconds the search API filters on."""
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


@dataclass
class Cursor:
    """The last modified date emitted (``at`` as the record has it, ``ms`` as a filter value) and the
    ids emitted at it; ``done`` once every record at it is out (the next search starts after it)."""

    ms: int
    at: str | None = None
    ids: set[str] = field(default_factory=set)
    done: bool = False

    def take(self, raw: dict[str, Any]) -> bool:
        """Whether to emit this record (False: emitted already at this date), moving the cursor."""
        updated = raw.get("updatedAt")
        if not isinstance(updated, str):
            return True  # no date to page by: emitted, the cursor stays
        ms, rid = millis(updated), str(raw.get("id"))
        if ms < self.ms:
            return True  # behind the cursor (not what the search asked for): emitted, the cursor stays
        if ms > self.ms:
            self.ms, self.ids, self.done = ms, set(), False
        elif rid in self.ids:
            return False
        self.at = updated
        self.ids.add(rid)
        return True

    def mark(self) -> tuple[int, int, bool]:
        """What changes when a page brings something new."""
        return self.ms, len(self.ids), self.done


@dataclass
class Search:
    """The searches of one stream: up to ``end_ms`` (the end date) if set, asking for ``properties``."""

    stream: str
    client: HubSpotClient
    object_type: str
    modified_property: str
    properties: list[str]
    end_ms: int | None

    def rows(self, cursor: Cursor, paged: Callable[[Cursor], None]) -> Iterator[dict[str, Any]]:
        """Every record from the cursor on; ``paged`` is told the cursor after each page."""
        limit = self.client.limit
        while True:
            before, was_done = cursor.mark(), cursor.done
            rows = self.client.search(self.object_type, self._forward(cursor))
            yield from (raw for raw in rows if cursor.take(raw))
            paged(cursor)
            if len(rows) < limit:
                return
            if _one_date(rows, cursor) and not was_done:  # (done: the search asked for later dates only)
                yield from self._at_one_date(cursor, paged)
            elif cursor.mark() == before:
                raise FatalSourceError(f"stream '{self.stream}': the search answered a full page with no record "
                                       "not emitted before; paging would not end")

    def newest(self) -> str | None:
        """The newest modified date there is (None: no record): a record modified after this
        moment is stamped at or after it, whatever the clocks of the server and this machine say."""
        request = {"properties": [self.modified_property], "limit": 1,
                   "sorts": [{"propertyName": self.modified_property, "direction": "DESCENDING"}]}
        rows = self.client.search(self.object_type, request)
        updated = rows[0].get("updatedAt") if rows else None
        return updated if isinstance(updated, str) else None

    def _at_one_date(self, cursor: Cursor, paged: Callable[[Cursor], None]) -> Iterator[dict[str, Any]]:
        """Every record at the cursor's date, by id; then the cursor is done with that date."""
        last_id: int | None = None
        while True:
            rows = self.client.search(self.object_type, self._by_id(cursor.ms, last_id))
            yield from (raw for raw in rows if cursor.take(raw))
            paged(cursor)
            if len(rows) < self.client.limit:
                cursor.done = True
                return
            page_last = _id(rows[-1], self.stream)
            if last_id is not None and page_last <= last_id:
                raise FatalSourceError(f"stream '{self.stream}': the search by {ID_PROPERTY} > {last_id} "
                                       f"answered id {page_last}; paging would not end")
            last_id = page_last

    def _forward(self, cursor: Cursor) -> dict[str, Any]:
        filters = [self._filter("GT" if cursor.done else "GTE", cursor.ms)]
        if self.end_ms is not None:
            filters.append(self._filter("LTE", self.end_ms))
        return self._request(filters, self.modified_property)

    def _by_id(self, ms: int, last_id: int | None) -> dict[str, Any]:
        filters = [self._filter("GTE", ms), self._filter("LTE", ms)]
        if last_id is not None:
            filters.append({"propertyName": ID_PROPERTY, "operator": "GT", "value": str(last_id)})
        return self._request(filters, ID_PROPERTY)

    def _filter(self, operator: str, ms: int) -> dict[str, Any]:
        return {"propertyName": self.modified_property, "operator": operator, "value": str(ms)}

    def _request(self, filters: list[dict[str, Any]], sort: str) -> dict[str, Any]:
        return {"filterGroups": [{"filters": filters}], "properties": self.properties,
                "sorts": [{"propertyName": sort, "direction": "ASCENDING"}], "limit": self.client.limit}


def _one_date(rows: list[dict[str, Any]], cursor: Cursor) -> bool:
    """A page whose records all share the cursor's date: more of them may follow than a page holds."""
    return all(isinstance(r.get("updatedAt"), str) and millis(r["updatedAt"]) == cursor.ms for r in rows)


def _id(raw: dict[str, Any], stream: str) -> int:
    rid = str(raw.get("id"))
    if not rid.isdigit():
        raise FatalSourceError(f"stream '{stream}': the search answered id {rid!r}, not a number")
    return int(rid)
