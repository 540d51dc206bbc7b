"""The HTTP kit for API taps: one pooled transport (urllib3), auth, pagination, rate limits, retries, breakers.

    # SETTINGS: the tap's settings schema, holding HTTP_SETTINGS (or http_settings("my-agent"))
    client = HttpClient(HttpSettings.from_config(config, SETTINGS), auth=BearerTokenAuth(token))
    for page in client.paginate(url, LinkPaginator(100), extract=lambda body: body):
        ...

Every failure arrives as a ``protocol`` SourceError: retryable (timeouts, resets,
5xx, 429) after the retries are spent, fatal (401, 403, other 4xx) at once.

Everything not listed in ``__all__`` is private (modules ``protocol.http._x``); names are
imported on first use (PEP 562).
"""

from typing import TYPE_CHECKING

from protocol._face import lazy_attributes

if TYPE_CHECKING:
    from protocol.http._auth import (
        ApiKeyAuth,
        Auth,
        BasicAuth,
        BearerTokenAuth,
        OAuth2Base,
        OAuth2ClientCredentials,
        OAuth2RefreshToken,
    )
    from protocol.http._breaker import CLOSED, HALF_OPEN, OPEN, Breakers, CircuitBreaker
    from protocol.http._errors import (
        CircuitOpenError,
        HttpFatalError,
        HttpRetryableError,
        WaitTooLong,
        map_transport_exception,
        parse_retry_after,
        redact,
        status_error,
    )
    from protocol.http._jsonpath import find, find_first
    from protocol.http._paginators import (
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
    from protocol.http._ratelimit import RateLimiter
    from protocol.http._retry import RetryPolicy
    from protocol.http._session import HttpClient, Page, redact_headers
    from protocol.http._settings import HTTP_SETTINGS, HttpSettings, http_settings
    from protocol.http._transport import Response, Transport, Urllib3Transport

_LAZY: dict[str, tuple[str, str]] = {
    "ApiKeyAuth": ("protocol.http._auth", "ApiKeyAuth"),
    "Auth": ("protocol.http._auth", "Auth"),
    "BasicAuth": ("protocol.http._auth", "BasicAuth"),
    "BearerTokenAuth": ("protocol.http._auth", "BearerTokenAuth"),
    "Breakers": ("protocol.http._breaker", "Breakers"),
    "CLOSED": ("protocol.http._breaker", "CLOSED"),
    "CircuitBreaker": ("protocol.http._breaker", "CircuitBreaker"),
    "CircuitOpenError": ("protocol.http._errors", "CircuitOpenError"),
    "CursorPaginator": ("protocol.http._paginators", "CursorPaginator"),
    "HALF_OPEN": ("protocol.http._breaker", "HALF_OPEN"),
    "HTTP_SETTINGS": ("protocol.http._settings", "HTTP_SETTINGS"),
    "HttpClient": ("protocol.http._session", "HttpClient"),
    "HttpFatalError": ("protocol.http._errors", "HttpFatalError"),
    "HttpRetryableError": ("protocol.http._errors", "HttpRetryableError"),
    "HttpSettings": ("protocol.http._settings", "HttpSettings"),
    "LinkPaginator": ("protocol.http._paginators", "LinkPaginator"),
    "NextPage": ("protocol.http._paginators", "NextPage"),
    "OAuth2Base": ("protocol.http._auth", "OAuth2Base"),
    "OAuth2ClientCredentials": ("protocol.http._auth", "OAuth2ClientCredentials"),
    "OAuth2RefreshToken": ("protocol.http._auth", "OAuth2RefreshToken"),
    "OPEN": ("protocol.http._breaker", "OPEN"),
    "OffsetPaginator": ("protocol.http._paginators", "OffsetPaginator"),
    "PAGINATION_SCHEMA": ("protocol.http._paginators", "PAGINATION_SCHEMA"),
    "Page": ("protocol.http._session", "Page"),
    "PageNumberPaginator": ("protocol.http._paginators", "PageNumberPaginator"),
    "PaginationSettings": ("protocol.http._paginators", "PaginationSettings"),
    "Paginator": ("protocol.http._paginators", "Paginator"),
    "RateLimiter": ("protocol.http._ratelimit", "RateLimiter"),
    "Response": ("protocol.http._transport", "Response"),
    "RetryPolicy": ("protocol.http._retry", "RetryPolicy"),
    "SinglePage": ("protocol.http._paginators", "SinglePage"),
    "Transport": ("protocol.http._transport", "Transport"),
    "Urllib3Transport": ("protocol.http._transport", "Urllib3Transport"),
    "WaitTooLong": ("protocol.http._errors", "WaitTooLong"),
    "find": ("protocol.http._jsonpath", "find"),
    "find_first": ("protocol.http._jsonpath", "find_first"),
    "http_settings": ("protocol.http._settings", "http_settings"),
    "map_transport_exception": ("protocol.http._errors", "map_transport_exception"),
    "paginator_from_config": ("protocol.http._paginators", "paginator_from_config"),
    "parse_retry_after": ("protocol.http._errors", "parse_retry_after"),
    "redact": ("protocol.http._errors", "redact"),
    "redact_headers": ("protocol.http._session", "redact_headers"),
    "status_error": ("protocol.http._errors", "status_error"),
}

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)

__all__ = [
    "ApiKeyAuth",
    "Auth",
    "BasicAuth",
    "BearerTokenAuth",
    "Breakers",
    "CLOSED",
    "CircuitBreaker",
    "CircuitOpenError",
    "CursorPaginator",
    "HALF_OPEN",
    "HTTP_SETTINGS",
    "HttpClient",
    "HttpFatalError",
    "HttpRetryableError",
    "HttpSettings",
    "LinkPaginator",
    "NextPage",
    "OAuth2Base",
    "OAuth2ClientCredentials",
    "OAuth2RefreshToken",
    "OPEN",
    "OffsetPaginator",
    "PAGINATION_SCHEMA",
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
