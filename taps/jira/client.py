"""The Jira Cloud REST client: the kit's HttpClient with Jira's auth, paging and error bodies.

    startAt / maxResults       most listings: ``{"startAt", "maxResults", "total", "isLast", "values"}``
                               (or ``"comments"``, ``"issues"``), or a bare array (users); the next
                               page starts after the records received, until isLast, the total, or an
                               empty page
    nextPageToken              the issue search ``/rest/api/3/search/jql``, until isLast or no token

Jira's error bodies (``{"errorMessages": [...], "errors": {"field": "..."}}``) are turned into one
line before the kit maps the status into the error tree; 429 and its Retry-After are the kit's.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Mapping
from typing import Any, TypeVar

import orjson

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

__all__ = ["JiraClient", "jira_message", "prefetched"]

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


class TokenPaginator(Paginator):
    """``nextPageToken``: until ``isLast`` or no token (a repeated token stops too)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._seen: set[str] = set()

    def first_params(self) -> dict[str, Any]:
        self._seen.clear()
        return {"maxResults": self.size}

    def next_page(self, response: Response, body: Any, records: list[Any]) -> NextPage | None:
        token = body.get("nextPageToken") if isinstance(body, dict) else None
        if not token or body.get("isLast") is True or token in self._seen:
            return None
        self._seen.add(token)
        return NextPage(params={"nextPageToken": token})


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

    def search(self, jql: str, fields: str) -> Iterator[list[dict[str, Any]]]:
        """The issues matching ``jql``, page by page (token paging, or startAt with ``search_api`` legacy)."""
        size = self.settings.page_sizes["issues"]
        params = {"jql": jql, "fields": fields}
        if self.settings.search_api == "legacy":
            yield from self.pages(f"{self.api}/search", f"{API}/search", "issues", size, params)
            return
        paginator = TokenPaginator(size)
        for page in self.http.paginate(f"{self.api}/search/jql", paginator, lambda body: (body or {}).get("issues"),
                                       params=params, endpoint=f"{API}/search/jql"):
            yield page.records

    def search_ahead(self, jql: str, fields: str) -> Iterator[list[dict[str, Any]]]:
        """:meth:`search`, the next page requested while this one is read (only for a caller that sends
        no other request meanwhile: the client is used by one thread at a time)."""
        return prefetched(self.search(jql, fields))
