"""The HTTP kit's credentials stay with the API's origin, and a listing whose pages come round again
ends in one error: two real servers on loopback (two ports: two origins), one the API, one elsewhere."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from protocol.http import (
    ApiKeyAuth,
    BearerTokenAuth,
    CursorPaginator,
    HttpClient,
    HttpSettings,
    LinkPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    PagingError,
    RetryPolicy,
)

FAST = RetryPolicy(max_tries=2, base_wait=0.01, max_wait=0.02)
Reply = tuple[int, dict[str, str], Any]


class Host:
    """A loopback server answering every GET with ``reply(path, query)``; keeps each request's headers."""

    def __init__(self) -> None:
        self.reply: Callable[[str, dict[str, str]], Reply] = lambda path, query: (200, {}, [])
        self.seen: list[tuple[str, dict[str, str]]] = []
        host = self

        class Serve(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                split = urlsplit(self.path)
                host.seen.append((split.path, dict(self.headers.items())))
                status, headers, body = host.reply(split.path, dict(parse_qsl(split.query)))
                raw = json.dumps(body).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Serve)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hosts() -> Iterator[tuple[Host, Host]]:
    api, other = Host(), Host()
    yield api, other
    api.close()
    other.close()


def client(auth: Any, headers: dict[str, str] | None = None) -> HttpClient:
    return HttpClient(HttpSettings(retry=FAST), auth=auth, headers=headers)


PRIVATE = ("x-api-key", "authorization", "x-auth-token", "x-tenant")


def private(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() in PRIVATE}


@pytest.mark.parametrize("auth", [ApiKeyAuth("X-API-Key", "key-SECRET-1"), BearerTokenAuth("tok-SECRET-2")])
def test_a_redirect_to_another_origin_carries_no_credentials_nor_api_headers(hosts: tuple[Host, Host],
                                                                             auth: Any) -> None:
    """urllib3 strips only Authorization and Cookie on a redirect to another host: X-API-Key and the
    headers a config adds went to it."""
    api, other = hosts
    api.reply = lambda path, query: ((302, {"Location": f"{other.url}/landing"}, {}) if path == "/away"
                                     else (302, {"Location": "/landing"}, {}) if path == "/near"
                                     else (200, {}, [{"id": 1}]))
    other.reply = lambda path, query: (200, {}, [{"id": 2}])
    with client(auth, {"X-Tenant": "acme"}) as c:
        assert c.get_json(api.url + "/away", headers={"X-Auth-Token": "hdr-SECRET-3"})[1] == [{"id": 2}]
        assert c.get_json(api.url + "/near", headers={"X-Auth-Token": "hdr-SECRET-3"})[1] == [{"id": 1}]
    (landing, sent), = other.seen
    assert landing == "/landing" and private(sent) == {}
    assert "User-Agent" in sent and sent["Accept"] == "*/*"
    # a redirect within the API's origin keeps them all
    assert [path for path, _ in api.seen] == ["/away", "/near", "/landing"]
    kept = private(api.seen[-1][1])
    assert kept["X-Tenant"] == "acme" and kept["X-Auth-Token"] == "hdr-SECRET-3"
    assert "key-SECRET-1" in kept.values() or kept["Authorization"] == "Bearer tok-SECRET-2"


@pytest.mark.parametrize("paginator", ["link", "cursor"])
def test_a_next_page_on_another_origin_is_refused_before_anything_is_sent(hosts: tuple[Host, Host],
                                                                          paginator: str) -> None:
    api, other = hosts
    nxt = f"{other.url}/page2"
    if paginator == "link":
        api.reply = lambda path, query: (200, {"Link": f'<{nxt}>; rel="next"'}, [{"id": 1}])
        pages: Any = LinkPaginator()
    else:
        api.reply = lambda path, query: (200, {}, {"data": [{"id": 1}], "next": nxt})
        pages = CursorPaginator("$.next")
    with client(BearerTokenAuth("tok-SECRET-2")) as c:
        read = c.paginate(api.url + "/items", pages, lambda b: b if isinstance(b, list) else b["data"])
        assert next(read).records == [{"id": 1}]
        with pytest.raises(PagingError, match="is on another origin than the API's") as caught:
            next(read)
    assert other.seen == []
    assert nxt in str(caught.value) and api.url in str(caught.value)


def test_a_next_link_on_the_same_origin_is_followed_with_its_credentials(hosts: tuple[Host, Host]) -> None:
    api, _ = hosts
    api.reply = lambda path, query: ((200, {"Link": f'<{api.url.upper()}/items?page=2>; rel="next"'}, [{"id": 1}])
                                     if query.get("page") != "2" else (200, {}, [{"id": 2}]))
    with client(ApiKeyAuth("X-API-Key", "key-SECRET-1")) as c:
        assert [r for p in c.paginate(api.url + "/items", LinkPaginator(), lambda b: b) for r in p.records] == [
            {"id": 1}, {"id": 2}]
    assert [private(sent)["X-API-Key"] for _, sent in api.seen] == ["key-SECRET-1"] * 2


@pytest.mark.parametrize(("pages", "says", "requests"), [
    # the same records under a body that changes (a request id): the old whole-body hash missed it
    (lambda n: {"data": [{"id": 1}, {"id": 2}], "request_id": n}, "this page repeats the one before it", 2),
    # pages that go round: A, B, A, ...
    (lambda n: {"data": [{"id": 1 + n % 2}, {"id": 3}], "request_id": n}, "this page (page 3) repeats page 1", 3),
])
def test_a_page_whose_records_came_before_is_an_error_naming_the_request(hosts: tuple[Host, Host], pages: Any,
                                                                         says: str, requests: int) -> None:
    api, _ = hosts
    api.reply = lambda path, query: (200, {}, pages(int(query.get("page", 1))))
    with client(ApiKeyAuth("key", "key-SECRET-1", "query")) as c, pytest.raises(PagingError) as caught:
        for _ in c.paginate(api.url + "/items", PageNumberPaginator(page_size=2), lambda b: b["data"]):
            assert len(api.seen) <= requests
    assert str(caught.value) == (f"/items: {says}: the server ignored the paging parameter 'page' (check its "
                                 f"name); paging would not end (request: GET /items?page={requests}&per_page=2)")
    assert len(api.seen) == requests


def test_pages_that_differ_and_empty_pages_are_no_repeat(hosts: tuple[Host, Host]) -> None:
    api, _ = hosts
    rows = [{"id": i % 4} for i in range(9)]  # the same values on different pages, never the same page
    api.reply = lambda path, query: (200, {}, {"data": rows[int(query["offset"]):int(query["offset"]) + 3]})
    with client(ApiKeyAuth("X-API-Key", "k")) as c:
        got = [r for p in c.paginate(api.url + "/items", OffsetPaginator(3), lambda b: b["data"]) for r in p.records]
    assert got == rows
