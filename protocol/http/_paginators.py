"""Paginators: given one page, the request for the next one, or None to stop.

    LinkPaginator         the ``rel="next"`` URL of the Link header (relative ones resolved against
                          the page's URL); stops when there is none
    CursorPaginator       a cursor / next token (or next URL) at a JSON path; stops when it is
                          empty
    OffsetPaginator       ``offset``/``limit`` parameters; stops on a short page, or, given a
                          total, at the total (or on an empty page)
    PageNumberPaginator   ``page`` (and page size) parameters; stops on a short or empty page
    SinglePage            one request

A next link or cursor that came before would read the same pages again, forever: it raises
:class:`PagingError` instead of stopping (stopping would drop the pages not read yet).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

from protocol._errors import ConfigError, FatalSourceError
from protocol._settings import build_settings, setting
from protocol.http._jsonpath import find_first
from protocol.http._transport import Response

__all__ = [
    "PAGINATION_SCHEMA",
    "CursorPaginator",
    "LinkPaginator",
    "NextPage",
    "OffsetPaginator",
    "PageNumberPaginator",
    "PagingError",
    "Paginator",
    "PaginationSettings",
    "SinglePage",
    "paginator_from_config",
]


class PagingError(FatalSourceError):
    """The listing cannot be paged to its end (a next link or cursor repeats, a page repeats the one
    before it). ``str`` is the detail; :meth:`HttpClient.paginate` adds the endpoint, a tap the stream."""


def url_key(url: str) -> str:
    """``url`` with its query parameters sorted: two spellings of one request compare equal."""
    split = urlsplit(url)
    query = urlencode(sorted(parse_qsl(split.query, keep_blank_values=True)))
    return split._replace(query=query, fragment="").geturl()


@dataclass
class NextPage:
    """The next request: a new URL (with its query) or parameters merged into the first request's."""

    url: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


class Paginator:
    def first_params(self) -> dict[str, Any]:
        return {}

    def next_page(self, response: Response, body: Any, records: list[Any]) -> NextPage | None:
        raise NotImplementedError


class SinglePage(Paginator):
    def next_page(self, response: Response, body: Any, records: list[Any]) -> NextPage | None:
        return None


class LinkPaginator(Paginator):
    def __init__(self, page_size: int | None = None, size_param: str = "per_page") -> None:
        self.page_size, self.size_param = page_size, size_param
        self._seen: set[str] = set()

    def first_params(self) -> dict[str, Any]:
        self._seen.clear()
        return {self.size_param: self.page_size} if self.page_size else {}

    def next_page(self, response: Response, body: Any, records: list[Any]) -> NextPage | None:
        """The next link, resolved against this page's URL; one already read is an error (it would loop)."""
        self._seen.add(url_key(response.url))
        link = response.headers.get("Link")
        if not link:
            return None
        url = response.links.get("next", {}).get("url")
        if not url:
            return None
        url = urljoin(response.url, url)
        key = url_key(url)
        if key in self._seen:
            raise PagingError(f"next link {url} came twice; paging would not end")
        self._seen.add(key)
        return NextPage(url=url)


class CursorPaginator(Paginator):
    """``path`` is a JSONPath into the body; ``param`` carries the cursor on the next request.

    A value that starts with ``http`` is taken as the next page's full URL.
    """

    def __init__(self, path: str, param: str = "cursor", page_size: int | None = None,
                 size_param: str = "limit") -> None:
        self.path, self.param = path, param
        self.page_size, self.size_param = page_size, size_param
        self._seen: set[str] = set()

    def first_params(self) -> dict[str, Any]:
        self._seen.clear()
        return {self.size_param: self.page_size} if self.page_size else {}

    def next_page(self, response: Response, body: Any, records: list[Any]) -> NextPage | None:
        token = find_first(body, self.path)
        if token is None or token == "" or token is False:
            return None
        text = str(token)
        if text in self._seen:
            raise PagingError(f"{self.path} {text!r} came twice; paging would not end")
        self._seen.add(text)
        if text.startswith(("http://", "https://")):
            return NextPage(url=text)
        return NextPage(params={self.param: token})


class OffsetPaginator(Paginator):
    """With ``total_path``, pages until the total is read (a server may send fewer than ``limit``
    records a page, so a short page does not end it; an empty page does); without, until a short page."""

    def __init__(self, limit: int = 100, offset_param: str = "offset", limit_param: str = "limit",
                 total_path: str | None = None) -> None:
        self.limit, self.offset_param, self.limit_param = limit, offset_param, limit_param
        self.total_path = total_path
        self._offset = 0

    def first_params(self) -> dict[str, Any]:
        self._offset = 0
        return {self.offset_param: 0, self.limit_param: self.limit}

    def next_page(self, response: Response, body: Any, records: list[Any]) -> NextPage | None:
        self._offset += len(records)
        total = find_first(body, self.total_path) if self.total_path is not None else None
        if isinstance(total, int) and not isinstance(total, bool):
            if not records or self._offset >= total:
                return None
        elif len(records) < self.limit:
            return None
        return NextPage(params={self.offset_param: self._offset, self.limit_param: self.limit})


class PageNumberPaginator(Paginator):
    def __init__(self, start: int = 1, page_param: str = "page", page_size: int | None = None,
                 size_param: str = "per_page") -> None:
        self.start, self.page_param = start, page_param
        self.page_size, self.size_param = page_size, size_param
        self._page = start

    def first_params(self) -> dict[str, Any]:
        self._page = self.start
        params: dict[str, Any] = {self.page_param: self.start}
        if self.page_size:
            params[self.size_param] = self.page_size
        return params

    def next_page(self, response: Response, body: Any, records: list[Any]) -> NextPage | None:
        if not records or (self.page_size and len(records) < self.page_size):
            return None
        self._page += 1
        params: dict[str, Any] = {self.page_param: self._page}
        if self.page_size:
            params[self.size_param] = self.page_size
        return NextPage(params=params)


#: Per style: the settings it reads, and the defaults of those whose default depends on the style.
STYLES: dict[str, tuple[frozenset[str], dict[str, Any]]] = {
    "none": (frozenset(), {}),
    "link": (frozenset({"page_size", "size_param"}), {"size_param": "per_page"}),
    "cursor": (frozenset({"next_token_path", "param", "page_size", "size_param"}),
               {"param": "cursor", "size_param": "limit"}),
    "offset": (frozenset({"param", "page_size", "size_param", "total_path"}),
               {"param": "offset", "page_size": 100, "size_param": "limit"}),
    "page": (frozenset({"start", "param", "page_size", "size_param"}), {"param": "page", "size_param": "per_page"}),
}

PAGINATION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "style": {"enum": list(STYLES), "default": "none",
                  "description": "How pages follow each other: none, link (Link header), cursor (a token or URL "
                                 "at next_token_path), offset (offset/limit) or page (page number)."},
        "next_token_path": {"type": "string", "default": "$.next",
                            "description": "cursor: JSONPath of the next token or URL."},
        "param": {"type": "string", "description": "cursor, offset, page: query parameter carrying the cursor, "
                                                   "offset or page number (default: cursor, offset, page)."},
        "page_size": {"type": "integer", "minimum": 1,
                      "description": "Records per page, sent in size_param (offset: default 100; others: not sent "
                                     "when unset)."},
        "size_param": {"type": "string", "description": "Query parameter carrying the page size (default: limit "
                                                        "for cursor and offset, per_page for link and page)."},
        "start": {"type": "integer", "default": 1, "description": "page: the first page number."},
        "total_path": {"type": "string", "description": "offset: JSONPath of the total record count."},
    },
    "additionalProperties": False,
}


@dataclass(frozen=True)
class PaginationSettings:
    """A pagination object of a config (see :data:`PAGINATION_SCHEMA`), with the defaults of its
    style applied. A setting its style does not read is a configuration error, never ignored."""

    style: str
    next_token_path: str
    param: str | None
    page_size: int | None
    size_param: str | None
    start: int
    total_path: str | None

    @classmethod
    def from_config(cls, spec: Mapping[str, Any] | None, where: str = "pagination") -> PaginationSettings:
        spec = spec or {}
        style = str(setting(PAGINATION_SCHEMA, spec, "style"))
        if style not in STYLES:
            raise ConfigError(f"setting '{where}.style': unknown pagination style {style!r}")
        reads, defaults = STYLES[style]
        unused = sorted(k for k, v in spec.items() if k != "style" and k not in reads and v is not None)
        if unused:
            raise ConfigError(f"setting '{where}': style '{style}' does not read",
                              [f"'{name}' (it has no effect; remove it or choose a style that uses it)"
                               for name in unused])
        given = {name: value for name, value in defaults.items() if spec.get(name) is None}
        return build_settings(cls, PAGINATION_SCHEMA, spec, **given)

    def paginator(self) -> Paginator:
        """A new paginator (paginators keep the position of one listing)."""
        if self.style == "link":
            return LinkPaginator(self.page_size, str(self.size_param))
        if self.style == "cursor":
            return CursorPaginator(self.next_token_path, str(self.param), self.page_size, str(self.size_param))
        if self.style == "offset":
            return OffsetPaginator(int(self.page_size or 0), str(self.param), str(self.size_param), self.total_path)
        if self.style == "page":
            return PageNumberPaginator(self.start, str(self.param), self.page_size, str(self.size_param))
        return SinglePage()


def paginator_from_config(spec: Mapping[str, Any] | None) -> Paginator:
    """Build a paginator from a config object ``{"style": ..., ...}``; see PAGINATION_SCHEMA."""
    return PaginationSettings.from_config(spec).paginator()
