"""The dashboard's guard: read-only methods, the token, the Host check, and the security headers.

An ASGI middleware of its own (no framework import), wrapped around the whole application:

- only GET and HEAD are answered (405 otherwise): the dashboard never changes anything;
- with a token (``SLUICE_UI_TOKEN``, required when the server listens beyond loopback) every request
  shows it: ``Authorization: Bearer TOKEN``, or the cookie a ``?token=TOKEN`` visit sets (the visit is
  redirected to the same address without the token, so it stays out of the history and the logs).
  Both are compared in constant time; the cookie holds a digest of the token, never the token;
- without a token (loopback only) the Host header must name the loopback, so a web page whose name
  was rebound to 127.0.0.1 cannot read the dashboard from a browser;
- every response carries a Content-Security-Policy without inline script, ``nosniff``,
  ``frame-ancestors 'none'`` (and X-Frame-Options), ``Referrer-Policy: no-referrer`` and ``no-store``.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

__all__ = ["COOKIE", "HEADERS", "Guard", "is_loopback", "session_value"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

COOKIE = "sluice_ui"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]
_LOOPBACK_NAMES = {"localhost", "localhost.", "ip6-localhost"}


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address, IPv6 with or without brackets) is the loopback."""
    name = host.strip().lower().removeprefix("[").removesuffix("]")
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def session_value(token: str) -> str:
    """What the login cookie holds: a digest of the token (a stolen cookie does not reveal it)."""
    return hmac.new(token.encode(), b"sluice ui session", hashlib.sha256).hexdigest()


def _host_of(header: str) -> str:
    """The name in a Host header, without its port."""
    if header.startswith("["):
        return header[: header.find("]") + 1]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class Guard:
    """Wraps ``app``; ``token`` None means no token (then the server must listen on loopback)."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token.encode() if token else None
        self.session = session_value(token).encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # the dashboard has none: refused before any token check matters
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":  # lifespan
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)

        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if scope["method"] not in ("GET", "HEAD"):
            await _plain(with_headers, 405, "the dashboard is read-only", [(b"allow", b"GET, HEAD")])
            return
        if self.token is None:
            if not is_loopback(_host_of(headers.get("host", "localhost"))):
                await _plain(with_headers, 421, "this dashboard answers on the loopback name only")
                return
            await self.app(scope, receive, with_headers)
            return
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        given = [v for k, v in query if k == "token"]
        if given:
            await self._login(scope, query, given[-1], with_headers)
            return
        if self._authorised(headers):
            await self.app(scope, receive, with_headers)
            return
        await _plain(with_headers, 401, "a token is required: open the dashboard with ?token=TOKEN "
                     "(SLUICE_UI_TOKEN) or send 'Authorization: Bearer TOKEN'",
                     [(b"www-authenticate", b'Bearer realm="sluice ui"')])

    def _authorised(self, headers: dict[str, str]) -> bool:
        assert self.token is not None and self.session is not None
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer " and hmac.compare_digest(auth[7:].strip().encode(), self.token):
            return True
        held = _cookie(headers.get("cookie", ""), COOKIE)
        return held is not None and hmac.compare_digest(held.encode(), self.session)

    async def _login(self, scope: Scope, query: list[tuple[str, str]], given: str, send: Send) -> None:
        assert self.token is not None and self.session is not None
        if not hmac.compare_digest(given.encode(), self.token):
            await _plain(send, 401, "wrong token")
            return
        rest = urlencode([(k, v) for k, v in query if k != "token"])
        # the same page without the token; never "//host" (a redirect to another site)
        where = "/" + quote(scope["path"].lstrip("/")) + (f"?{rest}" if rest else "")
        cookie = f"{COOKIE}={self.session.decode()}; Path=/; HttpOnly; SameSite=Strict"
        if scope.get("scheme") == "https" or _forwarded_https(scope):
            cookie += "; Secure"  # behind a TLS proxy too (a client that lies about it only locks itself out)
        await _plain(send, 303, "signed in", [(b"location", where.encode()),
                                              (b"set-cookie", cookie.encode())])


def _cookie(header: str, name: str) -> str | None:
    """The value of cookie ``name`` in a Cookie header, whatever the other cookies hold (a browser sends
    every localhost cookie to every port; :class:`http.cookies.SimpleCookie` stops at the first one it
    cannot read, a JSON value or a blank)."""
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key.strip() == name:
            return value.strip()
    return None


def _forwarded_https(scope: Scope) -> bool:
    for key, value in scope.get("headers") or []:
        if key == b"x-forwarded-proto":
            return value.split(b",")[0].strip().lower() == b"https"
    return False


async def _plain(send: Send, status: int, text: str, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = (text + "\n").encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), *(extra or [])]})
    await send({"type": "http.response.body", "body": body})
