"""The HubSpot CRM v3 client: the kit's HttpClient with HubSpot's auth, error bodies and rate limits.

HubSpot answers errors with ``{"status": "error", "message": ..., "category": ...,
"correlationId": ...}``; :class:`HubSpotTransport` rewrites such a body's message to
``CATEGORY: message (correlationId ...)`` so that the kit's one error line carries all three.
Its rate-limit headers (``X-HubSpot-RateLimit-Remaining``, ``-Interval-Milliseconds``, and the
daily ``-Daily-Remaining``) are given to the kit under the names it reads (``X-RateLimit-Remaining``
/ ``-Reset``), so that the tap waits for the window before it is refused. A 429 without
``Retry-After`` is given one: the rest of the rolling window, or, for the daily limit
(``policyName`` DAILY), the time to the next UTC midnight (longer than ``max_wait``: the run
fails with one line instead of waiting hours).

The client also keeps a lower bound of the server's clock (:meth:`HubSpotClient.server_time`) from
the ``Date`` header of each answer: a listing's bookmark may not pass the moment it began, by the
clock that stamps the records' modified dates, whatever this machine's clock says.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from protocol import FatalSourceError
from protocol.http import (
    Auth,
    BearerTokenAuth,
    HttpClient,
    OAuth2RefreshToken,
    Response,
    Transport,
    Urllib3Transport,
    server_clock_offset,
)
from taps.hubspot.settings import HubSpotSettings

__all__ = ["HubSpotClient", "HubSpotTransport"]

POOL_SIZE = 10


def _seconds_to_midnight() -> float:
    now = datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - now).total_seconds()


class HubSpotTransport:
    """A transport that speaks HubSpot's rate-limit headers and error bodies to the kit."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner

    def close(self) -> None:
        self.inner.close()

    def send(self, method: str, url: str, headers: Mapping[str, str], params: Mapping[str, Any] | None = None,
             body: bytes | None = None, timeout: tuple[float, float] | None = None) -> Response:
        response = self.inner.send(method, url, headers, params, body, timeout)
        extra = _rate_headers(response)
        content = response.content
        if response.status >= 400:
            error = _error_body(content)
            if response.status == 429 and "Retry-After" not in response.headers:
                wait = _seconds_to_midnight() if error.get("policyName") == "DAILY" else _interval(response)
                extra["Retry-After"] = f"{wait:.3f}"
            if error.get("message"):
                content = orjson.dumps({"message": _message(error)})
        if not extra and content is response.content:
            return response
        merged = dict(response.headers.items())
        merged.update(extra)
        return dataclasses.replace(response, headers=_Headers(merged), content=content)


class _Headers(dict[str, str]):
    """Case-insensitive lookups over a plain dict (what the kit reads with ``.get``)."""

    def __init__(self, items: Mapping[str, str]) -> None:
        super().__init__({k.lower(): v for k, v in items.items()})

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(key.lower(), default)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())


def _interval(response: Response) -> float:
    try:
        return max(0.0, float(response.headers.get("X-HubSpot-RateLimit-Interval-Milliseconds", "10000")) / 1000)
    except ValueError:
        return 10.0


def _rate_headers(response: Response) -> dict[str, str]:
    """The kit's names for HubSpot's rate-limit state (only on answers that are not other errors)."""
    headers = response.headers
    if response.status >= 400 and response.status != 429:
        return {}
    if headers.get("X-HubSpot-RateLimit-Daily-Remaining") == "0":
        return {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": f"{_seconds_to_midnight():.3f}"}
    remaining = headers.get("X-HubSpot-RateLimit-Remaining")
    if remaining is None:
        return {}
    return {"X-RateLimit-Remaining": remaining, "X-RateLimit-Reset": f"{_interval(response):.3f}"}


def _error_body(content: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(content) if content else None
    except orjson.JSONDecodeError:
        return {}
    return body if isinstance(body, dict) else {}


def _message(error: Mapping[str, Any]) -> str:
    text = str(error.get("message"))
    category = error.get("category")
    correlation = error.get("correlationId")
    return (f"{category}: " if category else "") + text + (f" (correlationId {correlation})" if correlation else "")


class HubSpotRefreshToken(OAuth2RefreshToken):
    """HubSpot's refresh-token grant: the client id and secret go in the form (``/oauth/v1/token``)."""

    def form(self) -> dict[str, str]:
        return {**super().form(), "client_id": self.client_id, "client_secret": self.client_secret}


def _auth(settings: HubSpotSettings) -> Auth:
    if settings.access_token:
        return BearerTokenAuth(settings.access_token)
    assert settings.client_id and settings.client_secret and settings.refresh_token
    return HubSpotRefreshToken(f"{settings.api_url}/oauth/v1/token", settings.client_id, settings.client_secret,
                              settings.refresh_token)


class HubSpotClient:
    def __init__(self, settings: HubSpotSettings) -> None:
        self.api_url = settings.api_url
        self.limit = settings.limit
        self._offset: float | None = None  # the server's clock minus ours, a lower bound (seconds)
        http = settings.http
        transport = HubSpotTransport(Urllib3Transport(POOL_SIZE, (http.connect_timeout, http.timeout)))
        self.http = HttpClient(http, auth=_auth(settings), headers={"Accept": "application/json"},
                               transport=transport)

    def close(self) -> None:
        self.http.close()

    def properties(self, object_type: str) -> list[dict[str, Any]]:
        """``GET /crm/v3/properties/{objectType}``: the object's property definitions."""
        _, body = self.http.get_json(f"{self.api_url}/crm/v3/properties/{object_type}",
                                     endpoint="/crm/v3/properties/{objectType}")
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list):
            raise FatalSourceError(f"/crm/v3/properties/{object_type}: expected 'results', a list")
        return results

    def server_time(self, local: datetime) -> datetime:
        """A moment of our clock by the server's, as far as its answers tell (rounded down to the
        second), and never later than ours: a record modified after ``local`` is stamped at or after it."""
        offset = min(0.0, self._offset) if self._offset is not None else 0.0
        return (local + timedelta(seconds=offset)).replace(microsecond=0)

    def pages(self, path: str, params: Mapping[str, Any], endpoint: str, stream: str, *,
              prefetch: bool = True) -> Iterator[list[dict[str, Any]]]:
        """Every page of a GET listing, following ``paging.next.after``. With ``prefetch`` the next
        page is requested (on one worker thread) while the caller works through this one. An
        ``after`` that comes twice fails the run (``stream`` names it): the listing would not end,
        and stopping there would drop the pages not read as if there were none."""
        url = f"{self.api_url}{path}"
        query: dict[str, Any] = {"limit": self.limit, **params}
        seen: set[str] = set()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="hubspot-page") as pool:
            body = self._get(url, query, endpoint)
            while True:
                rows = _results(body, endpoint)
                after = _after(body)
                if after is None:
                    yield rows
                    return
                if after in seen:
                    raise FatalSourceError(f"stream '{stream}': {endpoint}: paging.next.after {after!r} came "
                                           "twice; paging would not end")
                seen.add(after)
                query = {**query, "after": after}
                if not prefetch:
                    yield rows
                    body = self._get(url, query, endpoint)
                    continue
                ahead = pool.submit(self._get, url, query, endpoint)
                try:
                    yield rows
                except GeneratorExit:
                    ahead.cancel()
                    raise
                body = ahead.result()

    def _get(self, url: str, query: Mapping[str, Any], endpoint: str) -> Any:
        response, body = self.http.get_json(url, params=query, endpoint=endpoint)
        self._observe(response)
        return body

    def _observe(self, response: Response) -> None:
        offset = server_clock_offset(response.headers.get("Date"), time.time())
        if offset is not None:
            self._offset = offset

    def search(self, object_type: str, request: dict[str, Any]) -> list[dict[str, Any]]:
        """One page of ``POST /crm/v3/objects/{objectType}/search``: its results (the caller pages by
        the sort key, never by ``after``)."""
        endpoint = "/crm/v3/objects/{objectType}/search"
        response = self.http.request("POST", f"{self.api_url}/crm/v3/objects/{object_type}/search",
                                     json=request, endpoint=endpoint)
        self._observe(response)
        return _results(self.http.decode(response, endpoint), endpoint)


def _results(body: Any, endpoint: str) -> list[dict[str, Any]]:
    results = body.get("results") if isinstance(body, dict) else None
    if not isinstance(results, list):
        raise FatalSourceError(f"{endpoint}: expected 'results', a list")
    return results


def _after(body: Mapping[str, Any]) -> str | None:
    after = ((body.get("paging") or {}).get("next") or {}).get("after")
    return str(after) if after not in (None, "") else None
