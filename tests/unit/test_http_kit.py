"""The HTTP kit against a real HTTP server on loopback: pagination, retries, auth, breaker, limits."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from urllib3 import HTTPHeaderDict
from urllib3 import exceptions as u3

from protocol._errors import FatalSourceError, RetryableSourceError, SourceError
from protocol.http import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    ApiKeyAuth,
    BasicAuth,
    BearerTokenAuth,
    CircuitBreaker,
    CircuitOpenError,
    CursorPaginator,
    HttpClient,
    HttpFatalError,
    HttpRetryableError,
    HttpSettings,
    LinkPaginator,
    OAuth2ClientCredentials,
    OAuth2RefreshToken,
    OffsetPaginator,
    PageNumberPaginator,
    PagingError,
    RateLimiter,
    Response,
    RetryPolicy,
    Urllib3Transport,
    WaitTooLong,
    find,
    map_transport_exception,
    parse_retry_after,
    redact_headers,
    status_error,
)
from tests.integration.http.servers import TOKEN, FakeApi

FAST = RetryPolicy(max_tries=4, base_wait=0.01, max_wait=0.05)
KEY = ApiKeyAuth("X-API-Key", "k-123")


@pytest.fixture
def api() -> Any:
    with FakeApi() as server:
        server.add_repo("octo/hello", issues=250)
        yield server


def client(auth: Any = KEY, **settings: Any) -> HttpClient:
    settings.setdefault("retry", FAST)
    return HttpClient(HttpSettings(**settings), auth=auth)


def ids(c: HttpClient, url: str, paginator: Any, extract: Any) -> list[int]:
    return [r["id"] for page in c.paginate(url, paginator, extract) for r in page.records]


# -- pagination: every record exactly once, and the stop condition holds -----------------------


@pytest.mark.parametrize(("path", "paginator", "extract", "requests_made"), [
    ("/api/link", LinkPaginator(30), lambda b: b, 9),
    ("/api/offset", OffsetPaginator(40), lambda b: b["data"], 7),
    ("/api/offset", OffsetPaginator(50, total_path="$.total"), lambda b: b["data"], 5),
    ("/api/cursor", CursorPaginator("$.meta.next_cursor", page_size=25), lambda b: b["results"], 10),
    ("/api/pages", PageNumberPaginator(page_size=20), lambda b: b, 13),
    ("/api/pages", PageNumberPaginator(page_size=50), lambda b: b, 6),
])
def test_paginators_fetch_every_record_once(api: FakeApi, path: str, paginator: Any, extract: Any,
                                            requests_made: int) -> None:
    with client() as c:
        assert ids(c, api.url + path, paginator, extract) == list(range(1, 251))
    assert len(api.requests(path)) == requests_made


def test_cursor_paginator_raises_on_a_repeated_cursor() -> None:
    """A cursor that came before would read the same pages again: an error, not a silent stop."""
    resp = _response(b"{}")
    p = CursorPaginator("$.next")
    p.first_params()
    assert p.next_page(resp, {"next": "abc"}, [1]) is not None
    with pytest.raises(PagingError, match=r"\$\.next 'abc' came twice; paging would not end"):
        p.next_page(resp, {"next": "abc"}, [1])
    assert p.next_page(resp, {"next": None}, [1]) is None


def test_jsonpath_subset() -> None:
    body = {"data": {"items": [{"id": 1}, {"id": 2}]}, "next": "x", "list": [[1], [2]]}
    assert find(body, "$.data.items[*].id") == [1, 2]
    assert find(body, "$.data.items[-1]") == [{"id": 2}]
    assert find(body, "$['next']") == ["x"]
    assert find(body, "next") == ["x"]
    assert find(body, "$.missing[*]") == []
    with pytest.raises(ValueError, match="unsupported JSONPath"):
        find(body, "$..deep")


# -- retries: only transient failures, counted server-side -----------------------------------


def test_5xx_bursts_are_retried_until_they_pass(api: FakeApi) -> None:
    api.fail("/api/offset", 502, 502, 503)
    with client() as c:
        assert ids(c, api.url + "/api/offset", OffsetPaginator(100), lambda b: b["data"]) == list(range(1, 251))
    assert [r.status for r in api.requests("/api/offset")] == [502, 502, 503, 200, 200, 200]


@pytest.mark.parametrize(("status", "headers"), [
    (500, None), (502, None), (503, None), (504, None), (429, {"Retry-After": "0"}),
])
def test_each_transient_status_is_retried_once_then_succeeds(api: FakeApi, status: int,
                                                             headers: dict[str, str] | None) -> None:
    api.fail("/api/offset", status, headers=headers)
    with client() as c:
        _, body = c.get_json(api.url + "/api/offset")
    assert len(body["data"]) == 10
    assert [r.status for r in api.requests("/api/offset")] == [status, 200]


def test_http_500_that_persists_gives_up_as_retryable_not_fatal(api: FakeApi) -> None:
    api.fail("/api/offset", *[500] * 10)
    with client() as c, pytest.raises(RetryableSourceError, match=r"HTTP 500 scripted failure 500") as info:
        c.get_json(api.url + "/api/offset")
    assert not isinstance(info.value, FatalSourceError)
    assert len(api.requests("/api/offset")) == FAST.max_tries


def test_retries_give_up_with_a_retryable_error(api: FakeApi) -> None:
    api.fail("/api/offset", *[502] * 10)
    with client() as c, pytest.raises(RetryableSourceError, match=r"/api/offset: HTTP 502 scripted failure 502"):
        c.get_json(api.url + "/api/offset")
    assert len(api.requests("/api/offset")) == FAST.max_tries


def test_429_waits_for_retry_after(api: FakeApi) -> None:
    api.fail("/api/offset", 429, headers={"Retry-After": "1"})
    with client() as c:
        _, body = c.get_json(api.url + "/api/offset")
        assert c.limiter.waited >= 0.9  # the limiter held the retry back, as the server asked
    assert len(body["data"]) == 10
    first, second = api.requests("/api/offset")
    assert first.status == 429 and second.status == 200
    assert second.at - first.at >= 0.9


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_4xx_fail_at_once_with_the_servers_message(api: FakeApi, status: int) -> None:
    api.fail("/api/offset", status)
    with client() as c, pytest.raises(HttpFatalError, match=f"HTTP {status} scripted failure {status}") as info:
        c.get_json(api.url + "/api/offset")
    assert info.value.status == status
    assert len(api.requests("/api/offset")) == 1


def test_bad_credentials_are_fatal_and_not_retried(api: FakeApi) -> None:
    with client(auth=BearerTokenAuth("wrong", "token")) as c, pytest.raises(FatalSourceError, match="Bad credentials"):
        c.get_json(api.url + "/repos/octo/hello")
    assert len(api.requests("/repos/octo/hello")) == 1


def test_a_slow_endpoint_trips_the_timeout_and_is_retried(api: FakeApi) -> None:
    api.slow_seconds = 1.0
    with client(timeout=0.1, retry=RetryPolicy(3, 0.01, 0.02)) as c, \
            pytest.raises(RetryableSourceError, match="/slow: timed out") as info:
        c.get_json(api.url + "/slow")
    assert isinstance(info.value.__cause__, u3.ReadTimeoutError)
    assert len(api.requests("/slow")) == 3


# -- no transport (urllib3) exception slips through ------------------------------------------------------


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(("url", "kind"), [
    (f"http://127.0.0.1:{_closed_port()}/x", RetryableSourceError),  # connection refused
    ("http://", FatalSourceError),                                    # invalid URL
    ("ftp://127.0.0.1/x", FatalSourceError),                          # unknown scheme
    ("http://127.0.0.1:99999/x", FatalSourceError),                   # invalid port
])
def test_transport_exceptions_are_mapped(url: str, kind: type[SourceError]) -> None:
    with client(retry=RetryPolicy(2, 0.0, 0.0)) as c, pytest.raises(SourceError) as info:
        c.get_json(url)
    assert type(info.value).__module__.startswith("protocol.")
    assert isinstance(info.value, kind)
    assert isinstance(info.value.__cause__, u3.HTTPError)


def _subclasses(cls: type) -> list[type]:
    return [cls, *(sub for direct in cls.__subclasses__() for sub in _subclasses(direct))]


def _urllib3_exception_classes() -> list[type[Exception]]:
    found = {c for c in vars(u3).values()
             if isinstance(c, type) and issubclass(c, Exception) and not issubclass(c, Warning)
             and c.__module__.startswith("urllib3")}
    for root in list(found):
        found.update(c for c in _subclasses(root) if c.__module__.startswith("urllib3"))
    return sorted(found, key=lambda c: c.__name__)


def _instance(cls: type[Exception]) -> Exception:
    if issubclass(cls, u3.MaxRetryError):
        return cls(None, "/x", u3.ResponseError("too many redirects"))
    if issubclass(cls, (u3.ReadTimeoutError, u3.HostChangedError)):
        return cls(None, "/x", "boom")
    if issubclass(cls, u3.RequestError):
        return cls(None, "/x", "boom")
    if issubclass(cls, u3.PoolError):
        return cls(None, "boom")
    if issubclass(cls, u3.NameResolutionError):
        return cls("h", None, OSError("boom"))
    if issubclass(cls, u3.NewConnectionError):
        return cls(None, "boom")
    if issubclass(cls, u3.InvalidChunkLength):
        from types import SimpleNamespace

        return cls(SimpleNamespace(tell=lambda: 0, length_remaining=5), b"zz")  # type: ignore[arg-type]
    if issubclass(cls, u3.IncompleteRead):
        return cls(0, 10)
    if issubclass(cls, (u3.ProxyError, u3.ProxySchemeUnknown)):
        return cls("boom", OSError("boom")) if issubclass(cls, u3.ProxyError) else cls("gopher")
    if issubclass(cls, u3.LocationParseError):
        return cls("boom")
    if issubclass(cls, u3.HeaderParsingError):
        return cls([], b"")
    if issubclass(cls, u3.UnrewindableBodyError):
        return cls("boom")
    return cls("boom")


_TRANSIENT = (u3.TimeoutError, u3.ProtocolError, u3.SSLError, u3.ProxyError, u3.ClosedPoolError, u3.IncompleteRead,
              u3.InvalidChunkLength)


def test_every_urllib3_exception_class_maps_to_a_source_error() -> None:
    classes = _urllib3_exception_classes()
    assert len(classes) > 30
    for cls in classes:
        mapped = map_transport_exception(_instance(cls), "/x")
        assert isinstance(mapped, SourceError), cls
        assert type(mapped).__module__.startswith("protocol."), cls
        transient = issubclass(cls, _TRANSIENT) and not issubclass(cls, u3.MaxRetryError)
        assert isinstance(mapped, RetryableSourceError) == transient, cls
    # a MaxRetryError is judged by its reason: a redirect loop is fatal, a refused connection is not
    refused = u3.MaxRetryError(None, "/x", u3.NewConnectionError(None, "refused"))
    assert isinstance(map_transport_exception(refused, "/x"), RetryableSourceError)
    timeout = map_transport_exception(u3.MaxRetryError(None, "/x", u3.ConnectTimeoutError("slow")), "/x")
    assert isinstance(timeout, RetryableSourceError) and "timed out" in str(timeout)


def test_a_redirect_loop_is_fatal_and_a_redirect_is_followed(api: FakeApi) -> None:
    with client(retry=RetryPolicy(2, 0.0, 0.0)) as c:
        response, body = c.get_json(api.url + "/redirect?to=/api/offset")
        assert body["total"] == 250 and response.url == api.url + "/api/offset"
        with pytest.raises(FatalSourceError, match="ResponseError"):
            c.get_json(api.url + "/redirect?to=/redirect")
    assert len(api.requests("/api/offset")) == 1


@pytest.mark.parametrize("path", ["/drop", "/truncated"])
def test_connection_broken_mid_request_is_retryable(api: FakeApi, path: str) -> None:
    with client(retry=RetryPolicy(2, 0.0, 0.0)) as c, pytest.raises(RetryableSourceError, match="connection failed"):
        c.get_json(api.url + path)
    assert len(api.requests(path)) == 2


def test_github_rate_limit_403_is_retried_after_the_reset(api: FakeApi) -> None:
    import time

    reset = str(int(time.time()) + 1)
    api.fail("/api/offset", 403, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset})
    with client() as c:
        _, body = c.get_json(api.url + "/api/offset")
    assert body["total"] == 250
    first, second = api.requests("/api/offset")
    assert (first.status, second.status) == (403, 200)
    assert second.at >= int(reset)


def test_a_403_that_says_when_to_come_back_is_retried_then(api: FakeApi) -> None:
    """GitHub's secondary rate limit: 403 with Retry-After while the quota is not spent. It stopped
    the run (only a spent quota made a 403 retryable); GitHub's docs say to wait Retry-After seconds."""
    api.fail("/api/offset", 403, headers={"Retry-After": "1", "X-RateLimit-Remaining": "4990"})
    with client() as c:
        _, body = c.get_json(api.url + "/api/offset")
    assert body["total"] == 250
    first, second = api.requests("/api/offset")
    assert (first.status, second.status) == (403, 200)
    assert second.at - first.at >= 0.9
    api.fail("/api/offset", 403, headers={"X-RateLimit-Remaining": "4990"})  # a plain 403: refused, once
    with client() as c, pytest.raises(FatalSourceError, match="HTTP 403"):
        c.get_json(api.url + "/api/offset")


def test_invalid_json_is_a_source_error() -> None:
    with pytest.raises(FatalSourceError, match="/x: the response is not valid JSON"):
        HttpClient.decode(_response(b"{oops"), "/x")


def _response(content: bytes) -> Response:
    return Response(200, {}, content, "http://x/")


# -- the circuit breaker -------------------------------------------------------------------------


def test_breaker_opens_after_n_failures_then_half_opens_and_closes(api: FakeApi) -> None:
    api.fail("/api/offset", 502, 502, 502)
    with client(retry=RetryPolicy(1), breaker_failures=3, breaker_cool_down=0.5) as c:
        for _ in range(3):
            with pytest.raises(RetryableSourceError, match="HTTP 502"):
                c.get_json(api.url + "/api/offset")
        breaker = c.breakers.for_host(f"127.0.0.1:{api.server.server_address[1]}")
        assert breaker.state == OPEN
        with pytest.raises(CircuitOpenError, match=r"circuit open for 127\.0\.0\.1"):
            c.get_json(api.url + "/api/offset")
        assert len(api.requests("/api/offset")) == 3  # open: nothing sent
        import time

        time.sleep(0.55)
        c.get_json(api.url + "/api/offset")  # half-open trial succeeds
        assert breaker.state == CLOSED
    assert len(api.requests("/api/offset")) == 4


def test_a_failed_half_open_trial_opens_the_breaker_again(api: FakeApi) -> None:
    api.fail("/api/offset", 502, 502, 502)
    with client(retry=RetryPolicy(1), breaker_failures=2, breaker_cool_down=0.5) as c:
        for _ in range(2):
            with pytest.raises(RetryableSourceError):
                c.get_json(api.url + "/api/offset")
        import time

        time.sleep(0.55)
        with pytest.raises(RetryableSourceError, match="HTTP 502"):
            c.get_json(api.url + "/api/offset")  # the one trial
        with pytest.raises(CircuitOpenError):
            c.get_json(api.url + "/api/offset")
    assert len(api.requests("/api/offset")) == 3


def test_breaker_states_on_a_clock() -> None:
    now = [0.0]
    breaker = CircuitBreaker("h", failures=2, cool_down=10, clock=lambda: now[0])
    breaker.failure()
    breaker.success()  # a success resets the count
    breaker.failure()
    assert breaker.state == CLOSED
    breaker.failure()
    assert breaker.state == OPEN
    now[0] = 9.9
    with pytest.raises(CircuitOpenError) as info:
        breaker.before()
    assert info.value.retry_after == pytest.approx(0.1)
    now[0] = 10.0
    breaker.before()
    assert breaker.state == HALF_OPEN
    breaker.failure()  # the trial failed: open again, for a new cool-down
    assert breaker.state == OPEN
    now[0] = 20.0
    breaker.before()
    breaker.success()
    assert breaker.state == CLOSED and breaker.failures == 0


def test_retries_wait_out_an_open_breaker(api: FakeApi) -> None:
    api.fail("/api/offset", 502, 502)
    with client(retry=RetryPolicy(5, 0.01, 0.02), breaker_failures=2, breaker_cool_down=0.1) as c:
        _, body = c.get_json(api.url + "/api/offset")
    assert body["total"] == 250
    assert [r.status for r in api.requests("/api/offset")] == [502, 502, 200]


# -- auth ----------------------------------------------------------------------------------------


def test_api_key_in_the_query_and_basic_auth(api: FakeApi) -> None:
    with client(auth=ApiKeyAuth("api_key", "k-123", "query")) as c:
        c.get_json(api.url + "/api/offset")
    assert api.requests("/api/offset")[-1].query["api_key"] == "k-123"
    with client(auth=BasicAuth("u", "p")) as c:
        c.get_json(api.url + "/api/offset")
    assert api.requests("/api/offset")[-1].auth == "Basic dTpw"


def test_oauth2_client_credentials_token_is_reused_then_refreshed_after_expiry(api: FakeApi) -> None:
    auth = OAuth2ClientCredentials(api.url + "/oauth/token", "client-1", "secret-1")
    with client(auth=auth) as c:
        for _ in range(3):
            c.get_json(api.url + "/repos/octo/hello")
        assert len(api.requests("/oauth/token", "POST")) == 1
        api.expire_tokens()
        _, repo = c.get_json(api.url + "/repos/octo/hello")
    assert repo["full_name"] == "octo/hello"
    assert len(api.requests("/oauth/token", "POST")) == 2
    assert [r.status for r in api.requests("/repos/octo/hello")] == [200, 200, 200, 401, 200]
    assert [r.auth for r in api.requests("/repos/octo/hello")][-2:] == ["Bearer access-1", "Bearer access-2"]


def test_oauth2_token_is_refreshed_before_it_expires(api: FakeApi) -> None:
    api.token_lifetime = 30  # under the 60 s leeway: every request needs a fresh token
    auth = OAuth2RefreshToken(api.url + "/oauth/token", "client-1", "secret-1", "refresh-1")
    with client(auth=auth) as c:
        for _ in range(3):
            c.get_json(api.url + "/repos/octo/hello")
    assert len(api.requests("/oauth/token", "POST")) == 3
    assert all(r.status == 200 for r in api.requests("/repos/octo/hello"))


def test_oauth2_bad_refresh_token_fails_once_and_says_why(api: FakeApi) -> None:
    auth = OAuth2RefreshToken(api.url + "/oauth/token", "client-1", "secret-1", "stale-refresh")
    with client(auth=auth) as c, pytest.raises(FatalSourceError, match="refresh token is invalid") as info:
        c.get_json(api.url + "/repos/octo/hello")
    assert "stale-refresh" not in str(info.value) and "secret-1" not in str(info.value)
    assert len(api.requests("/oauth/token", "POST")) == 1
    assert api.requests("/repos/octo/hello") == []


# -- rate limiting -------------------------------------------------------------------------------


def test_token_bucket_allows_a_burst_then_paces() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    limiter = RateLimiter(60, burst=3, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        limiter.acquire()
    assert slept == pytest.approx([1.0, 1.0])


def test_rate_limit_headers_are_honoured() -> None:
    with FakeApi(rate_limit=3) as api:
        api.add_repo("octo/hello", issues=250)
        with client(auth=BearerTokenAuth(TOKEN, "token")) as c:
            pages = list(c.paginate(api.url + "/repos/octo/hello/issues", LinkPaginator(30), lambda b: b))
            assert c.limiter.waited > 0
        assert sum(len(p.records) for p in pages) == 250
        # the server refuses (403) any request made before its reset; the client never made one
        assert [r.status for r in api.requests()] == [200] * 9


def test_a_wait_longer_than_max_wait_fails_without_retrying(api: FakeApi) -> None:
    api.fail("/api/offset", 429, headers={"Retry-After": "7200"})
    with client(max_wait=60) as c, pytest.raises(WaitTooLong, match="more than max_wait"):
        c.get_json(api.url + "/api/offset")
    assert len(api.requests("/api/offset")) == 1


def test_parse_retry_after() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("0") == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0  # already past
    assert 0.0 < parse_retry_after("Fri, 01 Jan 2100 00:00:00 GMT") < 3e9  # against the clock
    assert parse_retry_after("soon") is None


def _answer(status: int, **headers: str) -> Response:
    return Response(status=status, headers=HTTPHeaderDict(headers), content=b'{"message": "no"}', url="http://h/y")


@pytest.mark.parametrize("status", [429, 500, 502, 503, 599])
def test_429_and_every_5xx_are_retryable(status: int) -> None:
    err = status_error(_answer(status), "/y")
    assert isinstance(err, HttpRetryableError) and err.status == status and err.retry_after is None
    assert str(err) == f"/y: HTTP {status} no"


@pytest.mark.parametrize("status", [400, 403, 499])
def test_4xx_without_an_exhausted_rate_limit_are_fatal(status: int) -> None:
    err = status_error(_answer(status, **{"X-RateLimit-Remaining": "1", "X-RateLimit-Reset": "5"}), "/y")
    assert isinstance(err, HttpFatalError) and err.status == status


def test_exhausted_rate_limit_waits_for_its_reset_in_either_spelling_and_retry_after_wins() -> None:
    import time

    later = str(time.time() + 30)  # an epoch time: the wait is counted from now
    for prefix in ("X-", ""):
        headers = {f"{prefix}RateLimit-Remaining": "0", f"{prefix}RateLimit-Reset": later}
        err = status_error(_answer(403, **headers), "/y")
        assert isinstance(err, HttpRetryableError) and err.status == 403
        assert err.retry_after is not None and 20 < err.retry_after <= 30
    delta = status_error(_answer(403, **{"RateLimit-Remaining": "0", "RateLimit-Reset": "12"}), "/y")
    assert delta.retry_after == 12.0  # a small number is a delay in seconds
    asked = status_error(_answer(429, **{"Retry-After": "3", "X-RateLimit-Remaining": "0",
                                         "X-RateLimit-Reset": later}), "/y")
    assert asked.retry_after == 3.0
    plain = status_error(_answer(503, **{"X-RateLimit-Reset": later}), "/y")  # requests left: the reset is moot
    assert plain.retry_after is None


# -- metrics and secrets -------------------------------------------------------------------------


def test_metric_lines_and_no_secrets_in_logs(api: FakeApi, caplog: pytest.LogCaptureFixture) -> None:
    api.fail("/api/offset", 502)
    caplog.set_level(logging.DEBUG)
    with client(auth=ApiKeyAuth("api_key", "k-123", "query")) as c:
        c.get_json(api.url + "/api/offset", endpoint="/offset")
    metrics = [r.getMessage() for r in caplog.records if r.name == "sluice.metrics"]
    assert len(metrics) == 2
    assert '"metric":"http_request_duration"' in metrics[0]
    assert '"endpoint":"/offset","http_status_code":502,"status":"failed"' in metrics[0]
    assert '"http_status_code":200,"status":"succeeded"' in metrics[1]
    assert "k-123" not in caplog.text
    caplog.clear()
    with client(auth=BearerTokenAuth("tok-secret-1")) as c:
        c.get_json(api.url + "/api/offset")
    assert "'Authorization': '********'" in caplog.text
    assert "tok-secret-1" not in caplog.text


def test_redact_headers() -> None:
    safe = redact_headers({"Authorization": "token abc", "X-API-Key": "k", "Accept": "json"})
    assert safe == {"Authorization": "********", "X-API-Key": "********", "Accept": "json"}


def test_environment_is_read_once_unless_proxies_are_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/custom.pem")
    with HttpClient() as c:
        assert isinstance(c.transport, Urllib3Transport)
        assert c.transport.ca_certs == "/etc/ssl/custom.pem"
        assert c.transport.proxy_for("https://api.example/x") is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    with HttpClient() as c:  # proxies and no_proxy applied per URL
        assert isinstance(c.transport, Urllib3Transport)
        assert c.transport.proxy_for("https://api.example/x") == "http://proxy.example:3128"
        assert c.transport.proxy_for("https://internal.example/x") is None
        assert c.transport.proxy_for("http://api.example/x") is None


def test_transport_helpers_keep_what_requests_did() -> None:
    from protocol.http._session import merge_headers
    from protocol.http._transport import parse_links, with_params

    assert merge_headers({"User-Agent": "a", "Accept": "*/*"}, {"accept": "application/json"}) == {
        "User-Agent": "a", "accept": "application/json"}
    assert with_params("http://h/x?a=1", {"b": 2, "c": None, "d": [3, 4]}) == "http://h/x?a=1&b=2&d=3&d=4"
    assert with_params("http://h/x", {"q": "a b&c"}) == "http://h/x?q=a+b%26c"
    links = parse_links('<http://h/x?page=2>; rel="next", <http://h/x?page=9>; rel="last"')
    assert links["next"]["url"] == "http://h/x?page=2" and links["last"]["url"] == "http://h/x?page=9"
    # a quoted parameter may hold "," and ";" (RFC 8288): the rel after it was lost, and paging ended
    quoted = parse_links('<http://h/x?page=2>; title="a, b; c"; rel="next", <http://h/x?page=9>; rel=last')
    assert quoted["next"]["url"] == "http://h/x?page=2" and quoted["last"]["url"] == "http://h/x?page=9"
    assert parse_links('<http://h/2>; title="say \\"hi\\", <x>"; rel="next prev"').keys() == {"next", "prev"}
    assert _response(b"").links == {}


def test_an_error_body_is_redacted_before_it_is_cut() -> None:
    """The body was cut at 300 characters, then redacted: a token the cut split was no longer
    found, and its first 33 characters were shown."""
    token = "tok_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    body = ("x" * 267 + " token " + token).encode()
    err = status_error(Response(status=401, headers=HTTPHeaderDict(), content=body, url="http://h/y"), "/y",
                       [token])
    assert "tok_" not in str(err) and str(err).endswith(" token ********")


def test_redact_replaces_the_longest_secret_first() -> None:
    from protocol.http import redact

    assert redact("rt cs_4242.RT-9f8e7d6c5b4a, cs cs_4242", ["cs_4242", "cs_4242.RT-9f8e7d6c5b4a"]) == (
        "rt ********, cs ********")
