"""The HTTP kit for API taps: one pooled transport (urllib3), auth, pagination, rate limits, retries, breakers.

    # SETTINGS: the tap's settings schema, holding HTTP_SETTINGS (or http_settings("my-agent"))
    client = HttpClient(HttpSettings.from_config(config, SETTINGS), auth=BearerTokenAuth(token))
    for page in client.paginate(url, LinkPaginator(100), extract=lambda body: body):
        ...

Every failure arrives as a ``protocol`` SourceError: retryable (timeouts, resets,
5xx, 429) after the retries are spent, fatal (401, 403, other 4xx) at once. GraphQL APIs:
:class:`GraphQLClient` (a query with variables, relay pagination, errors inside a 200 mapped).

Everything not listed in ``__all__`` is private (modules ``protocol.http._x``); names are
imported on first use (PEP 562).
"""

from typing import TYPE_CHECKING

from protocol._face import lazy_attributes, lazy_table

if TYPE_CHECKING:  # what a type checker sees: the names declared below (``X as X`` re-exports them)
    from protocol.http._auth import ApiKeyAuth as ApiKeyAuth
    from protocol.http._auth import Auth as Auth
    from protocol.http._auth import BasicAuth as BasicAuth
    from protocol.http._auth import BearerTokenAuth as BearerTokenAuth
    from protocol.http._auth import OAuth2Base as OAuth2Base
    from protocol.http._auth import OAuth2ClientCredentials as OAuth2ClientCredentials
    from protocol.http._auth import OAuth2RefreshToken as OAuth2RefreshToken
    from protocol.http._breaker import CLOSED as CLOSED
    from protocol.http._breaker import HALF_OPEN as HALF_OPEN
    from protocol.http._breaker import OPEN as OPEN
    from protocol.http._breaker import Breakers as Breakers
    from protocol.http._breaker import CircuitBreaker as CircuitBreaker
    from protocol.http._errors import CircuitOpenError as CircuitOpenError
    from protocol.http._errors import HttpFatalError as HttpFatalError
    from protocol.http._errors import HttpRetryableError as HttpRetryableError
    from protocol.http._errors import WaitTooLong as WaitTooLong
    from protocol.http._errors import map_transport_exception as map_transport_exception
    from protocol.http._errors import parse_retry_after as parse_retry_after
    from protocol.http._errors import redact as redact
    from protocol.http._errors import status_error as status_error
    from protocol.http._graphql import GraphQLClient as GraphQLClient
    from protocol.http._graphql import GraphQLFatalError as GraphQLFatalError
    from protocol.http._graphql import GraphQLPage as GraphQLPage
    from protocol.http._graphql import GraphQLRetryableError as GraphQLRetryableError
    from protocol.http._jsonpath import find as find
    from protocol.http._jsonpath import find_first as find_first
    from protocol.http._paginators import PAGINATION_SCHEMA as PAGINATION_SCHEMA
    from protocol.http._paginators import CursorPaginator as CursorPaginator
    from protocol.http._paginators import LinkPaginator as LinkPaginator
    from protocol.http._paginators import NextPage as NextPage
    from protocol.http._paginators import OffsetPaginator as OffsetPaginator
    from protocol.http._paginators import PageNumberPaginator as PageNumberPaginator
    from protocol.http._paginators import PaginationSettings as PaginationSettings
    from protocol.http._paginators import Paginator as Paginator
    from protocol.http._paginators import PagingError as PagingError
    from protocol.http._paginators import SinglePage as SinglePage
    from protocol.http._paginators import paginator_from_config as paginator_from_config
    from protocol.http._ratelimit import RateLimiter as RateLimiter
    from protocol.http._retry import RetryPolicy as RetryPolicy
    from protocol.http._session import Check as Check
    from protocol.http._session import HttpClient as HttpClient
    from protocol.http._session import Page as Page
    from protocol.http._session import redact_headers as redact_headers
    from protocol.http._session import url_origin as url_origin
    from protocol.http._settings import HTTP_SETTINGS as HTTP_SETTINGS
    from protocol.http._settings import HttpSettings as HttpSettings
    from protocol.http._settings import http_settings as http_settings
    from protocol.http._transport import Response as Response
    from protocol.http._transport import Transport as Transport
    from protocol.http._transport import Urllib3Transport as Urllib3Transport
    from protocol.http._transport import server_clock_offset as server_clock_offset

_LAZY = lazy_table(__name__, {  # private module: its public names
    "_auth": ["ApiKeyAuth", "Auth", "BasicAuth", "BearerTokenAuth", "OAuth2Base", "OAuth2ClientCredentials",
              "OAuth2RefreshToken"],
    "_breaker": ["Breakers", "CLOSED", "CircuitBreaker", "HALF_OPEN", "OPEN"],
    "_errors": ["CircuitOpenError", "HttpFatalError", "HttpRetryableError", "WaitTooLong", "map_transport_exception",
                "parse_retry_after", "redact", "status_error"],
    "_graphql": ["GraphQLClient", "GraphQLFatalError", "GraphQLPage", "GraphQLRetryableError"],
    "_jsonpath": ["find", "find_first"],
    "_paginators": ["CursorPaginator", "LinkPaginator", "NextPage", "OffsetPaginator", "PAGINATION_SCHEMA",
                    "PageNumberPaginator", "PaginationSettings", "Paginator", "PagingError", "SinglePage",
                    "paginator_from_config"],
    "_ratelimit": ["RateLimiter"],
    "_retry": ["RetryPolicy"],
    "_session": ["Check", "HttpClient", "Page", "redact_headers", "url_origin"],
    "_settings": ["HTTP_SETTINGS", "HttpSettings", "http_settings"],
    "_transport": ["Response", "Transport", "Urllib3Transport", "server_clock_offset"],
})

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
__all__ = sorted(_LAZY)
