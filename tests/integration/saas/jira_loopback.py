"""The HTTP side of the loopback Jira: a ThreadingHTTPServer on 127.0.0.1 (port 0) in a thread, a
log of every request, and faults scripted per path (the next requests there answer these statuses)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

Handled = tuple[int, dict[str, str], Any]


@dataclass
class Logged:
    path: str
    query: dict[str, str]
    status: int
    at: float


class LoopbackApi:
    def __init__(self) -> None:
        self.log: list[Logged] = []
        self._faults: dict[str, list[tuple[int, dict[str, str]]]] = {}
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> LoopbackApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()

    def fail(self, path: str, *statuses: int, headers: dict[str, str] | None = None) -> None:
        """The next requests to ``path`` answer ``statuses`` (with a Jira error body), one each."""
        with self._lock:
            self._faults.setdefault(path, []).extend((s, dict(headers or {})) for s in statuses)

    def requests(self, path: str | None = None) -> list[Logged]:
        with self._lock:
            return [r for r in self.log if path is None or r.path == path]

    def route(self, path: str, query: dict[str, str], authorization: str | None) -> Handled:
        raise NotImplementedError

    def handle(self, path: str, query: dict[str, str], authorization: str | None) -> Handled:
        with self._lock:
            faults = self._faults.get(path)
            fault = faults.pop(0) if faults else None
        if fault is not None:
            status, headers = fault
            text = {429: "Rate limit exceeded.", 404: "Issue does not exist or you do not have permission to see it."
                    }.get(status, "Internal server error")
            return status, headers, {"errorMessages": [text], "errors": {}}
        return self.route(path, query, authorization)


def _handler(api: LoopbackApi) -> Callable[..., BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True
        wbufsize = 1 << 16

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            split = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(split.query).items()}
            entry = Logged(split.path, query, 0, time.time())
            with api._lock:
                api.log.append(entry)
            try:
                status, headers, payload = api.handle(split.path, query, self.headers.get("Authorization"))
            except (ValueError, KeyError) as exc:  # a malformed parameter, as Jira answers it
                status, headers, payload = 400, {}, {"errorMessages": [f"Bad request: {exc}"], "errors": {}}
            entry.status = status
            data = orjson.dumps(payload)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

    return Handler
