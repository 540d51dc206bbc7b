"""The receiver's ASGI application (Starlette; needs the ``webhooks`` extra).

    POST /hooks/<source>   verify, spool, acknowledge
    GET  /healthz          200 "ok" while the spool is writable, 503 otherwise
    GET  /metrics          Prometheus text (taps/webhook/metrics.py)

A delivery's way through, and what each refusal answers (none of them stores anything):

    unknown source ............................ 404
    media type not in the source's list ....... 415
    body over server.max_body_bytes ........... 413 (from Content-Length, or while reading)
    unsigned / wrong signature / too old ...... 401 (the verifier's reason)
    signed but unusable (no id in the body) ... 400
    signed, but the spool cannot hold it ...... 422 (PostgreSQL: U+0000 in its id or type)
    spool commit failed ....................... 503, Retry-After: 1 (the batch rolled back)
    stored, or already stored (re-delivery) ... 200 {"status": "stored" | "duplicate"}
    Slack url_verification .................... 200 with the challenge, not stored

The 2xx is sent only after the commit holding the delivery returned (fsync'd): see spool.py.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from taps.webhook.metrics import Metrics, RejectionLog
from taps.webhook.providers import Rejected, Verifier, decode_headers
from taps.webhook.settings import SourceSettings, WebhookSettings
from taps.webhook.spool import SpoolError, SpoolWriter, Unstorable

__all__ = ["Receiver", "build_app"]

log = logging.getLogger("sluice.webhook.receiver")

_STORED = b'{"status":"stored"}'
_DUPLICATE = b'{"status":"duplicate"}'
_JSON = [(b"content-type", b"application/json")]
_Reply = tuple[int, bytes, list[tuple[bytes, bytes]]]
_STATUS_OF_REASON = {"unsigned": 401, "bad_signature": 401, "expired": 401, "bad_body": 400}


class _Refused(Exception):
    """Control flow inside the handler (415, 413); it never escapes it."""

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class _Source:
    settings: SourceSettings
    verifier: Verifier


class Receiver:
    """The sources with their verifiers, the spool writer, the metrics; called as the ASGI endpoint
    of ``POST /hooks/<source>``."""

    def __init__(self, settings: WebhookSettings, verifiers: Mapping[str, Verifier], writer: SpoolWriter) -> None:
        self.max_body = settings.server.max_body_bytes
        self.sources = {name: _Source(src, verifiers[name]) for name, src in settings.sources.items()}
        self.writer = writer
        self.metrics = Metrics(tuple(self.sources))
        self.rejections = RejectionLog(log)

    def _refuse(self, source: str, status: int, reason: str) -> _Reply:
        self.metrics.rejected[source, reason] += 1
        self.rejections.rejected(source or "(unknown)", reason, status)
        return status, f'{{"error":"{reason}"}}'.encode(), _JSON

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /hooks/<source>`` as an ASGI endpoint under Starlette's routing."""
        await self.hook(scope["path_params"]["source"], scope, receive, send)

    async def hook(self, name: str, scope: Scope, receive: Receive, send: Send) -> None:
        """One delivery to source ``name``: plain ASGI (no Request object or response class on the
        hot path: they cost more per delivery than the rest)."""
        status, body, headers = await self._hook(name, scope, receive)
        await send({"type": "http.response.start", "status": status,
                    "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def _hook(self, name: str, scope: Scope, receive: Receive) -> _Reply:
        source = self.sources.get(name)
        if source is None:
            return self._refuse("", 404, "unknown_source")
        # one pass over the raw headers (the server gives lower-case names): values as UTF-8 text
        # (latin-1 when not UTF-8), their bytes kept for the verifiers (providers/_base.py, Headers)
        headers = decode_headers(scope["headers"])
        self.writer.started()
        try:
            body = await self._read(receive, headers, source.settings)
            now = time.time()
            verified = source.verifier.verify(headers, body, now)
        except _Refused as refused:
            return self._refuse(name, refused.status, refused.reason)
        except Rejected as rejected:
            return self._refuse(name, _STATUS_OF_REASON.get(rejected.reason, 401), rejected.reason)
        finally:
            self.writer.arrived()
        if verified.reply is not None:
            return 200, verified.reply, [(b"content-type", verified.reply_content_type.encode())]
        kept = {h: headers[h] for h in source.settings.keep_headers if h in headers}
        try:
            new = await self.writer.add(name, verified, kept, body, now)
        except Unstorable as exc:  # this delivery alone, never its batch: see spool.Unstorable
            self.metrics.rejected[name, "unstorable"] += 1  # signed by the provider: logged each time, with why
            log.error("source %r: 422 unstorable: a verified delivery cannot be stored: %s", name, exc)
            return 422, b'{"error":"unstorable"}', _JSON
        except SpoolError:
            self.metrics.rejected[name, "spool_error"] += 1
            return 503, b'{"error":"spool_error"}', [*_JSON, (b"retry-after", b"1")]
        if new:
            self.metrics.accepted[name] += 1
            return 200, _STORED, _JSON
        self.metrics.duplicates[name] += 1
        return 200, _DUPLICATE, _JSON

    async def _read(self, receive: Receive, headers: Mapping[str, str], source: SourceSettings) -> bytes:
        media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media not in source.content_types:
            raise _Refused(415, "content_type")
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            raise _Refused(413, "too_large")
        chunks = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":  # the client is gone: nothing to answer, nothing stored
                raise _Refused(400, "disconnected")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise _Refused(413, "too_large")
            chunks.append(chunk)
            more = message.get("more_body", False)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def healthz(self, request: Request) -> Response:
        if not self.writer.running:
            return PlainTextResponse("spool writer stopped\n", 503)
        try:
            await self.writer.stats()
        except SpoolError as exc:
            log.error("health check: %s", exc)
            return PlainTextResponse("spool unavailable\n", 503)
        return PlainTextResponse("ok\n")

    async def metrics_page(self, request: Request) -> Response:
        try:
            stats = await self.writer.stats()
        except SpoolError as exc:
            log.error("metrics: cannot read the spool: %s", exc)
            stats = None
        text = self.metrics.render(stats, self.writer.commits, time.time())
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")


class _Front:
    """The ASGI app Uvicorn calls: ``POST /hooks/<source>`` goes straight to the receiver; every
    other request, and the lifespan, to Starlette. Starlette's middleware and router cost about a
    fifth of a delivery's CPU (two send wrappers, a regular expression per route, a scope copy);
    its own route for the hooks stays, for the 405 of other methods."""

    def __init__(self, receiver: Receiver, app: Starlette) -> None:
        self.receiver = receiver
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            path: str = scope["path"]
            if path.startswith("/hooks/") and len(path) > 7 and "/" not in path[7:]:
                await self.receiver.hook(path[7:], scope, receive, send)
                return
        await self.app(scope, receive, send)


def build_app(receiver: Receiver) -> _Front:
    """The ASGI app; its lifespan opens the spool at start and commits what is queued at stop."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await receiver.writer.start()
        try:
            yield
        finally:
            await receiver.writer.close()
            log.info("spool closed after %d commits of %d deliveries", receiver.writer.commits,
                     receiver.writer.committed)

    return _Front(receiver, Starlette(routes=[
        Route("/hooks/{source}", receiver, methods=["POST"]),
        Route("/healthz", receiver.healthz, methods=["GET"]),
        Route("/metrics", receiver.metrics_page, methods=["GET"]),
    ], lifespan=lifespan))
