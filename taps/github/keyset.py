"""Keyset paging for the GitHub listings sorted by ``updated_at`` ascending with ``since``
(issues, issue comments).

Why not the Link header: its page numbers count positions in a listing that moves while it is
read. An item updated after page 1 was served jumps to the end, every later item moves up one
place, and the one that slides back onto page 1 is never served; the bookmark then passes it for
good. Asking again with ``since=<newest updated_at so far>`` after each page starts the next page
at a time instead of at a position, and an update cannot shift a time.

    ``since`` is inclusive   rows at exactly that time come again; those already yielded (by id) are dropped
    one time, a whole page   ``since`` cannot move, so the Link is followed within that time (an update
                             there can still shift a row past the tap; see the README)
    always progress          ``since`` only grows; a Link URL served twice is an error, not a loop
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urljoin

from protocol import FatalSourceError
from protocol.http import url_origin
from taps.github.client import GitHubClient

__all__ = ["KeysetListing"]


class KeysetListing:
    """One repository's listing, read page by page with ``since`` moved to the newest row seen."""

    def __init__(self, client: GitHubClient, stream: str, key: str, *, id_key: str = "id") -> None:
        self.client, self.stream, self.key, self.id_key = client, stream, key, id_key
        self.newest: str | None = None  # the newest ``key`` yielded so far
        self.ids_at_newest: set[Any] = set()  # ids yielded at exactly ``newest``

    def pages(self, full_name: str, what: str, params: Mapping[str, Any], start: str | None,
              ) -> Iterator[list[dict[str, Any]]]:
        """The rows not yet yielded, one list per request, oldest change first."""
        url, endpoint = self.client.listing(full_name, what)
        since, own_since = start, False  # own: ``since`` came from a row, so no row may be older
        request_url: str = url
        request_params: dict[str, Any] | None = self._params(params, since)
        followed: set[str] = set()
        while True:
            rows, next_url = self.client.page(request_url, request_params, endpoint)
            yield self._fresh(rows, since if own_since else None, endpoint)
            if next_url is None:
                return
            if self.newest is not None and (since is None or self.newest > since):
                since, own_since = self.newest, True
                request_url, request_params = url, self._params(params, since)
                followed.clear()
                continue
            if url_origin(urljoin(request_url, next_url)) != url_origin(url):  # credentials stay on the API
                raise FatalSourceError(self.client.http.safe(
                    f"stream '{self.stream}': {endpoint}: the Link header leads to {next_url}, another origin "
                    f"than the API's: not followed (credentials go only to the API)"))
            if next_url in followed:  # a whole page at one time, and the Link goes round
                raise FatalSourceError(f"stream '{self.stream}': {endpoint}: the Link header repeats "
                                       f"{next_url}; paging would not end")
            followed.add(next_url)
            request_url, request_params = next_url, None

    def _params(self, params: Mapping[str, Any], since: str | None) -> dict[str, Any]:
        base = dict(params)
        if self.client.per_page:
            base["per_page"] = self.client.per_page
        if since is not None:
            base["since"] = since
        return base

    def _fresh(self, rows: list[dict[str, Any]], floor: str | None, endpoint: str) -> list[dict[str, Any]]:
        """The rows not yielded before; a row older than a ``since`` the tap took from the data means
        the API ignored ``since`` (continuing would repeat pages), so it stops the run."""
        fresh = []
        for row in rows:
            value = row.get(self.key)
            value = value if isinstance(value, str) else None
            if floor is not None and value is not None and value < floor:
                raise FatalSourceError(f"stream '{self.stream}': {endpoint}: {self.key} {value} is older than "
                                       f"since={floor}; the API did not honour since")
            if value is not None and value == self.newest and row.get(self.id_key) in self.ids_at_newest:
                continue
            self._note(value, row.get(self.id_key))
            fresh.append(row)
        return fresh

    def _note(self, value: str | None, row_id: Any) -> None:
        if value is None:
            return
        if self.newest is None or value > self.newest:
            self.newest, self.ids_at_newest = value, {row_id}
        elif value == self.newest:
            self.ids_at_newest.add(row_id)
