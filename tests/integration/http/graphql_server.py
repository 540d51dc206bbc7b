"""A small GraphQL endpoint on loopback for the kit's own tests: one connection, ``widgets``, paged
relay-style (``first``/``after`` variables, ``pageInfo { hasNextPage endCursor }``), answered as
``nodes`` or ``edges`` as the query asks; scripted answers (errors inside a 200, a 4xx or 5xx with
GraphQL errors, partial data, broken paging) and an optional request budget announced in
``X-RateLimit-Requests-Remaining`` / ``-Reset`` (epoch milliseconds), refused with RATELIMITED when
spent before its reset.

    with GraphQLServer(widgets=120) as gql:
        gql.script((200, {"errors": [...], "data": None}, {}))   # the next answer
        ... gql.url ... gql.log
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

Answer = tuple[int, Any, dict[str, str]]


def gql_error(message: str, code: str | None = None, **extra: Any) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, **extra}
    if code is not None:
        error["extensions"] = {"code": code}
    return error


class GraphQLServer:
    def __init__(self, widgets: int = 120, *, budget: int | None = None, window: float = 0.3) -> None:
        self.widgets = [{"id": f"w{i:04d}", "name": f"widget {i}", "size": i % 7} for i in range(widgets)]
        self.log: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        self.budget, self.window = budget, window
        self._left, self._window_end = budget or 0, 0.0
        self._script: list[Answer] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/graphql"

    def __enter__(self) -> GraphQLServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()

    def script(self, *answers: Answer) -> None:
        """The next answers, in order, before the connection is served again."""
        self._script.extend(answers)

    def answer(self, request: dict[str, Any], headers: dict[str, str]) -> Answer:
        with self._lock:
            self.log.append({"payload": request, "headers": headers})
            limits = self._limits()
            if limits.get("refused"):
                return 400, {"data": None, "errors": [gql_error("Rate limit exceeded", "RATELIMITED")]}, limits
            if self._script:
                status, body, extra = self._script.pop(0)
                return status, body, {**limits, **extra}
        variables = request.get("variables") or {}
        first, after = int(variables.get("first") or 50), variables.get("after")
        start = int(after) if after else 0
        page = self.widgets[start:start + first]
        more = start + first < len(self.widgets)
        connection: dict[str, Any] = {"pageInfo": {"hasNextPage": more, "endCursor": str(start + len(page))}}
        if "edges" in request.get("query", ""):
            connection["edges"] = [{"node": w, "cursor": w["id"]} for w in page]
        else:
            connection["nodes"] = page
        return 200, {"data": {"widgets": connection}}, limits

    def _limits(self) -> dict[str, str]:
        if self.budget is None:
            return {}
        now = time.time()
        if now >= self._window_end:
            self._left, self._window_end = self.budget, now + self.window
        refused = self._left <= 0
        self._left -= 0 if refused else 1
        headers = {"X-RateLimit-Requests-Remaining": str(max(self._left, 0)),
                   "X-RateLimit-Requests-Reset": str(int(self._window_end * 1000))}
        return {**headers, "refused": "1"} if refused else headers


def _handler(server: GraphQLServer) -> Callable[..., BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = orjson.loads(self.rfile.read(length)) if length else {}
            status, body, headers = server.answer(request, dict(self.headers.items()))
            headers.pop("refused", None)
            server.statuses.append(status)
            data = body if isinstance(body, bytes) else orjson.dumps(body)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

    return Handler
