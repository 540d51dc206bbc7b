"""tap-rest against APIs that page badly: each must end in one clear error or every record, never a
silent exit 0 with pages missing, nor a loop writing the same records forever."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.integration.http.tapio import Result, tap

ITEMS = [{"id": i, "v": f"x{i}"} for i in range(1, 251)]
SCHEMA = {"type": "object", "properties": {"id": {"type": "integer"}, "v": {"type": "string"}}}
#: a server stuck in a loop answers this many times, then an empty page: without the fix, the tap
#: ends (exit 0, records repeated) instead of running into the test's timeout
LOOP_LIMIT = 30

Reply = tuple[int, dict[str, str], Any]
Handler = Callable[["Api", dict[str, str]], Reply]


class Api:
    """A loopback server answering GET /items with ``handler(api, query)``; counts the requests and
    keeps the headers of each."""

    def __init__(self, handler: Handler) -> None:
        self.handler, self.count = handler, 0
        self.state: dict[str, Any] = {}
        self.headers: list[dict[str, str]] = []
        api = self

        class Serve(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                api.count += 1
                api.headers.append({name.lower(): value for name, value in self.headers.items()})
                query = dict(parse_qsl(urlsplit(self.path).query))
                looping = api.count > LOOP_LIMIT
                status, headers, body = (200, {}, {"data": []}) if looping else api.handler(api, query)
                raw = body if isinstance(body, bytes) else json.dumps(body).encode()
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
def serve() -> Iterator[Callable[[Handler], Api]]:
    started: list[Api] = []

    def start(handler: Handler) -> Api:
        started.append(Api(handler))
        return started[-1]

    yield start
    for api in started:
        api.close()


def rest(tmp_path: Path, api: Api, pagination: dict[str, Any], records_path: str = "$.data[*]", *,
         settings: dict[str, Any] | None = None, **stream: Any) -> Result:
    spec = {"name": "items", "path": "/items", "records_path": records_path, "primary_keys": ["id"],
            "pagination": pagination, "schema": SCHEMA, **stream}
    spec = {name: value for name, value in spec.items() if value is not None}
    cfg = {"api_url": api.url, "streams": [spec], "max_retries": 1, "backoff_base": 0.01, "backoff_max": 0.02,
           **(settings or {})}
    return tap("tap-rest", tmp_path, cfg, ok=False)


def failed(result: Result, *texts: str) -> None:
    """Exit non-zero, one error line holding every text, and no record written twice."""
    assert result.code != 0, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.errors) == 1, result.stderr
    for text in texts:
        assert text in result.errors[0], result.errors[0]
    ids = [r["id"] for r in result.records("items")]
    assert len(ids) == len(set(ids))


def page(query: dict[str, str], size: int = 50) -> list[dict[str, Any]]:
    n = int(query.get("page", 1))
    return ITEMS[(n - 1) * size:n * size]


def test_a_link_back_to_a_page_already_read_is_an_error(tmp_path: Path, serve: Any) -> None:
    def handler(api: Api, query: dict[str, str]) -> Reply:
        n = int(query.get("page", 1))  # page 3 says its next page is page 3
        return 200, {"Link": f'<{api.url}/items?page={min(n + 1, 3)}>; rel="next"'}, page(query)

    api = serve(handler)
    failed(rest(tmp_path, api, {"style": "link"}, "$[*]"),
           "stream 'items': /items: next link", "/items?page=3 came twice; paging would not end")
    assert api.count == 3


def test_a_relative_link_is_resolved_against_the_page_url(tmp_path: Path, serve: Any) -> None:
    def handler(api: Api, query: dict[str, str]) -> Reply:
        n = int(query.get("page", 1))
        return 200, ({"Link": f'</items?page={n + 1}>; rel="next"'} if n < 5 else {}), page(query)

    result = rest(tmp_path, serve(handler), {"style": "link"}, "$[*]")
    assert result.code == 0, result.stderr
    assert [r["id"] for r in result.records("items")] == list(range(1, 251))


def test_a_link_relation_is_matched_without_case(tmp_path: Path, serve: Any) -> None:
    """RFC 8288: relation types compare without case. ``rel="Next"`` ended paging after page 1
    (exit 0, four pages of records silently missing)."""
    def handler(api: Api, query: dict[str, str]) -> Reply:
        n = int(query.get("page", 1))
        return 200, ({"Link": f'<{api.url}/items?page={n + 1}>; rel="Next"'} if n < 5 else {}), page(query)

    result = rest(tmp_path, serve(handler), {"style": "link"}, "$[*]")
    assert result.code == 0, result.stderr
    assert [r["id"] for r in result.records("items")] == list(range(1, 251))


@pytest.mark.parametrize(("pagination", "param"), [
    ({"style": "page", "page_size": 100}, "'page'"),
    ({"style": "offset", "page_size": 100}, "'offset'"),
])
def test_a_server_ignoring_the_paging_parameter_is_an_error(tmp_path: Path, serve: Any,
                                                            pagination: dict[str, Any], param: str) -> None:
    api = serve(lambda api, query: (200, {}, {"data": ITEMS[:100]}))
    failed(rest(tmp_path, api, pagination),
           "stream 'items': /items: this page repeats the one before it: the server ignored the paging "
           f"parameter {param} (check its name)")
    assert api.count == 2


def test_a_repeated_cursor_is_an_error(tmp_path: Path, serve: Any) -> None:
    def handler(api: Api, query: dict[str, str]) -> Reply:
        n = int(query.get("cursor", 0))
        nxt = "1" if n == 1 and not api.state.get("again") else (str(n + 1) if n < 4 else None)
        api.state["again"] = api.state.get("again") or n == 1
        return 200, {}, {"data": ITEMS[n * 50:(n + 1) * 50], "next": nxt}

    failed(rest(tmp_path, serve(handler), {"style": "cursor", "next_token_path": "$.next"}),
           "stream 'items': /items: $.next '1' came twice; paging would not end")


@pytest.mark.parametrize(("second", "says"), [
    ({"error": "temporarily unavailable"}, "no records at records_path '$.data[*]'"),
    ({"data": None}, "no records at records_path '$.data[*]'"),
    (b"", "the response is empty"),
])
def test_a_page_without_its_records_is_an_error(tmp_path: Path, serve: Any, second: Any, says: str) -> None:
    def handler(api: Api, query: dict[str, str]) -> Reply:
        return 200, {}, second if query.get("page") == "2" else {"data": page(query)}

    failed(rest(tmp_path, serve(handler), {"style": "page", "page_size": 50}), "stream 'items': /items: ", says)


def test_an_empty_list_is_an_empty_page(tmp_path: Path, serve: Any) -> None:
    result = rest(tmp_path, serve(lambda api, query: (200, {}, {"data": page(query)})), {"style": "page"})
    assert result.code == 0, result.stderr
    assert [r["id"] for r in result.records("items")] == list(range(1, 251))


def test_offset_with_a_total_pages_past_a_server_capped_page_size(tmp_path: Path, serve: Any) -> None:
    def handler(api: Api, query: dict[str, str]) -> Reply:
        at, size = int(query["offset"]), min(int(query["limit"]), 50)  # asked 100, sends 50
        return 200, {}, {"data": ITEMS[at:at + size], "total": len(ITEMS)}

    api = serve(handler)
    result = rest(tmp_path, api, {"style": "offset", "page_size": 100, "total_path": "$.total"})
    assert result.code == 0, result.stderr
    assert [r["id"] for r in result.records("items")] == list(range(1, 251))
    assert api.count == 5


def test_fields_outside_the_inferred_schema_are_dropped_with_a_warning(tmp_path: Path, serve: Any) -> None:
    rows = [{"id": 1}, {"id": 2}, {"id": 3, "late": "x"}, {"id": 4, "late": "y"}]
    api = serve(lambda api, query: (200, {}, {"data": rows}))
    result = rest(tmp_path, api, {"style": "none"}, schema=None, num_inference_records=2)
    assert result.code == 0, result.stderr
    assert result.records("items")[2] == {"id": 3}
    warnings = [line for line in result.stderr.splitlines() if "field 'late'" in line]
    assert len(warnings) == 1, result.stderr
    assert "stream 'items'" in warnings[0] and "num_inference_records" in warnings[0]


def test_pages_that_go_round_under_a_changing_body_are_an_error(tmp_path: Path, serve: Any) -> None:
    """Pages A, B, A, B... each with a new request id: the old check hashed the whole body and
    compared it with the page before only; the tap paged forever, writing A and B again and again."""
    def handler(api: Api, query: dict[str, str]) -> Reply:
        n = int(query.get("page", 1))
        return 200, {}, {"data": page({"page": str(2 - n % 2)}), "request_id": api.count}

    api = serve(handler)
    failed(rest(tmp_path, api, {"style": "page", "page_size": 50}),
           "stream 'items': /items: this page (page 3) repeats page 1: the server ignored the paging parameter "
           "'page' (check its name); paging would not end (request: GET /items?page=3&per_page=50)")
    assert api.count == 3


def test_the_same_records_under_a_changing_timestamp_are_a_repeat(tmp_path: Path, serve: Any) -> None:
    api = serve(lambda api, query: (200, {}, {"data": ITEMS[:100], "ts": 1_700_000_000.5 + api.count}))
    failed(rest(tmp_path, api, {"style": "offset", "page_size": 100}),
           "stream 'items': /items: this page repeats the one before it", "'offset'",
           "(request: GET /items?offset=100&limit=100)")
    assert api.count == 2


@pytest.mark.parametrize("answer", [
    {"errors": [{"code": "RATE_LIMITED", "message": "try later"}]},
    {"error": {"code": 500, "message": "internal"}},
])
def test_an_error_object_answered_with_200_is_no_records(tmp_path: Path, serve: Any, answer: Any) -> None:
    """``$[*]`` walked the object's values: the error became records (``{}`` under the schema), exit 0."""
    api = serve(lambda api, query: (200, {}, answer))
    result = rest(tmp_path, api, {"style": "none"}, "$[*]")
    failed(result, "stream 'items': /items: records_path '$[*]' expects a list of records, the response has an "
           f"object there (an error answer? if the object is the one record, set records_path '$'): "
           f"{json.dumps(answer, separators=(',', ':'))[:40]}")
    assert result.records("items") == []


def test_an_error_body_is_shown_redacted(tmp_path: Path, serve: Any) -> None:
    api = serve(lambda api, query: (200, {}, {"error": "key s3cr3t-KEY-value is over quota", "pad": "x" * 500}))
    cfg = {"auth_method": "api_key", "api_keys": {"X-API-Key": "s3cr3t-KEY-value"}}
    result = rest(tmp_path, api, {"style": "none"}, "$[*]", settings=cfg)
    failed(result, '{"error":"key ******** is over quota","pad":"xxx', 'xxx...')
    assert "s3cr3t" not in result.stderr


def test_a_record_without_its_primary_key_is_an_error(tmp_path: Path, serve: Any) -> None:
    def handler(api: Api, query: dict[str, str]) -> Reply:
        rows = page(query)
        return 200, {}, {"data": [rows[0], {"v": "no id"}, *rows[1:]] if query.get("page") == "2" else rows}

    result = rest(tmp_path, serve(handler), {"style": "page", "page_size": 50})
    failed(result, "stream 'items': record 2 of page 2 of /items has no primary key 'id' (its fields: v)")
    assert all("id" in r for r in result.records("items"))
