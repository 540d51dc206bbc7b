"""The Stripe API client: the kit's HttpClient with Stripe's auth, headers, errors and list paging.

Errors: Stripe's body ``{"error": {"type", "code", "message"}}`` becomes one line,
``/v1/customers: HTTP 401 authentication_error: Invalid API Key provided: ...``; the
``Stripe-Should-Retry`` header decides retrying when present (``true``: retry, even a 4xx;
``false``: never, even a 5xx or 429); otherwise 409, 429 and 5xx are retried, other 4xx are not.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Mapping
from typing import Any

from protocol import FatalSourceError
from protocol.http import (
    Auth,
    BearerTokenAuth,
    Check,
    HttpClient,
    HttpFatalError,
    HttpRetryableError,
    Response,
    Transport,
    Urllib3Transport,
    parse_retry_after,
    redact,
    server_clock_offset,
)
from taps.stripe.settings import StripeSettings

__all__ = ["StripeClient", "StripeError", "stripe_error"]


class StripeError(HttpFatalError):
    """A Stripe error that retrying cannot fix, with its ``code`` and ``param`` kept apart from the
    text, so that a caller can react to one case (a ``starting_after`` object gone:
    ``resource_missing``) without parsing the message."""

    def __init__(self, message: str, *, status: int, code: str | None = None, param: str | None = None) -> None:
        super().__init__(message, status=status)
        self.code = code
        self.param = param


class _Recording:
    """A transport that keeps the last response, so that an error can be read from Stripe's body,
    and the server's clock as far as its ``Date`` headers tell (:attr:`offset`)."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.last: Response | None = None
        self.offset: float | None = None  # Stripe's clock minus ours, a lower bound (seconds)

    def send(self, method: str, url: str, headers: Mapping[str, str], params: Mapping[str, Any] | None = None,
             body: bytes | None = None, timeout: tuple[float, float] | None = None) -> Response:
        self.last = self.inner.send(method, url, headers, params, body, timeout)
        offset = server_clock_offset(self.last.headers.get("Date"), time.time())
        if offset is not None:
            self.offset = offset
        return self.last

    def close(self) -> None:
        self.inner.close()


def stripe_error(response: Response, endpoint: str, secrets: list[str]) -> HttpRetryableError | StripeError:
    """The error for a non-2xx Stripe response (see the module's docstring)."""
    status = response.status
    try:
        error = HttpClient.decode(response, endpoint)
    except HttpFatalError:
        error = None
    detail = error.get("error") if isinstance(error, dict) else None
    code = param = None
    if isinstance(detail, dict):
        kind, code, message = detail.get("type"), detail.get("code"), detail.get("message")
        param = detail.get("param")
        words = f"{kind or 'error'}" + (f" ({code})" if code else "") + (f": {message}" if message else "")
    else:
        # redacted before the cut: a secret the cut split is no longer found (protocol.http.response_message)
        words = redact(response.content.decode("utf-8", "replace").strip().replace("\n", " "), secrets)[:300]
        words = words or response.reason
    text = redact(f"{endpoint}: HTTP {status} {words}".rstrip(), secrets)
    should = str(response.headers.get("Stripe-Should-Retry", "")).lower()
    retry = should == "true" if should in ("true", "false") else (status in (409, 429) or status >= 500)
    if retry:
        wait = parse_retry_after(response.headers.get("Retry-After"))
        return HttpRetryableError(text, status=status, retry_after=wait)
    return StripeError(text, status=status, code=_text(code), param=_text(param))


def _text(value: Any) -> str | None:
    """A field of Stripe's error body when it is a string (else None: the body is not Stripe's)."""
    return value if isinstance(value, str) else None


class _StripeHttp(HttpClient):
    """The kit's client, its HTTP errors re-read as Stripe's."""

    recorder: _Recording

    def _send(self, method: str, url: str, params: Mapping[str, Any] | None, headers: Mapping[str, str] | None,
              endpoint: str, auth: Auth, body: bytes | None, check: Check | None = None) -> Response:
        try:
            return super()._send(method, url, params, headers, endpoint, auth, body, check)
        except (HttpRetryableError, HttpFatalError) as exc:
            response = self.recorder.last
            if response is None or response.status != exc.status:
                raise
            raise stripe_error(response, endpoint, auth.secrets()) from None


class StripeClient:
    def __init__(self, settings: StripeSettings) -> None:
        self.base = f"{settings.api_url}/v1"
        self.limit = settings.limit
        headers = {"Stripe-Version": settings.stripe_version}
        if settings.account_id:
            headers["Stripe-Account"] = settings.account_id
        recorder = _Recording(Urllib3Transport(10, (settings.http.connect_timeout, settings.http.timeout)))
        self.http = _StripeHttp(settings.http, auth=BearerTokenAuth(settings.secret), headers=headers,
                                transport=recorder)
        self.http.recorder = recorder

    def close(self) -> None:
        self.http.close()

    def server_time(self, local: int) -> int:
        """The second ``local`` of our clock on Stripe's, which stamps ``created``, as far as its answers
        tell, and never later than ours: an object Stripe creates after our ``local`` has a ``created``
        at or after the second returned (a run's end, for the next run, is taken so)."""
        offset = self.http.recorder.offset
        return local if offset is None or offset >= 0 else math.floor(local + offset)

    def get(self, path: str) -> Any:
        """``GET /v1/{path}``: one object."""
        _, body = self.http.get_json(f"{self.base}/{path}", endpoint=f"/v1/{path.split('/')[0]}")
        return body

    def pages(self, path: str, params: Mapping[str, Any], after: str | None = None
              ) -> Iterator[tuple[list[dict[str, Any]], str | None]]:
        """Every page of ``GET /v1/{path}`` (newest first), from ``starting_after=after``; each with the
        ``starting_after`` of the page that follows it (None after the last)."""
        url, endpoint = f"{self.base}/{path}", f"/v1/{path}"
        while True:
            query = {**params, "limit": self.limit}
            if after:
                query["starting_after"] = after
            _, body = self.http.get_json(url, params=query, endpoint=endpoint)
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, list):
                raise FatalSourceError(f"{endpoint}: expected a list object with 'data', got {type(body).__name__}")
            after = data[-1].get("id") if data and body.get("has_more") else None
            yield data, after
            if after is None:
                return
