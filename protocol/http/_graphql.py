"""GraphQL over the HTTP kit: a query with variables POSTed as JSON, relay cursor pagination,
and GraphQL's own errors (inside a 200, or a 4xx) mapped into the error tree.

    gql = GraphQLClient(http, "https://api.example.com/graphql", stream="issues")
    for page in gql.paginate(QUERY, {"filter": ...}, path="issues", page_size=100):
        ... page.records ...

``paginate`` sends ``first`` (the page size) and ``after`` (the last ``pageInfo.endCursor``)
as variables, reads the connection at ``path`` inside ``data`` (its ``nodes``, or its
``edges[*].node``) and stops when ``pageInfo.hasNextPage`` is false.

An ``{"errors": [...]}`` answer is one of these, named by its ``extensions.code``:

    a rate limit (RATELIMITED, or a code/type of the API's   -> GraphQLRetryableError (retried; the wait
    ``retryable_codes``)                                         from Retry-After or the rate-limit reset)
    an authentication or permission error                    -> GraphQLFatalError, at once
    any other error                                          -> GraphQLFatalError, at once
    data with errors (a partial answer)                       -> GraphQLFatalError: never half-loaded

Every message is one line naming the stream: ``stream 'issues': GraphQL error AUTHENTICATION_ERROR:
Authentication required``. A 5xx without GraphQL errors stays the kit's retryable HTTP error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from protocol._errors import FatalSourceError, SourceError
from protocol._jsoncodec import JSONDecodeError, loads
from protocol.http._errors import HttpFatalError, HttpRetryableError, parse_retry_after, redact, reset_wait
from protocol.http._jsonpath import find_first
from protocol.http._session import HttpClient
from protocol.http._transport import Response

__all__ = ["AUTH_CODES", "RETRYABLE_CODES", "GraphQLClient", "GraphQLFatalError", "GraphQLPage",
           "GraphQLRetryableError"]

#: error codes (``extensions.code``, or ``extensions.type``) that a later try may get past
RETRYABLE_CODES = frozenset({"RATELIMITED", "RATE_LIMITED", "THROTTLED", "rate limit", "ratelimited"})
#: error codes of bad or insufficient credentials
AUTH_CODES = frozenset({"AUTHENTICATION_ERROR", "UNAUTHENTICATED", "FORBIDDEN", "authentication error",
                        "forbidden"})
_MESSAGE_LIMIT = 300


class GraphQLRetryableError(HttpRetryableError):
    """GraphQL errors that a later try may get past (a rate limit); ``codes`` lists their codes."""

    def __init__(self, message: str, *, status: int, codes: tuple[str, ...],
                 retry_after: float | None = None) -> None:
        super().__init__(message, status=status, retry_after=retry_after)
        self.codes = codes


class GraphQLFatalError(HttpFatalError):
    """GraphQL errors that retrying cannot fix (authentication, a bad query, a partial answer)."""

    def __init__(self, message: str, *, status: int, codes: tuple[str, ...]) -> None:
        super().__init__(message, status=status)
        self.codes = codes


@dataclass
class GraphQLPage:
    response: Response
    data: dict[str, Any]
    records: list[Any]


def _codes(errors: list[Any]) -> tuple[str, ...]:
    codes: list[str] = []
    for error in errors:
        ext = error.get("extensions") if isinstance(error, dict) else None
        code = ext.get("code") or ext.get("type") if isinstance(ext, dict) else None
        codes.append(str(code) if code else "")
    return tuple(codes)


def _messages(errors: list[Any], secrets: list[str]) -> str:
    """The errors' messages, redacted before they are cut (a secret the cut split is no longer found)."""
    texts = []
    for error in errors:
        text = error.get("message") if isinstance(error, dict) else None
        texts.append(str(text) if text else "(no message)")
    return redact("; ".join(dict.fromkeys(texts)).replace("\n", " "), secrets)[:_MESSAGE_LIMIT]


def _has_data(data: Any) -> bool:
    """True when ``data`` holds anything (a partial answer); ``{"field": null}`` holds nothing."""
    return isinstance(data, dict) and any(value is not None for value in data.values())


class GraphQLClient:
    """Queries one GraphQL endpoint through an :class:`HttpClient` (its retries, limits, auth)."""

    def __init__(self, http: HttpClient, url: str, *, stream: str = "", retryable_codes: frozenset[str] =
                 RETRYABLE_CODES, auth_codes: frozenset[str] = AUTH_CODES,
                 retry_wait: Callable[[Mapping[str, str]], float | None] | None = None) -> None:
        self.http, self.url, self.stream = http, url, stream
        self.endpoint = urlsplit(url).path or "/"
        self.retryable_codes, self.auth_codes = retryable_codes, auth_codes
        self.retry_wait = retry_wait or default_retry_wait
        self._parsed: tuple[Response, Any] | None = None

    def for_stream(self, stream: str) -> GraphQLClient:
        """The same endpoint and policies, naming another stream in its errors."""
        return GraphQLClient(self.http, self.url, stream=stream, retryable_codes=self.retryable_codes,
                             auth_codes=self.auth_codes, retry_wait=self.retry_wait)

    # -- one request ---------------------------------------------------------------------------

    def execute(self, query: str, variables: Mapping[str, Any] | None = None) -> tuple[Response, dict[str, Any]]:
        """POST the query; the response and its ``data`` (a dict), or raise a SourceError naming the stream."""
        payload = {"query": query, "variables": dict(variables or {})}
        try:
            response = self.http.request("POST", self.url, json=payload, endpoint=self.endpoint, check=self._check)
            body = self._body(response)
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, dict):
                raise FatalSourceError(f"{self.endpoint}: the answer has no data object")
        except SourceError as exc:
            if self.stream and not str(exc).startswith("stream "):
                exc.args = (f"stream '{self.stream}': {exc}", *exc.args[1:])
            raise
        return response, data

    def _body(self, response: Response) -> Any:
        if self._parsed is not None and self._parsed[0] is response:
            return self._parsed[1]
        return self._decode(response)

    def _decode(self, response: Response) -> Any:
        try:
            return loads(response.content) if response.content else None
        except JSONDecodeError as exc:
            if response.status >= 400:
                return None  # not a GraphQL answer: the HTTP status speaks
            raise FatalSourceError(f"{self.endpoint}: the response is not valid JSON ({exc})") from exc

    def _check(self, response: Response) -> SourceError | None:
        """The error a GraphQL answer stands for (its ``errors``), or None."""
        self._parsed = None
        body = self._decode(response)
        self._parsed = (response, body)
        errors = body.get("errors") if isinstance(body, dict) else None
        if not errors:
            return None
        if not isinstance(errors, list):
            errors = [errors]
        return self.classify(response, errors, body.get("data"))

    def classify(self, response: Response, errors: list[Any], data: Any) -> SourceError | None:
        """Retryable when every error is a rate limit; fatal otherwise (a partial answer included)."""
        codes = _codes(errors)
        text = _messages(errors, self.http.secrets())
        named = "/".join(c for c in dict.fromkeys(codes) if c)
        what = f"{self.endpoint}: GraphQL error{' ' + named if named else ''}: {text}"
        status = response.status
        if status >= 500 and not any(c in self.retryable_codes for c in codes):
            return None  # the server failed: the kit's retryable 5xx
        if all(c in self.retryable_codes for c in codes):
            wait = self.retry_wait(response.headers)
            return GraphQLRetryableError(what, status=status, codes=codes, retry_after=wait)
        if any(c in self.auth_codes for c in codes):
            return GraphQLFatalError(f"{what} (check the credentials)", status=status, codes=codes)
        if _has_data(data):
            return GraphQLFatalError(f"{what}; a partial answer (data with errors) is refused, nothing of it "
                                     "was loaded", status=status, codes=codes)
        return GraphQLFatalError(what, status=status, codes=codes)

    # -- relay pagination ----------------------------------------------------------------------

    def paginate(self, query: str, variables: Mapping[str, Any] | None = None, *, path: str,
                 page_size: int | None = None, first_var: str = "first", after_var: str = "after",
                 after: str | None = None) -> Iterator[GraphQLPage]:
        """Every page of the connection at ``path`` (a JSONPath inside ``data``), by ``pageInfo``."""
        base = dict(variables or {})
        if page_size is not None:
            base[first_var] = page_size
        cursor, seen = after, set()
        while True:
            response, data = self.execute(query, {**base, after_var: cursor})
            connection = find_first(data, path)
            if not isinstance(connection, dict):
                raise self._shape(f"no connection object at {path!r}")
            records = self._nodes(connection, path)
            yield GraphQLPage(response, data, records)
            info = connection.get("pageInfo")
            if not isinstance(info, dict):
                raise self._shape(f"{path!r} has no pageInfo")
            if not info.get("hasNextPage"):
                return
            cursor = info.get("endCursor")
            if not isinstance(cursor, str) or not cursor:
                raise self._shape(f"{path!r}: hasNextPage is true but endCursor is empty")
            if cursor in seen:
                raise self._shape(f"{path!r}: endCursor {cursor!r} came twice; paging would not end")
            seen.add(cursor)

    def _nodes(self, connection: dict[str, Any], path: str) -> list[Any]:
        nodes = connection.get("nodes")
        if nodes is None and isinstance(connection.get("edges"), list):
            nodes = [edge.get("node") for edge in connection["edges"] if isinstance(edge, dict)]
        if not isinstance(nodes, list):
            raise self._shape(f"{path!r} has neither nodes nor edges")
        return nodes

    def _shape(self, what: str) -> FatalSourceError:
        prefix = f"stream '{self.stream}': " if self.stream else ""
        return FatalSourceError(f"{prefix}{self.endpoint}: unexpected GraphQL answer: {what}")


def default_retry_wait(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait before retrying a rate-limited query: Retry-After, else the latest reset of
    the exhausted limits (``X-RateLimit-*-Remaining: 0`` with its ``-Reset``, epoch seconds or
    milliseconds); None (the backoff decides) when neither is given."""
    wait = parse_retry_after(headers.get("Retry-After"))
    if wait is not None:
        return wait
    lower = {name.lower(): value for name, value in headers.items()}
    waits = []
    for name, value in lower.items():
        if not name.endswith("-remaining") or value.strip() not in ("0", "0.0"):
            continue
        reset = lower.get(name.removesuffix("-remaining") + "-reset")
        if reset is None:
            continue
        try:
            waits.append(reset_wait(float(reset)))
        except ValueError:
            continue
    future = [w for w in waits if w > 0]
    return max(future) if future else None
