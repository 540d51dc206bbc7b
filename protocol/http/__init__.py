"""The HTTP kit for API taps: one pooled transport (urllib3), auth, pagination, rate limits, retries, breakers.

    # SETTINGS: the tap's settings schema, holding HTTP_SETTINGS (or http_settings("my-agent"))
    client = HttpClient(HttpSettings.from_config(config, SETTINGS), auth=BearerTokenAuth(token))
    for page in client.paginate(url, LinkPaginator(100), extract=lambda body: body):
        ...

Every failure arrives as a :mod:`protocol.errors` SourceError: retryable (timeouts, resets,
5xx, 429) after the retries are spent, fatal (401, 403, other 4xx) at once.
"""

from protocol.http.auth import (
    ApiKeyAuth,
    Auth,
    BasicAuth,
    BearerTokenAuth,
    OAuth2Base,
    OAuth2ClientCredentials,
    OAuth2RefreshToken,
)
from protocol.http.breaker import CLOSED, HALF_OPEN, OPEN, Breakers, CircuitBreaker
from protocol.http.errors import (
    CircuitOpenError,
    HttpFatalError,
    HttpRetryableError,
    WaitTooLong,
    map_transport_exception,
    parse_retry_after,
    redact,
    status_error,
)
from protocol.http.jsonpath import find, find_first
from protocol.http.paginators import (
    PAGINATION_SCHEMA,
    CursorPaginator,
    LinkPaginator,
    NextPage,
    OffsetPaginator,
    PageNumberPaginator,
    PaginationSettings,
    Paginator,
    SinglePage,
    paginator_from_config,
)
from protocol.http.ratelimit import RateLimiter
from protocol.http.retry import RetryPolicy
from protocol.http.session import HttpClient, Page, redact_headers
from protocol.http.settings import HTTP_SETTINGS, HttpSettings, http_settings
from protocol.http.transport import Response, Transport, Urllib3Transport

__all__ = [
    "CLOSED",
    "HALF_OPEN",
    "HTTP_SETTINGS",
    "OPEN",
    "PAGINATION_SCHEMA",
    "ApiKeyAuth",
    "Auth",
    "BasicAuth",
    "BearerTokenAuth",
    "Breakers",
    "CircuitBreaker",
    "CircuitOpenError",
    "CursorPaginator",
    "HttpClient",
    "HttpFatalError",
    "HttpRetryableError",
    "HttpSettings",
    "LinkPaginator",
    "NextPage",
    "OAuth2Base",
    "OAuth2ClientCredentials",
    "OAuth2RefreshToken",
    "OffsetPaginator",
    "Page",
    "PageNumberPaginator",
    "PaginationSettings",
    "Paginator",
    "RateLimiter",
    "Response",
    "RetryPolicy",
    "SinglePage",
    "Transport",
    "Urllib3Transport",
    "WaitTooLong",
    "find",
    "find_first",
    "http_settings",
    "map_transport_exception",
    "paginator_from_config",
    "parse_retry_after",
    "redact",
    "redact_headers",
    "status_error",
]
