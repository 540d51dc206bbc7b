"""The Jira Cloud REST client: the kit's HttpClient with Jira's auth, paging and error bodies.

    startAt / maxResults       most listings: ``{"startAt", "maxResults", "total", "isLast", "values"}``
                               (or ``"comments"``, ``"issues"``), or a bare array (users); the next
                               page starts after the records received, until isLast, the total, or an
                               empty page
    nextPageToken              the issue search ``/rest/api/3/search/jql``, until isLast or no token; the
                               issue search (either API) is read one page at a time, :meth:`JiraClient.search_page`,
                               by :mod:`taps.jira.search`, which decides whether to follow a page's cursor

Jira's error bodies (``{"errorMessages": [...], "errors": {"field": "..."}}``) are turned into one
line before the kit maps the status into the error tree; 429 and its Retry-After are the kit's.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson

from protocol import FatalSourceError
from protocol.http import (
    Auth,
    BasicAuth,
    BearerTokenAuth,
    HttpClient,
    NextPage,
    Paginator,
    Response,
    Transport,
    Urllib3Transport,
)
from taps.jira.settings import JiraSettings

__all__ = ["JiraClient", "SearchPage", "jira_message", "prefetched"]

T = TypeVar("T")
_DONE = object()

API = "/rest/api/3"
ACCEPT = {"Accept": "application/json"}


def jira_message(content: bytes) -> str | None:
    """The one line of a Jira error body, or None when the body is not one."""
    try:
        body = orjson.loads(content) if content else None
    except orjson.JSONDecodeError:
        return None
    if not isinstance(body, dict) or not ({"errorMessages", "errors"} & body.keys()):
        return None
    parts = [str(m) for m in body.get("errorMessages") or [] if m]
    errors = body.get("errors")
    if isinstance(errors, dict):
        parts += [f"{field}: {text}" for field, text in errors.items()]
    return "; ".join(parts) or None


class JiraErrorTransport:
    """A transport whose error answers carry Jira's messages as ``{"message": ...}``, the kit's form."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner

    def send(self, method: str, url: str, headers: Mapping[str, str], params: Mapping[str, Any] | None = None,
             body: bytes | None = None, timeout: tuple[float, float] | None = None) -> Response:
        response = self.inner.send(method, url, headers, params, body, timeout)
        if response.status >= 400:
            message = jira_message(response.content)
            if message is not None:
                response.content = orjson.dumps({"message": message})
        return response

    def close(self) -> None:
        self.inner.close()


class StartAtPaginator(Paginator):
    """``startAt``/``maxResults``; the next page starts after the records received (Jira may send fewer
    than asked); stops at ``isLast``, at ``total``, or on an empty page."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._at = 0

    def first_params(self) -> dict[str, Any]:
        self._at = 0
        return {"startAt": 0, "maxResults": self.size}

    def next_page(self, response: Response, body: Any, records: list[Any]) -> NextPage | None:
        self._at += len(records)
        if not records:
            return None
        if isinstance(body, dict):
            if body.get("isLast") is True:
                return None
            total = body.get("total")
            if isinstance(total, int) and self._at >= total:
                return None
        return NextPage(params={"startAt": self._at, "maxResults": self.size})


@dataclass(frozen=True)
class SearchPage:
    """One page of an issue search, and the cursor of the same search's next page (None: the last page):
    ``startAt`` (legacy search) or ``nextPageToken``."""

    issues: list[dict[str, Any]]
    next: int | str | None


def _issues(body: Any, endpoint: str) -> list[dict[str, Any]]:
    issues = body.get("issues") if isinstance(body, dict) else None
    if not isinstance(issues, list):
        raise FatalSourceError(f"{endpoint}: expected a list of issues, got {type(issues).__name__}")
    return issues


def _next_start(body: dict[str, Any], at: int, issues: list[dict[str, Any]]) -> int | None:
    """The legacy search's next ``startAt``: after the issues received, until isLast, the total or an empty page."""
    total = body.get("total")
    if not issues or body.get("isLast") is True or (isinstance(total, int) and at + len(issues) >= total):
        return None
    return at + len(issues)


def prefetched(pages: Iterator[T], depth: int = 2) -> Iterator[T]:
    """``pages`` read ahead by a thread (at most ``depth`` waiting), so that the next request is on the
    wire while this one's records are written; its errors are raised here, in order, after the pages
    before them. Closing the iterator early stops the thread after its current request."""
    ahead: queue.Queue[Any] = queue.Queue(depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                ahead.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for page in pages:
                if not put(page):
                    return
        except Exception as exc:  # noqa: BLE001 - handed to the reader, which raises it
            put(exc)
            return
        put(_DONE)

    worker = threading.Thread(target=read, name="jira-prefetch", daemon=True)
    worker.start()
    try:
        while (item := ahead.get()) is not _DONE:
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)  # a request under way ends on its own (daemon thread; its result is dropped)


def _auth(settings: JiraSettings) -> Auth:
    if settings.access_token:
        return BearerTokenAuth(settings.access_token)
    return BasicAuth(settings.username or "", settings.password or "")


class JiraClient:
    def __init__(self, settings: JiraSettings) -> None:
        self.settings = settings
        self.api = settings.base_url + API
        transport = JiraErrorTransport(Urllib3Transport(10, (settings.http.connect_timeout, settings.http.timeout)))
        self.http = HttpClient(settings.http, auth=_auth(settings), headers=ACCEPT, transport=transport)
        self._myself: dict[str, Any] | None = None

    def close(self) -> None:
        self.http.close()

    def myself(self) -> dict[str, Any]:
        """``GET /rest/api/3/myself`` (once per run): the account, and its time zone."""
        if self._myself is None:
            _, self._myself = self.http.get_json(f"{self.api}/myself", endpoint=f"{API}/myself")
        return self._myself or {}

    def pages(self, url: str, endpoint: str, key: str | None, size: int,
              params: Mapping[str, Any] | None = None) -> Iterator[list[dict[str, Any]]]:
        """Every page of a startAt listing; ``key`` names the records' list (None: the body is the list)."""
        def extract(body: Any) -> Any:
            return body if key is None else (body or {}).get(key)
        for page in self.http.paginate(url, StartAtPaginator(size), extract, params=params, endpoint=endpoint):
            yield page.records

    @property
    def search_endpoint(self) -> str:
        return f"{API}/search" if self.settings.search_api == "legacy" else f"{API}/search/jql"

    def search_page(self, jql: str, fields: str, cursor: int | str | None) -> SearchPage:
        """One page of the issues matching ``jql`` (``cursor`` None: the first): startAt paging with
        ``search_api`` legacy, else nextPageToken paging (no token when isLast)."""
        params: dict[str, Any] = {"jql": jql, "fields": fields, "maxResults": self.settings.page_sizes["issues"]}
        endpoint = self.search_endpoint
        if self.settings.search_api == "legacy":
            at = cursor if isinstance(cursor, int) else 0
            _, body = self.http.get_json(self.settings.base_url + endpoint, params={"startAt": at, **params},
                                         endpoint=endpoint)
            issues = _issues(body, endpoint)
            return SearchPage(issues, _next_start(body, at, issues))
        if isinstance(cursor, str):
            params["nextPageToken"] = cursor
        _, body = self.http.get_json(self.settings.base_url + endpoint, params=params, endpoint=endpoint)
        issues = _issues(body, endpoint)
        token = body.get("nextPageToken")
        more = isinstance(token, str) and token != "" and body.get("isLast") is not True
        return SearchPage(issues, token if more else None)
