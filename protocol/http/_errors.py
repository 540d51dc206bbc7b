"""Map HTTP failures into the protocol error tree, where they enter our code.

    urllib3 timeouts (connect, read), refused or reset connections,
    a body cut short, TLS and proxy failures                 -> RetryableSourceError
        (a failure to connect leads with its cause: "cannot reach HOST: connection refused",
        "... name resolution failed (...)", "... connection timed out")
    any other urllib3 error (bad URL or scheme, too many
    redirects, undecodable body, invalid header)              -> FatalSourceError
    HTTP 429, 5xx, 403/429 with X-RateLimit-Remaining: 0      -> RetryableSourceError (retry_after)
    HTTP 401, 403, any other 4xx                              -> FatalSourceError (the server's message)
"""

from __future__ import annotations

import email.utils
import socket
import time
from collections.abc import Iterable, Mapping
from http.client import HTTPException
from urllib.parse import quote, quote_plus

import orjson
from urllib3 import exceptions as u3

from protocol._errors import FatalSourceError, RetryableSourceError, SourceError
from protocol.http._transport import Response

__all__ = [
    "CircuitOpenError",
    "HttpFatalError",
    "HttpRetryableError",
    "WaitTooLong",
    "TRANSPORT_ERRORS",
    "connect_failure",
    "map_transport_exception",
    "parse_retry_after",
    "redact",
    "reset_wait",
    "status_error",
]

REDACTED = "********"
#: what the transport may raise: every urllib3 error, and the stdlib's should one get past urllib3
TRANSPORT_ERRORS = (u3.HTTPError, u3.ProxySchemeUnsupported, u3.MessageDefect, HTTPException, OSError)
_TIMEOUT = u3.TimeoutError  # its NewConnectionError subclass is a refused connection, not a timeout
_TRANSIENT = (u3.TimeoutError, u3.ProtocolError, u3.SSLError, u3.ProxyError, u3.ClosedPoolError,
              u3.IncompleteRead, u3.InvalidChunkLength, HTTPException, OSError)


class CircuitOpenError(RetryableSourceError):
    """The host's circuit breaker is open: no request was sent."""


class WaitTooLong(RetryableSourceError):
    """The server asks for a longer wait than ``max_wait``: retrying now cannot help; a later run can."""


class HttpRetryableError(RetryableSourceError):
    """A transient HTTP status (429, 5xx, rate limit exhausted)."""

    def __init__(self, message: str, *, status: int, retry_after: float | None = None) -> None:
        super().__init__(message, retry_after=retry_after)
        self.status = status


class HttpFatalError(FatalSourceError):
    """An HTTP status that retrying cannot fix (401, 403, other 4xx)."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret (also URL-encoded, as in a query string) replaced by asterisks,
    the longest first: a secret inside a longer one (a client secret that begins a refresh token)
    replaced first left the rest of the longer one readable."""
    forms = {form for secret in secrets if secret and len(secret) >= 3
             for form in (secret, quote(secret, safe=""), quote_plus(secret))}
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, REDACTED)
    return text


def map_transport_exception(exc: BaseException, endpoint: str, secrets: Iterable[str] = (),
                            host: str | None = None) -> SourceError:
    """A transport (urllib3) exception as one of ours (raise it ``from exc``); ``host`` names the
    server in a failure to connect (else the host urllib3 tried, else the endpoint)."""
    if isinstance(exc, u3.MaxRetryError) and exc.reason is not None:
        exc = exc.reason  # the real failure (a redirect loop is a ResponseError: fatal)
    name = type(exc).__name__
    cause = connect_failure(exc)
    if cause is not None:
        return RetryableSourceError(redact(f"cannot reach {host or _conn_host(exc) or endpoint}: {cause}", secrets))
    if isinstance(exc, _TIMEOUT):
        return RetryableSourceError(f"{endpoint}: timed out ({name.removesuffix('Error')})")
    if isinstance(exc, _TRANSIENT):
        return RetryableSourceError(redact(f"{endpoint}: connection failed ({name})", secrets))
    return FatalSourceError(redact(f"{endpoint}: request failed ({name}: {exc})", secrets))


def connect_failure(exc: BaseException) -> str | None:
    """Why a connection could not be made, in words ("connection refused", "name resolution
    failed (...)", "connection timed out"); None when ``exc`` is not a failure to connect."""
    if isinstance(exc, u3.NameResolutionError | socket.gaierror):
        reason = exc.__cause__ if isinstance(exc, u3.NameResolutionError) else exc
        return f"name resolution failed ({reason or exc})"
    if isinstance(exc, u3.NewConnectionError):
        reason = exc.__cause__ or exc.__context__
        if isinstance(reason, OSError):
            return connect_failure(reason) or f"connection failed ({reason.strerror or reason})"
        return f"connection failed ({exc})"
    if isinstance(exc, u3.ConnectTimeoutError):
        return "connection timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return None


def _conn_host(exc: BaseException) -> str | None:
    conn = getattr(exc, "conn", None)
    host, port = getattr(conn, "host", None), getattr(conn, "port", None)
    if not host:
        return None
    return f"{host}:{port}" if port else str(host)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def reset_wait(value: float, now: float | None = None) -> float:
    """Seconds until a rate-limit reset given as epoch milliseconds (Linear), epoch seconds or
    seconds from now; negative when it has passed."""
    now = time.time() if now is None else now
    if value > 1e11:
        return value / 1000.0 - now
    return value - now if value > 1e9 else value


def _rate_limit_wait(headers: Mapping[str, str]) -> float | None:
    reset = headers.get("X-RateLimit-Reset") or headers.get("RateLimit-Reset")
    if reset is None:
        return None
    try:
        value = float(reset)
    except ValueError:
        return None
    return max(0.0, reset_wait(value))


def response_message(response: Response, limit: int = 300, secrets: Iterable[str] = ()) -> str:
    """The server's own words: a JSON ``message``/``error_description``/``error``, or the text;
    ``secrets`` are redacted before the text is cut to ``limit`` (cut first, a secret the cut
    split was no longer found, and its first characters were shown)."""
    return redact(_server_words(response), secrets)[:limit] or response.reason or ""


def _server_words(response: Response) -> str:
    content = response.content or b""
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict):
        for key in ("message", "error_description", "error", "detail", "title"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
    return content.decode("utf-8", "replace").strip().replace("\n", " ")


def status_error(
    response: Response, endpoint: str, secrets: Iterable[str] = ()
) -> HttpRetryableError | HttpFatalError:
    """The error for a non-2xx response."""
    status = response.status
    message = response_message(response, secrets=secrets)
    what = f"{endpoint}: HTTP {status}" + (f" {message}" if message else "")
    headers = response.headers
    exhausted = headers.get("X-RateLimit-Remaining", headers.get("RateLimit-Remaining")) == "0"
    # a 403 is a rate limit when the quota is spent, or when it says when to come back (GitHub's secondary
    # limit answers 403 with Retry-After while the quota is not spent): waited for, then asked again
    if status == 429 or status >= 500 or (status == 403 and (exhausted or "Retry-After" in headers)):
        wait = parse_retry_after(headers.get("Retry-After"))
        if wait is None and exhausted:
            wait = _rate_limit_wait(headers)
        return HttpRetryableError(what, status=status, retry_after=wait)
    return HttpFatalError(what, status=status)
