"""The HTTP kit's GraphQL client against a real GraphQL endpoint on loopback: a query with
variables, relay paging by pageInfo, GraphQL errors (in a 200, a 4xx, a 5xx) mapped into the
error tree, partial answers refused, and an API's own rate-limit headers honoured."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from protocol._errors import FatalSourceError, RetryableSourceError
from protocol.http import (
    ApiKeyAuth,
    GraphQLClient,
    GraphQLFatalError,
    GraphQLRetryableError,
    HttpClient,
    HttpRetryableError,
    HttpSettings,
    RateLimiter,
    RetryPolicy,
)
from protocol.http._errors import reset_wait
from protocol.http._graphql import default_retry_wait
from tests.integration.http.graphql_server import GraphQLServer, gql_error

KEY = "gql-secret-key"
QUERY = "query W($first: Int!, $after: String, $size: Int) { widgets(first: $first, after: $after) " \
        "{ pageInfo { hasNextPage endCursor } nodes { id name size } } }"
EDGES = "query W($first: Int!, $after: String) { widgets(first: $first, after: $after) " \
        "{ pageInfo { hasNextPage endCursor } edges { node { id name } } } }"
RATE = (("X-RateLimit-Requests-Remaining", "X-RateLimit-Requests-Reset"),)


@pytest.fixture
def gql() -> Iterator[GraphQLServer]:
    with GraphQLServer(widgets=120) as server:
        yield server


def client(server: GraphQLServer, **http: Any) -> GraphQLClient:
    settings = HttpSettings(retry=RetryPolicy(max_tries=4, base_wait=0.01, max_wait=0.05), **http)
    session = HttpClient(settings, auth=ApiKeyAuth("Authorization", KEY), rate_limit_headers=RATE)
    return GraphQLClient(session, server.url, stream="widgets")


def ids(pages: Any) -> list[str]:
    return [w["id"] for page in pages for w in page.records]


@pytest.mark.parametrize("query", [QUERY, EDGES], ids=["nodes", "edges"])
def test_relay_pages_by_pageinfo_every_record_once(gql: GraphQLServer, query: str) -> None:
    pages = list(client(gql).paginate(query, {"size": 3}, path="widgets", page_size=50))
    assert ids(pages) == [w["id"] for w in gql.widgets]  # 120 records, in order, once each
    sent = [entry["payload"] for entry in gql.log]
    assert [p["variables"] for p in sent] == [
        {"size": 3, "first": 50, "after": None}, {"size": 3, "first": 50, "after": "50"},
        {"size": 3, "first": 50, "after": "100"}]
    assert all(p["query"] == query for p in sent)
    headers = gql.log[0]["headers"]
    assert headers["Content-Type"] == "application/json" and headers["Authorization"] == KEY


def test_errors_inside_a_200_are_fatal_at_once_naming_the_stream(gql: GraphQLServer) -> None:
    gql.script((200, {"data": None, "errors": [gql_error("Argument Validation Error", "INVALID_INPUT")]}, {}))
    with pytest.raises(GraphQLFatalError) as caught:
        list(client(gql).paginate(QUERY, path="widgets"))
    assert str(caught.value) == "stream 'widgets': /graphql: GraphQL error INVALID_INPUT: Argument Validation Error"
    assert "\n" not in str(caught.value) and isinstance(caught.value, FatalSourceError)
    assert len(gql.log) == 1


def test_a_key_an_error_message_quotes_past_the_cut_is_not_shown_in_part(gql: GraphQLServer) -> None:
    """Messages were cut at 300 characters, then redacted: a key the cut split was shown in part."""
    gql.script((200, {"data": None, "errors": [gql_error("x" * 290 + " key " + KEY, "INVALID_INPUT")]}, {}))
    with pytest.raises(GraphQLFatalError) as caught:
        list(client(gql).paginate(QUERY, path="widgets"))
    assert KEY[:4] not in str(caught.value) and str(caught.value).endswith(" key *****")  # masked, then cut


@pytest.mark.parametrize("status", [200, 400, 401])
def test_authentication_errors_are_fatal_and_say_so(gql: GraphQLServer, status: int) -> None:
    gql.script((status, {"errors": [gql_error("Authentication required, not authenticated",
                                              "AUTHENTICATION_ERROR")]}, {}))
    with pytest.raises(GraphQLFatalError, match=r"^stream 'widgets': .*AUTHENTICATION_ERROR: Authentication "
                                                r"required, not authenticated \(check the credentials\)$") as caught:
        list(client(gql).paginate(QUERY, path="widgets"))
    assert caught.value.status == status and caught.value.codes == ("AUTHENTICATION_ERROR",)
    assert len(gql.log) == 1


@pytest.mark.parametrize("status", [200, 400, 429])
def test_ratelimited_is_retried_and_every_record_comes_once(gql: GraphQLServer, status: int) -> None:
    limited = (status, {"data": None, "errors": [gql_error("Rate limit exceeded", "RATELIMITED")]}, {})
    pages = client(gql).paginate(QUERY, path="widgets", page_size=50)
    first = next(pages)
    gql.script(limited, limited)  # the second page is refused twice, then served
    assert ids([first, *pages]) == [w["id"] for w in gql.widgets]
    assert gql.statuses == [200, status, status, 200, 200]
    assert [e["payload"]["variables"]["after"] for e in gql.log] == [None, "50", "50", "50", "100"]


def test_a_rate_limit_that_persists_gives_up_retryable(gql: GraphQLServer) -> None:
    gql.script(*[(200, {"errors": [gql_error("Rate limit exceeded", "RATELIMITED")]}, {})] * 4)
    with pytest.raises(GraphQLRetryableError, match=r"^stream 'widgets': .*RATELIMITED: Rate limit exceeded; "
                                                    r"gave up after 4 attempts$"):
        list(client(gql).paginate(QUERY, path="widgets"))


def test_partial_data_is_refused_and_nothing_of_it_is_yielded(gql: GraphQLServer) -> None:
    partial = {"data": {"widgets": {"pageInfo": {"hasNextPage": False, "endCursor": "1"},
                                    "nodes": [{"id": "w0000", "name": None, "size": 0}]}},
               "errors": [gql_error("Cannot return null for non-nullable field Widget.name", None,
                                    path=["widgets", "nodes", 0, "name"])]}
    gql.script((200, partial, {}))
    got: list[Any] = []
    with pytest.raises(GraphQLFatalError, match=r"partial answer .* refused"):
        got.extend(client(gql).paginate(QUERY, path="widgets"))
    assert got == [] and len(gql.log) == 1


def test_a_5xx_with_graphql_errors_stays_a_retried_server_failure(gql: GraphQLServer) -> None:
    gql.script((502, {"errors": [gql_error("upstream failed", "INTERNAL_SERVER_ERROR")]}, {}))
    assert len(ids(client(gql).paginate(QUERY, path="widgets", page_size=120))) == 120
    gql.script(*[(503, b"<html>down</html>", {})] * 4)
    with pytest.raises(HttpRetryableError, match="HTTP 503"):
        list(client(gql).paginate(QUERY, path="widgets"))


@pytest.mark.parametrize(("info", "problem"), [
    ({"hasNextPage": True, "endCursor": None}, "endCursor is empty"),
    ({"hasNextPage": True, "endCursor": "same"}, "came twice"),
])
def test_broken_paging_fails_instead_of_looping(gql: GraphQLServer, info: dict[str, Any], problem: str) -> None:
    page = {"data": {"widgets": {"pageInfo": info, "nodes": []}}}
    gql.script((200, page, {}), (200, page, {}))
    with pytest.raises(FatalSourceError, match=f"stream 'widgets': .*{problem}"):
        list(client(gql).paginate(QUERY, path="widgets"))


def test_missing_connection_or_data_is_a_clear_error(gql: GraphQLServer) -> None:
    gql.script((200, {"data": {"other": {}}}, {}))
    with pytest.raises(FatalSourceError, match="no connection object at 'widgets'"):
        list(client(gql).paginate(QUERY, path="widgets"))
    gql.script((200, b"not json", {}))
    with pytest.raises(FatalSourceError, match="not valid JSON"):
        client(gql).execute(QUERY)


def test_the_apis_own_rate_limit_headers_are_honoured() -> None:
    with GraphQLServer(widgets=120, budget=2, window=0.2) as gql:
        c = client(gql)
        assert len(ids(c.paginate(QUERY, path="widgets", page_size=20))) == 120
        # the server refuses any request sent before its reset; the client waited each time instead
        assert gql.statuses == [200] * 6
        assert c.http.limiter.waited > 0


def test_secrets_never_reach_an_error_message(gql: GraphQLServer) -> None:
    gql.script((200, {"errors": [gql_error(f"key {KEY} is revoked", "AUTHENTICATION_ERROR")]}, {}))
    with pytest.raises(GraphQLFatalError) as caught:
        client(gql).execute(QUERY)
    assert KEY not in str(caught.value) and "********" in str(caught.value)


def test_reset_values_in_each_unit() -> None:
    now = 1_700_000_000.0
    assert reset_wait(now * 1000 + 1500, now) == pytest.approx(1.5)  # epoch milliseconds (Linear)
    assert reset_wait(now + 2, now) == pytest.approx(2.0)  # epoch seconds (GitHub)
    assert reset_wait(30, now) == 30  # seconds from now


def test_retry_wait_takes_retry_after_else_the_exhausted_limits_reset() -> None:
    assert default_retry_wait({"Retry-After": "3"}) == 3
    assert default_retry_wait({"X-RateLimit-Requests-Remaining": "0", "X-RateLimit-Requests-Reset": "4",
                               "X-RateLimit-Complexity-Remaining": "900", "X-RateLimit-Complexity-Reset": "60"}) == 4
    assert default_retry_wait({"X-RateLimit-Requests-Remaining": "5", "X-RateLimit-Requests-Reset": "4"}) is None


def test_a_limiter_reads_the_header_pair_it_is_given() -> None:
    slept: list[float] = []
    limiter = RateLimiter(sleep=slept.append, headers=RATE)
    limiter.observe({"X-RateLimit-Requests-Remaining": "0", "X-RateLimit-Requests-Reset": "5"})
    limiter.acquire()
    assert slept and 4 < slept[0] <= 5.1
    plain = RateLimiter(sleep=slept.append)
    plain.observe({"X-RateLimit-Requests-Remaining": "0", "X-RateLimit-Requests-Reset": "5"})
    plain.acquire()
    assert len(slept) == 1  # without the pair, those headers mean nothing
    assert isinstance(GraphQLRetryableError("x", status=200, codes=("RATELIMITED",)), RetryableSourceError)
