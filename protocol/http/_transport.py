"""The HTTP transport: one small interface between the kit and the wire, and its urllib3 backend.

    Transport.send(method, url, headers, params, body, timeout) -> Response
    Urllib3Transport   one PoolManager per tap (keep-alive pools), one ProxyManager per proxy;
                       no retries of its own (the kit retries), redirects followed (at most 30),
                       TLS always verified

A redirect to another origin (scheme, host or port) is followed without the request's
credentials and API headers: only the headers that describe the request (:data:`NEUTRAL_HEADERS`)
go on, as curl and requests do for ``Authorization``; urllib3 alone kept ``X-API-Key`` and any
header a config added, and handed them to the other host.

The environment is read once, when the transport is made: ``REQUESTS_CA_BUNDLE``,
``CURL_CA_BUNDLE`` or ``SSL_CERT_FILE`` (a file or a directory of certificates, else certifi's
bundle, else the system's), and the proxy variables (``HTTP(S)_PROXY``, ``ALL_PROXY``,
``NO_PROXY``), applied per host. Every urllib3 error is mapped by :func:`map_transport_exception`
in :mod:`protocol.http._errors`; this module raises urllib3's own.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import unquote, urlencode, urljoin, urlsplit
from urllib.request import getproxies, proxy_bypass

import urllib3
from urllib3.util import Retry, make_headers

__all__ = ["DEFAULT_HEADERS", "NEUTRAL_HEADERS", "Response", "Transport", "Urllib3Transport", "ca_bundle",
           "parse_links", "server_clock_offset"]

#: headers every request carries unless the caller overrides them (what ``requests`` sent)
DEFAULT_HEADERS: dict[str, str] = {
    "Accept-Encoding": make_headers(accept_encoding=True)["accept-encoding"],
    "Accept": "*/*",
    "Connection": "keep-alive",
}

#: headers that describe the request, not who sends it: the only ones a redirect to another origin keeps
NEUTRAL_HEADERS = frozenset({"user-agent", "accept", "accept-encoding", "accept-language", "connection",
                             "content-type", "content-length"})

# a link-value's target, then its parameters: a name, and a token or a quoted string (RFC 8288: a quoted
# value may hold "," and ";", which ended the parameters, so a rel after one was never read)
_TARGET = re.compile(r"<([^>]*)>")
_PARAM = re.compile(r'\s*;\s*([^\s=;,"]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^;,]*))?')
_ESCAPED = re.compile(r"\\(.)")

#: redirects followed (as requests did); no other retry inside the transport
_RETRIES = Retry(total=None, connect=False, read=False, other=0, status=None, redirect=30,
                 raise_on_redirect=True, raise_on_status=False, respect_retry_after_header=False)


def parse_links(value: str | None) -> dict[str, dict[str, str]]:
    """A Link header as ``{rel: {"url": ..., "rel": ...}}``. A registered relation type is keyed in
    lower case (RFC 8288 compares them without case: ``rel="Next"`` is the next page; it ended
    paging after the first page); an extension type (a URI) as written."""
    links: dict[str, dict[str, str]] = {}
    text = value or ""
    pos = 0
    while (target := _TARGET.search(text, pos)) is not None:
        pos, rel = target.end(), None
        while (param := _PARAM.match(text, pos)) is not None:
            pos = param.end()
            raw = param.group(2) or ""
            if rel is None and param.group(1).lower() == "rel":  # the first rel counts (RFC 8288)
                rel = _ESCAPED.sub(r"\1", raw[1:-1]) if raw.startswith('"') else raw.strip()
        for name in (rel or "").split():
            links[name if ":" in name else name.lower()] = {"url": target.group(1).strip(), "rel": name}
    return links


def server_clock_offset(date: str | None, received: float) -> float | None:
    """The server's clock minus ours, at least (seconds; negative: the server is behind), from a
    ``Date`` header: the server wrote it (rounded down to the second) before we ``received`` the
    answer. None without a usable header. (A bookmark may not pass the moment a listing began on the
    clock that stamps the records, whatever this machine's clock says: tap-hubspot, tap-stripe.)"""
    if not date:
        return None
    try:
        dated = parsedate_to_datetime(date)
    except (TypeError, ValueError):
        return None
    return None if dated.tzinfo is None else dated.timestamp() - received


@dataclass(slots=True)
class Response:
    """One complete answer: the body is read (and decompressed) before ``send`` returns."""

    status: int
    headers: Mapping[str, str]  # case-insensitive
    content: bytes
    url: str
    elapsed: float = 0.0  # seconds
    reason: str = ""
    _links: dict[str, dict[str, str]] | None = field(default=None, repr=False)

    @property
    def links(self) -> dict[str, dict[str, str]]:
        if self._links is None:
            self._links = parse_links(self.headers.get("Link"))
        return self._links

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


class Transport(Protocol):
    def send(self, method: str, url: str, headers: Mapping[str, str], params: Mapping[str, Any] | None = None,
             body: bytes | None = None, timeout: tuple[float, float] | None = None) -> Response:
        """Send one request and read the whole answer; raise the backend's own errors."""

    def close(self) -> None:
        """Release every connection."""


def ca_bundle(environ: Mapping[str, str] = os.environ) -> str | None:
    """The CA bundle (file or directory) TLS is verified against; None: the system's."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        if environ.get(name):
            return environ[name]
    try:
        import certifi
    except ImportError:  # pragma: no cover - certifi is normally installed
        return None
    return str(certifi.where())


def with_params(url: str, params: Mapping[str, Any] | None) -> str:
    """``url`` with ``params`` appended to its query (None values left out, lists repeated)."""
    if not params:
        return url
    query = urlencode([(k, v) for k, v in params.items() if v is not None], doseq=True)
    if not query:
        return url
    url, _, fragment = url.partition("#")
    joined = f"{url}&{query}" if "?" in url else f"{url}?{query}"
    return f"{joined}#{fragment}" if fragment else joined


class Urllib3Transport:
    """The default transport. ``pool_size`` connections are kept per host."""

    def __init__(self, pool_size: int = 10, timeout: tuple[float, float] = (10.0, 300.0),
                 environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.ca_certs = ca_bundle(env)
        self.proxies = {k: v for k, v in getproxies().items() if v} if environ is None else {}
        self.timeout = urllib3.Timeout(connect=timeout[0], read=timeout[1])
        self._pool_kwargs: dict[str, Any] = {"num_pools": pool_size, "maxsize": pool_size,
                                             "cert_reqs": "CERT_REQUIRED", "timeout": self.timeout}
        if self.ca_certs and os.path.isdir(self.ca_certs):
            self._pool_kwargs["ca_cert_dir"] = self.ca_certs
        elif self.ca_certs:
            self._pool_kwargs["ca_certs"] = self.ca_certs
        self.pool = urllib3.PoolManager(**self._pool_kwargs)
        self._proxy_pools: dict[str, urllib3.ProxyManager] = {}
        self._proxy_by_host: dict[tuple[str, str], str | None] = {}

    def proxy_for(self, url: str) -> str | None:
        """The proxy URL a request to ``url`` goes through (the environment's rules, NO_PROXY included)."""
        if not self.proxies:
            return None
        split = urlsplit(url)
        key = (split.scheme, split.netloc)
        if key not in self._proxy_by_host:
            proxy = self.proxies.get(split.scheme) or self.proxies.get("all")
            if proxy and proxy_bypass(split.hostname or ""):
                proxy = None
            self._proxy_by_host[key] = proxy
        return self._proxy_by_host[key]

    def _manager(self, url: str) -> urllib3.PoolManager:
        proxy = self.proxy_for(url)
        if proxy is None:
            return self.pool
        manager = self._proxy_pools.get(proxy)
        if manager is None:
            if "://" not in proxy:
                proxy = "http://" + proxy
            split = urlsplit(proxy)
            headers = None
            if split.username:
                userinfo = f"{unquote(split.username)}:{unquote(split.password or '')}"
                headers = make_headers(proxy_basic_auth=userinfo)
            manager = urllib3.ProxyManager(proxy, proxy_headers=headers, **self._pool_kwargs)
            self._proxy_pools[proxy] = manager
        return manager

    def send(self, method: str, url: str, headers: Mapping[str, str], params: Mapping[str, Any] | None = None,
             body: bytes | None = None, timeout: tuple[float, float] | None = None) -> Response:
        full = with_params(url, params)
        started = time.perf_counter()
        # everything but the neutral headers stays behind on a redirect to another origin
        private = [name for name in headers if name.lower() not in NEUTRAL_HEADERS]
        retries = _RETRIES.new(remove_headers_on_redirect=private) if private else _RETRIES
        raw = self._manager(full).urlopen(
            method, full, body=body, headers=headers, retries=retries, redirect=True, preload_content=True,
            decode_content=True,
            timeout=self.timeout if timeout is None else urllib3.Timeout(connect=timeout[0], read=timeout[1]))
        final = full
        if raw.retries is not None:
            for step in raw.retries.history:  # the redirects followed, if any
                if step.redirect_location:
                    final = urljoin(final, step.redirect_location)
        return Response(raw.status, raw.headers, raw.data, final, time.perf_counter() - started, raw.reason or "")

    def close(self) -> None:
        self.pool.clear()
        for manager in self._proxy_pools.values():
            manager.clear()
        self._proxy_pools.clear()
