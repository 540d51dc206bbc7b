"""HttpClient: one pooled transport (urllib3) per tap, with every policy of the kit applied.

A request goes: breaker check -> rate limiter -> auth -> send (errors mapped) -> METRIC line
-> rate-limit headers read -> status checked; retried by the :class:`RetryPolicy` only when
transient. Logs name the endpoint (the URL path), never the query, headers or secrets.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import orjson

from protocol._errors import FatalSourceError, RetryableSourceError, SourceError
from protocol._jsoncodec import JSONDecodeError, dumps, loads
from protocol._metrics import emit_metric
from protocol.http._auth import Auth, BasicAuth, OAuth2Base
from protocol.http._breaker import Breakers
from protocol.http._errors import TRANSPORT_ERRORS, HttpFatalError, map_transport_exception, redact, status_error
from protocol.http._paginators import Paginator, PagingError
from protocol.http._ratelimit import RateLimiter
from protocol.http._settings import HttpSettings
from protocol.http._transport import DEFAULT_HEADERS, Response, Transport, Urllib3Transport, with_params

__all__ = ["Check", "HttpClient", "Page", "redact_headers", "url_origin"]

#: looks at one response before its status is judged: the error it stands for, or None
Check = Callable[[Response], SourceError | None]

log = logging.getLogger("sluice.http")

#: connections kept per host
POOL_SIZE = 10

_SENSITIVE = ("authorization", "cookie", "set-cookie", "proxy-authorization", "x-api-key", "api-key", "token")


class _SecretsFilter(logging.Filter):
    """Scrubs the secrets of every live client from urllib3's own (debug) log lines, which show query strings."""

    def __init__(self) -> None:
        super().__init__()
        self.auths: list[Auth] = []

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = [s for auth in self.auths for s in auth.secrets()]
        if secrets:
            record.msg = redact(record.getMessage(), secrets)
            record.args = None
        return True


_URLLIB3_FILTER = _SecretsFilter()
for _name in ("urllib3.connectionpool", "urllib3.connection", "urllib3.poolmanager", "urllib3.util.retry"):
    logging.getLogger(_name).addFilter(_URLLIB3_FILTER)


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A copy safe to log: credentials replaced by asterisks."""
    return {k: ("********" if any(s in k.lower() for s in _SENSITIVE) else v) for k, v in headers.items()}


def merge_headers(base: Mapping[str, str], extra: Mapping[str, str] | None) -> dict[str, str]:
    """``base`` overridden by ``extra``, header names compared case-insensitively."""
    if not extra:
        return dict(base)
    override = {k.lower() for k in extra}
    merged = {k: v for k, v in base.items() if k.lower() not in override}
    merged.update(extra)
    return merged


def encode_body(data: Mapping[str, Any] | str | bytes | None, json: Any) -> tuple[bytes | None, str | None]:
    """A request body and its Content-Type: ``data`` form-encoded (or sent as is), or ``json``."""
    if data is not None:
        if isinstance(data, Mapping):
            return urlencode(data, doseq=True).encode(), "application/x-www-form-urlencoded"
        return (data.encode() if isinstance(data, str) else data), None
    if json is not None:
        return orjson.dumps(json), "application/json"
    return None, None


@dataclass
class Page:
    response: Response
    body: Any
    records: list[Any]


class HttpClient:
    """The one pooled transport of a tap. Close it (or use ``with``) to release its connections."""

    def __init__(self, settings: HttpSettings | None = None, auth: Auth | None = None,
                 headers: Mapping[str, str] | None = None, transport: Transport | None = None,
                 rate_limit_headers: Sequence[tuple[str, str]] = ()) -> None:
        self.settings = settings or HttpSettings()
        self.auth = auth or Auth()
        self._auths: list[Auth] = []
        self.timeout = (self.settings.connect_timeout, self.settings.timeout)
        self.transport: Transport = transport or Urllib3Transport(POOL_SIZE, self.timeout)
        self.headers = merge_headers({"User-Agent": self.settings.user_agent, **DEFAULT_HEADERS}, headers)
        self.limiter = RateLimiter(self.settings.requests_per_minute, self.settings.burst,
                                   buffer=self.settings.rate_limit_buffer, max_wait=self.settings.max_wait,
                                   headers=rate_limit_headers)
        self.breakers = Breakers(self.settings.breaker_failures, self.settings.breaker_cool_down)
        self.attach(self.auth)

    def attach(self, auth: Auth) -> Auth:
        """Make ``auth`` usable with this client (OAuth2 token requests go through it; its secrets are scrubbed)."""
        if isinstance(auth, OAuth2Base):
            auth.post = self._post_token
        if auth not in self._auths:
            self._auths.append(auth)
            _URLLIB3_FILTER.auths.append(auth)
        return auth

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.transport.close()
        for auth in self._auths:
            if auth in _URLLIB3_FILTER.auths:
                _URLLIB3_FILTER.auths.remove(auth)
        self._auths.clear()

    # -- requests -----------------------------------------------------------------------

    def request(self, method: str, url: str, *, params: Mapping[str, Any] | None = None,
                headers: Mapping[str, str] | None = None, endpoint: str | None = None,
                use_auth: bool = True, strategy: Auth | None = None,
                data: Mapping[str, Any] | str | bytes | None = None, json: Any = None,
                auth: tuple[str, str] | None = None, check: Check | None = None) -> Response:
        """Send with retries; return a 2xx (or 3xx) response or raise a SourceError.

        ``strategy`` replaces the client's auth for this request (:meth:`attach` it first);
        ``data`` is a form (or a raw body), ``json`` a JSON body, ``auth`` a (user, password)
        pair sent as Basic credentials. ``check(response)`` sees every answer before its status
        is judged and may return the error it stands for (an API's errors inside a 200, say):
        raised as any other, so a retryable one is retried.
        """
        endpoint = endpoint or urlsplit(url).path or "/"
        body, content_type = encode_body(data, json)
        extra: dict[str, str] = {}
        if content_type:
            extra["Content-Type"] = content_type
        if auth is not None:
            extra["Authorization"] = BasicAuth(*auth).header()
        if extra:
            headers = {**extra, **(headers or {})}
        if not use_auth:
            strategy = Auth()
        elif strategy is None:
            strategy = self.auth

        def on_retry(exc: RetryableSourceError) -> None:
            if exc.retry_after:
                self.limiter.block_for(exc.retry_after, f"{endpoint}: server asked to wait")

        reauthorized = False

        def attempt() -> Response:
            nonlocal reauthorized
            try:
                return self._send(method, url, params, headers, endpoint, strategy, body, check)
            except HttpFatalError as exc:
                if exc.status == 401 and not reauthorized:
                    reauthorized = True
                    if strategy.refresh_after_401():
                        log.info("%s: HTTP 401, credentials refreshed; trying once more", endpoint)
                        return self._send(method, url, params, headers, endpoint, strategy, body, check)
                raise

        return self.settings.retry.call(attempt, on_retry)

    def _send(self, method: str, url: str, params: Mapping[str, Any] | None, headers: Mapping[str, str] | None,
              endpoint: str, auth: Auth, body: bytes | None, check: Check | None = None) -> Response:
        host = urlsplit(url).netloc.rpartition("@")[2]
        breaker = self.breakers.for_host(host)
        self.limiter.acquire()
        breaker.before()
        req_headers: dict[str, str] = dict(headers or {})
        req_params: dict[str, Any] = dict(params or {})
        auth.apply(req_headers, req_params)
        sent = merge_headers(self.headers, req_headers)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s headers=%s", method, endpoint, redact_headers(sent))
        started = time.perf_counter()
        try:
            response = self.transport.send(method, url, sent, req_params or None, body)
        except TRANSPORT_ERRORS as exc:
            mapped = map_transport_exception(exc, endpoint, auth.secrets(), host)
            breaker.failure(str(mapped))
            self._metric(started, endpoint, None)
            raise mapped from exc
        status = response.status
        self._metric(started, endpoint, status)
        self.limiter.observe(response.headers)
        checked = check(response) if check is not None else None
        if checked is not None:
            if status >= 500:
                breaker.failure(str(checked))
            else:
                breaker.success()  # the host answered
            raise checked
        if status < 400:
            breaker.success()
            return response
        error = status_error(response, endpoint, auth.secrets())
        if status >= 500:
            breaker.failure(str(error))
        else:
            breaker.success()  # the host answered; a 4xx is not the host failing
        raise error

    def _metric(self, started: float, endpoint: str, status: int | None) -> None:
        ok = status is not None and status < 400
        emit_metric("timer", "http_request_duration", round(time.perf_counter() - started, 6),
                    {"endpoint": endpoint, "http_status_code": status, "status": "succeeded" if ok else "failed"})

    def _post_token(self, url: str, form: dict[str, str], basic: tuple[str, str] | None) -> Response:
        return self.request("POST", url, data=form, auth=basic, use_auth=False, endpoint=urlsplit(url).path or "/")

    def get_json(self, url: str, *, params: Mapping[str, Any] | None = None, endpoint: str | None = None,
                 headers: Mapping[str, str] | None = None,
                 strategy: Auth | None = None) -> tuple[Response, Any]:
        response = self.request("GET", url, params=params, endpoint=endpoint, headers=headers, strategy=strategy)
        return response, self.decode(response, endpoint or urlsplit(url).path)

    @staticmethod
    def decode(response: Response, endpoint: str) -> Any:
        try:
            return loads(response.content) if response.content else None
        except JSONDecodeError as exc:
            raise FatalSourceError(f"{endpoint}: the response is not valid JSON ({exc})") from exc

    def paginate(self, url: str, paginator: Paginator, extract: Any, *, params: Mapping[str, Any] | None = None,
                 endpoint: str | None = None, headers: Mapping[str, str] | None = None,
                 strategy: Auth | None = None) -> Iterator[Page]:
        """Every page of a listing; ``extract(body)`` returns a page's records.

        A page whose records are those of any page before it in this listing means the server
        ignored the paging parameter (or its pages go round): a :class:`PagingError` naming the
        request, before its records go out again. A next URL (a Link, a URL in the body) on another
        origin than ``url``'s is a :class:`PagingError` too: the credentials go only to the origin the
        tap was configured with, and a page read without them could be another listing (public data).
        """
        where = endpoint or urlsplit(url).path
        base = {**(params or {}), **paginator.first_params()}
        next_url, next_params = url, base
        seen = _SeenPages()
        origin = url_origin(url)
        moved_by = ""
        while True:
            response, body = self.get_json(next_url, params=next_params, endpoint=endpoint, headers=headers,
                                           strategy=strategy)
            records = extract(body)
            if not isinstance(records, list):
                raise FatalSourceError(f"{where}: expected a list of records, got {type(records).__name__}")
            repeated = seen.repeats(records)
            if repeated:
                request = self.safe(with_params(urlsplit(next_url)._replace(scheme="", netloc="").geturl(),
                                                next_params))
                raise PagingError(f"{where}: {repeated}: the server ignored the paging parameter {moved_by} "
                                  f"(check its name); paging would not end (request: GET {request})")
            yield Page(response, body, records)
            try:
                nxt = paginator.next_page(response, body, records)
            except PagingError as exc:
                raise PagingError(self.safe(f"{where}: {exc}")) from None
            if nxt is None:
                return
            if nxt.url is not None:
                if url_origin(urljoin(response.url, nxt.url)) != origin:
                    raise PagingError(self.safe(
                        f"{where}: the next page {nxt.url} is on another origin than the API's ({origin}); "
                        "credentials go only to the API's origin, so it is not followed (set the API URL to "
                        "the origin the API's links use)"))
                next_url, next_params = nxt.url, nxt.params
                moved_by = "(the next link or URL)"
            else:
                moved = [name for name, value in nxt.params.items() if next_params.get(name) != value]
                moved_by = ", ".join(repr(name) for name in moved or nxt.params)
                next_params = {**base, **nxt.params}

    def secrets(self) -> list[str]:
        return [s for auth in self._auths for s in auth.secrets()]

    def safe(self, text: str) -> str:
        return redact(text, self.secrets())


def url_origin(url: str) -> str:
    """``scheme://host:port`` of ``url`` (the port given even when it is the scheme's default)."""
    split = urlsplit(url)
    scheme = split.scheme.lower()
    try:
        port = split.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:
        port = None
    return f"{scheme}://{(split.hostname or '').lower()}:{port}"


class _SeenPages:
    """The digests of every page of records one listing returned (16 bytes a page), in order."""

    def __init__(self) -> None:
        self.pages: dict[bytes, int] = {}
        self.count = 0

    def repeats(self, records: list[Any]) -> str | None:
        """What this page repeats, in words; None when its records are new (an empty page always is)."""
        self.count += 1
        if not records:
            return None
        digest = hashlib.blake2b(dumps(records), digest_size=16).digest()
        number = self.count
        first = self.pages.setdefault(digest, number)
        if first == number:
            return None
        if first == number - 1:
            return "this page repeats the one before it"
        return f"this page (page {number}) repeats page {first}"
