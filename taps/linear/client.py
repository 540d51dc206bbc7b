"""The Linear GraphQL client: the kit's HttpClient and GraphQLClient with Linear's auth, its
rate-limit headers and its RATELIMITED error code.

Linear answers every query at one endpoint. A personal API key is sent as the Authorization
header as it is; an OAuth token as ``Bearer TOKEN``. Every answer carries the request budget
(``X-RateLimit-Requests-Remaining``, ``X-RateLimit-Requests-Reset`` in epoch milliseconds) and the
complexity budget (``X-RateLimit-Complexity-*``); a query over budget is answered with the
``RATELIMITED`` error code, retried after the reset.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from protocol.http import ApiKeyAuth, Auth, BearerTokenAuth, GraphQLClient, HttpClient
from taps.linear.settings import LinearSettings

__all__ = ["LinearClient"]

#: Linear's budgets, (remaining, reset) header pairs read by the rate limiter (rate_limit_buffer)
RATE_LIMIT_HEADERS = (("X-RateLimit-Requests-Remaining", "X-RateLimit-Requests-Reset"),
                      ("X-RateLimit-Complexity-Remaining", "X-RateLimit-Complexity-Reset"))
#: Linear's error codes (``extensions.code``; ``extensions.type`` holds the same in words)
RETRYABLE = frozenset({"RATELIMITED", "ratelimited"})
AUTH = frozenset({"AUTHENTICATION_ERROR", "authentication error", "FORBIDDEN", "forbidden"})

VIEWER = "query Viewer { viewer { id name email organization { name } } }"


class LinearClient:
    def __init__(self, settings: LinearSettings) -> None:
        auth: Auth
        if settings.access_token:
            auth = BearerTokenAuth(settings.access_token)
        else:
            auth = ApiKeyAuth("Authorization", str(settings.auth_token))
        self.http = HttpClient(settings.http, auth=auth, headers={"Accept": "application/json"},
                               rate_limit_headers=RATE_LIMIT_HEADERS)
        self.graphql = GraphQLClient(self.http, settings.api_url, retryable_codes=RETRYABLE, auth_codes=AUTH)
        self.page_size = settings.page_size

    def close(self) -> None:
        self.http.close()

    def viewer(self) -> dict[str, Any]:
        """The authenticated user (``--test``: one cheap query)."""
        _, data = self.graphql.for_stream("viewer").execute(VIEWER)
        return data.get("viewer") or {}

    def pages(self, stream: str, query: str, variables: Mapping[str, Any], root: str) -> Iterator[list[Any]]:
        """Every page of the connection ``root`` of ``query``."""
        for page in self.graphql.for_stream(stream).paginate(query, variables, path=root, page_size=self.page_size):
            yield page.records
