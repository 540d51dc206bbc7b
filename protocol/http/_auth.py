"""Auth strategies: each adds its credentials to an outgoing request.

    ApiKeyAuth            a key in a header or in the query string
    BearerTokenAuth       Authorization: Bearer <token> (or another scheme, e.g. GitHub's "token")
    BasicAuth             Authorization: Basic base64(user:password)
    OAuth2ClientCredentials, OAuth2RefreshToken
                          a token from the token endpoint, refreshed ``leeway`` seconds before
                          it expires, and once more when the API answers 401

``secrets()`` lists the values that must never appear in a log line or an error.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable, MutableMapping
from typing import Any

import orjson

from protocol._errors import FatalSourceError
from protocol.http._transport import Response

__all__ = [
    "ApiKeyAuth",
    "Auth",
    "BasicAuth",
    "BearerTokenAuth",
    "OAuth2Base",
    "OAuth2ClientCredentials",
    "OAuth2RefreshToken",
]

log = logging.getLogger("sluice.http")

#: posts a form to the token endpoint; the client provides it (retries, metrics, errors mapped)
TokenPoster = Callable[[str, dict[str, str], tuple[str, str] | None], Response]


class Auth:
    """No authentication. Subclasses override :meth:`apply`."""

    def apply(self, headers: MutableMapping[str, str], params: MutableMapping[str, Any]) -> None:
        """Add credentials to one request's headers or query parameters."""

    def refresh_after_401(self) -> bool:
        """Called on a 401; True when new credentials were obtained and one more try may help."""
        return False

    def secrets(self) -> list[str]:
        return []


class ApiKeyAuth(Auth):
    def __init__(self, name: str, value: str, location: str = "header") -> None:
        if location not in ("header", "query"):
            raise ValueError(f"API key location must be 'header' or 'query', not {location!r}")
        self.name, self.value, self.location = name, value, location

    def apply(self, headers: MutableMapping[str, str], params: MutableMapping[str, Any]) -> None:
        (headers if self.location == "header" else params)[self.name] = self.value

    def secrets(self) -> list[str]:
        return [self.value]


class BearerTokenAuth(Auth):
    def __init__(self, token: str, scheme: str = "Bearer") -> None:
        self.header = f"{scheme} {token}"
        self.token = token

    def apply(self, headers: MutableMapping[str, str], params: MutableMapping[str, Any]) -> None:
        headers["Authorization"] = self.header

    def secrets(self) -> list[str]:
        return [self.token]


class BasicAuth(Auth):
    def __init__(self, username: str, password: str) -> None:
        self.password = password
        self.encoded = base64.b64encode(f"{username}:{password}".encode()).decode()

    def header(self) -> str:
        return "Basic " + self.encoded

    def apply(self, headers: MutableMapping[str, str], params: MutableMapping[str, Any]) -> None:
        headers["Authorization"] = self.header()

    def secrets(self) -> list[str]:
        return [self.password, self.encoded]


class OAuth2Base(Auth):
    """An access token from ``token_url``, fetched on first use and before it expires."""

    grant_type = ""

    def __init__(self, token_url: str, client_id: str, client_secret: str, *, scope: str | None = None,
                 leeway: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.scope = scope
        self.leeway = leeway
        self._clock = clock
        self.access_token: str | None = None
        self.expires_at: float | None = None
        self.post: TokenPoster | None = None
        self.refreshes = 0

    def form(self) -> dict[str, str]:
        data = {"grant_type": self.grant_type}
        if self.scope:
            data["scope"] = self.scope
        return data

    def apply(self, headers: MutableMapping[str, str], params: MutableMapping[str, Any]) -> None:
        expired = self.expires_at is not None and self._clock() >= self.expires_at - self.leeway
        if self.access_token is None or expired:
            self.refresh()
        headers["Authorization"] = f"Bearer {self.access_token}"

    def refresh_after_401(self) -> bool:
        self.refresh()
        return True

    def refresh(self) -> None:
        if self.post is None:
            raise RuntimeError("OAuth2 auth is not attached to an HttpClient")
        response = self.post(self.token_url, self.form(), (self.client_id, self.client_secret))
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise FatalSourceError(f"OAuth2 token endpoint {self.token_url} did not return JSON") from exc
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise FatalSourceError(f"OAuth2 token endpoint {self.token_url} returned no access_token")
        self.access_token = token
        expires_in = body.get("expires_in")
        self.expires_at = self._clock() + float(expires_in) if isinstance(expires_in, (int, float)) else None
        self.on_token(body)
        self.refreshes += 1
        log.info("OAuth2 access token obtained (expires in %s s)", expires_in)

    def on_token(self, body: dict[str, Any]) -> None:
        """Hook for grants that rotate other values (the refresh token)."""

    def secrets(self) -> list[str]:
        return [s for s in (self.client_secret, self.access_token) if s]


class OAuth2ClientCredentials(OAuth2Base):
    grant_type = "client_credentials"


class OAuth2RefreshToken(OAuth2Base):
    grant_type = "refresh_token"

    def __init__(self, token_url: str, client_id: str, client_secret: str, refresh_token: str, **kwargs: Any) -> None:
        super().__init__(token_url, client_id, client_secret, **kwargs)
        self.refresh_token = refresh_token

    def form(self) -> dict[str, str]:
        return {**super().form(), "refresh_token": self.refresh_token}

    def on_token(self, body: dict[str, Any]) -> None:
        rotated = body.get("refresh_token")
        if isinstance(rotated, str) and rotated:
            self.refresh_token = rotated

    def secrets(self) -> list[str]:
        return [*super().secrets(), self.refresh_token]
