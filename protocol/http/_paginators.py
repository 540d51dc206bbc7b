"""Paginators: given one page, the request for the next one, or None to stop.

    LinkPaginator         the ``rel="next"`` URL of the Link header; stops when there is none
    CursorPaginator       a cursor / next token (or next URL) at a JSON path; stops when it is
                          empty, or repeats
    OffsetPaginator       ``offset``/``limit`` parameters; stops on a short page (or at a total)
    PageNumberPaginator   ``page`` (and page size) parameters; stops on a short or empty page
    SinglePage            one request
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from protocol.http._jsonpath import find_first
from protocol.http._transport import Response

__all__ = [
    "CursorPaginator",
    "LinkPaginator",
    "NextPage",
    "OffsetPaginator",
    "PageNumberPaginator",
    "Paginator",
    "SinglePage",
    "paginator_from_config",
]


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

    def first_params(self) -> dict[str, Any]:
        return {self.size_param: self.page_size} if self.page_size else {}

    def next_page(self, response: Response, body: Any, records: list[Any]) -> NextPage | None:
        link = response.headers.get("Link")
        if not link:
            return None
        url = response.links.get("next", {}).get("url")
        return NextPage(url=url) if url else None


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
            return None
        self._seen.add(text)
        if text.startswith(("http://", "https://")):
            return NextPage(url=text)
        return NextPage(params={self.param: token})


class OffsetPaginator(Paginator):
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
        if len(records) < self.limit:
            return None
        if self.total_path is not None:
            total = find_first(body, self.total_path)
            if isinstance(total, int) and self._offset >= total:
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


def paginator_from_config(spec: dict[str, Any] | None) -> Paginator:
    """Build a paginator from a config object ``{"style": ..., ...}``; see PAGINATION_SCHEMA."""
    spec = dict(spec or {})
    style = spec.pop("style", "none")
    size = spec.get("page_size")
    if style == "none":
        return SinglePage()
    if style == "link":
        return LinkPaginator(size, spec.get("size_param", "per_page"))
    if style == "cursor":
        return CursorPaginator(spec.get("next_token_path", "$.next"), spec.get("param", "cursor"), size,
                               spec.get("size_param", "limit"))
    if style == "offset":
        return OffsetPaginator(size or 100, spec.get("param", "offset"), spec.get("size_param", "limit"),
                               spec.get("total_path"))
    if style == "page":
        return PageNumberPaginator(spec.get("start", 1), spec.get("param", "page"), size,
                                   spec.get("size_param", "per_page"))
    raise ValueError(f"unknown pagination style {style!r}")


PAGINATION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "style": {"enum": ["none", "link", "cursor", "offset", "page"],
                  "description": "How pages follow each other: none, link (Link header), cursor (a token or URL "
                                 "at next_token_path), offset (offset/limit) or page (page number)."},
        "next_token_path": {"type": "string", "description": "cursor: JSONPath of the next token or URL."},
        "param": {"type": "string", "description": "Query parameter carrying the cursor, offset or page number."},
        "page_size": {"type": "integer", "minimum": 1, "description": "Records per page (sent in size_param)."},
        "size_param": {"type": "string", "description": "Query parameter carrying the page size."},
        "start": {"type": "integer", "description": "page: the first page number (default 1)."},
        "total_path": {"type": "string", "description": "offset: JSONPath of the total record count."},
    },
    "additionalProperties": False,
}
