"""A Linear-shaped GraphQL API on loopback: one POST endpoint (/graphql), Linear's auth (a personal
API key as the Authorization header as it is, an OAuth token as ``Bearer``), relay pagination
(``first`` up to 250, ``after`` = an opaque keyset cursor), ``orderBy: updatedAt`` (newest first),
``filter: {updatedAt: {gt: ...}}`` (or ``gte``), ``includeArchived``, ``users``' ``includeDisabled`` (deactivated
users, ``active: false``, are left out without it, as on Linear), its rate-limit headers and its error bodies
(``{"errors": [{"message", "extensions": {"code", "type", "userPresentableMessage"}}]}``).

It is no GraphQL engine: it reads the root field, its arguments and the selection set from the
query text, and answers what was selected (an unknown field is a validation error, as on Linear).

    with LinearApi() as api:
        api.seed(issues=300)
        api.fail("issues", "ratelimited")   # the next issues query is rate limited
        ... api.url ... api.queries("issues")
"""

from __future__ import annotations

import base64
import functools
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from tests.integration.saas.linear_data import ROOTS, seed_data

API_KEY = "lin_api_good_key_123"
OAUTH_TOKEN = "lin_oauth_good_token_456"
MAX_FIRST = 250
LIMIT = 1500

_ROOT = re.compile(r"\{\s*(\w+)\s*(\(|\{)")
_TOKEN = re.compile(r"[A-Za-z_]\w*|[{}()]|\"(?:[^\"\\]|\\.)*\"|[^\s\w{}()]")


@dataclass
class Query:
    root: str
    variables: dict[str, Any]
    authorization: str | None
    status: int = 0


def _err(message: str, code: str, kind: str, *, data: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"errors": [{"message": message, "extensions": {
        "code": code, "type": kind, "userPresentableMessage": message}}]}
    body["data"] = data
    return body


def parse_selection(tokens: list[str], pos: int) -> tuple[dict[str, Any], int]:
    """``{ a b { c } d(x: 1) { e } }`` from ``tokens[pos] == "{"``: ``{a: None, b: {c: None}, d: {e: None}}``."""
    assert tokens[pos] == "{"
    pos += 1
    out: dict[str, Any] = {}
    while tokens[pos] != "}":
        name = tokens[pos]
        pos += 1
        if tokens[pos] == "(":  # arguments of a field: skipped
            depth = 0
            while True:
                depth += {"(": 1, ")": -1}.get(tokens[pos], 0)
                pos += 1
                if depth == 0:
                    break
        if tokens[pos] == "{":
            out[name], pos = parse_selection(tokens, pos)
        else:
            out[name] = None
    return out, pos + 1


@functools.lru_cache(maxsize=64)
def _root_args(query: str, root: str) -> tuple[str, dict[str, Any]]:
    """The argument text of the root field and its selection set (a client sends one text per stream)."""
    start = query.index(root, _ROOT.search(query).start())  # type: ignore[union-attr]
    rest = query[start + len(root):].lstrip()
    args = ""
    if rest.startswith("("):
        depth, end = 0, 0
        while True:
            depth += {"(": 1, ")": -1}.get(rest[end], 0)
            if depth == 0:
                break
            end += 1
        args, rest = rest[1:end], rest[end + 1:]
    tokens = _TOKEN.findall(rest)
    selection, _ = parse_selection(tokens, 0)
    return args, selection


def _arg(args: str, name: str, variables: dict[str, Any]) -> Any:
    m = re.search(rf"\b{name}\s*:\s*(\$\w+|\"[^\"]*\"|[\w.]+)", args)
    if m is None:
        return None
    raw = m.group(1)
    if raw.startswith("$"):
        return variables.get(raw[1:])
    if raw.startswith('"'):
        return raw[1:-1]
    if raw in ("true", "false"):
        return raw == "true"
    return int(raw) if raw.isdigit() else raw


def _updated_since(args: str, variables: dict[str, Any]) -> tuple[str, Any]:
    """The comparator (``gt`` or ``gte``) and time of ``filter: $f`` (``$f.updatedAt``) or of an
    inline ``filter: {updatedAt: {gt: $v}}``; ``("gt", None)`` without one."""
    m = re.search(r"\bfilter\s*:\s*\$(\w+)", args)
    if m:
        spec = variables.get(m.group(1)) or {}
        updated = (spec.get("updatedAt") or {}) if isinstance(spec, dict) else {}
        return ("gte", updated["gte"]) if "gte" in updated else ("gt", updated.get("gt"))
    m = re.search(r"updatedAt\s*:\s*\{\s*(gte?)\s*:\s*(\$\w+|\"[^\"]*\")", args)
    if m is None:
        return "gt", None
    raw = m.group(2)
    return m.group(1), variables.get(raw[1:]) if raw.startswith("$") else raw.strip('"')


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def project(record: dict[str, Any], selection: dict[str, Any], typename: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, sub in selection.items():
        if name == "__typename":
            out[name] = typename
            continue
        if name not in record:
            raise KeyError(f'Cannot query field "{name}" on type "{typename}".')
        value = record[name]
        out[name] = project(value, sub, name) if sub is not None and isinstance(value, dict) else value
    return out


class LinearApi:
    def __init__(self, *, requests_limit: int = LIMIT) -> None:
        self.data: dict[str, list[dict[str, Any]]] = {root: [] for root in ROOTS}
        self.log: list[Query] = []
        self.requests_limit = requests_limit
        self.remaining = requests_limit
        self.reset_seconds = 0.3
        self._window_end = 0.0
        self._faults: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self._views: dict[tuple[Any, ...], tuple[list[dict[str, Any]], dict[str, int]]] = {}
        self._encoded: dict[tuple[Any, ...], bytes] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/graphql"

    def __enter__(self) -> LinearApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()

    # -- set-up ----------------------------------------------------------------------------

    def seed(self, **counts: int) -> None:
        self.data = seed_data(**counts)
        self._views.clear()
        self._encoded.clear()

    def touch(self, root: str, ids: list[str], at: str) -> None:
        """Update these records (``updatedAt`` = ``at``), as an edit in Linear would."""
        with self._lock:
            for record in self.data[root]:
                if record["id"] in ids:
                    record["updatedAt"] = at
                    record["title" if root == "issues" else "name"] += " (edited)"
            self._views.clear()
            self._encoded.clear()

    def deactivate(self, user_id: str, at: str) -> None:
        """Deactivate a user (``active: false``, ``updatedAt`` = ``at``), as a workspace admin would."""
        with self._lock:
            record = next(r for r in self.data["users"] if r["id"] == user_id)
            record.update(active=False, disableReason="deactivated by an admin", updatedAt=at)
            self._views.clear()
            self._encoded.clear()

    def fail(self, root: str, *kinds: str) -> None:
        """The next queries of ``root`` fail: ratelimited (HTTP 400), ratelimited200, auth, partial,
        validation, 500."""
        self._faults.setdefault(root, []).extend(kinds)

    def queries(self, root: str | None = None) -> list[Query]:
        return [q for q in self.log if root is None or q.root == root]

    # -- answering ---------------------------------------------------------------------------

    def _spend(self) -> bool:
        """One request from the budget (a window of ``reset_seconds``); False when none is left."""
        now = time.time()
        if now >= self._window_end:
            self._window_end, self.remaining = now + self.reset_seconds, self.requests_limit
        if self.remaining <= 0:
            return False
        self.remaining -= 1
        return True

    def _headers(self) -> dict[str, str]:
        reset_ms = int(self._window_end * 1000)
        return {"X-RateLimit-Requests-Limit": str(self.requests_limit),
                "X-RateLimit-Requests-Remaining": str(max(0, self.remaining)),
                "X-RateLimit-Requests-Reset": str(reset_ms),
                "X-Complexity": "120", "X-RateLimit-Complexity-Limit": "3000000",
                "X-RateLimit-Complexity-Remaining": "2999880", "X-RateLimit-Complexity-Reset": str(reset_ms)}

    def handle(self, authorization: str | None, body: bytes) -> tuple[int, dict[str, str], Any]:
        try:
            payload = orjson.loads(body)
            text, variables = payload["query"], payload.get("variables") or {}
            root_match = _ROOT.search(text)
            root = root_match.group(1) if root_match else ""
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return 400, {}, _err("Must provide query string.", "BAD_USER_INPUT", "invalid input")
        entry = Query(root, variables, authorization)
        with self._lock:
            self.log.append(entry)
        status, headers, answer = self._answer(entry, text)
        entry.status = status
        return status, headers, answer

    def _authorized(self, authorization: str | None) -> bool:
        return authorization in (API_KEY, f"Bearer {OAUTH_TOKEN}")

    def _answer(self, q: Query, text: str) -> tuple[int, dict[str, str], Any]:
        if not self._authorized(q.authorization):
            return 400, {}, _err("Authentication required, not authenticated", "AUTHENTICATION_ERROR",
                                 "authentication error")
        with self._lock:
            fault = self._faults.get(q.root, []).pop(0) if self._faults.get(q.root) else None
            if not self._spend():
                fault = "ratelimited"
            headers = self._headers()
        if fault in ("ratelimited", "ratelimited200"):
            headers["X-RateLimit-Requests-Remaining"] = "0"
            return (400 if fault == "ratelimited" else 200), headers, _err(
                "Rate limit exceeded", "RATELIMITED", "ratelimited")
        if fault == "auth":
            return 400, headers, _err("Authentication required, not authenticated", "AUTHENTICATION_ERROR",
                                      "authentication error")
        if fault == "500":
            return 500, headers, _err("Internal server error", "INTERNAL_SERVER_ERROR", "internal error")
        if q.root == "viewer":
            return 200, headers, {"data": {"viewer": {"id": "u-me", "name": "Ada", "email": "ada@example.com",
                                                      "organization": {"name": "Acme"}}}}
        if q.root not in self.data:
            return 400, headers, _err(f'Cannot query field "{q.root}" on type "Query".',
                                      "GRAPHQL_VALIDATION_FAILED", "graphql error")
        try:
            body = self._connection(q, text)
        except (KeyError, ValueError) as exc:
            return 400, headers, _err(str(exc).strip("'\""), "GRAPHQL_VALIDATION_FAILED", "graphql error")
        if fault == "partial":
            data = orjson.loads(body)["data"]
            return 200, headers, {"data": data, "errors": [
                {"message": "Entity not found: Project", "path": [q.root, "nodes", 0, "project"],
                 "extensions": {"code": "INVALID_INPUT", "type": "invalid input"}}]}
        return 200, headers, orjson.Fragment(body)

    def _view(self, root: str, order: str, since: tuple[str, Any], archived: bool,
              disabled: bool) -> tuple[list[dict[str, Any]], dict[str, int]]:
        key = (root, order, since, archived, disabled)
        with self._lock:
            cached = self._views.get(key)
            if cached is None:
                rows = [r for r in self.data[root] if (archived or r.get("archivedAt") is None)
                        and (disabled or r.get("active") is not False)]
                if since[1] is not None:
                    keep = datetime.__ge__ if since[0] == "gte" else datetime.__gt__
                    bound = _parse_time(since[1])
                    rows = [r for r in rows if keep(_parse_time(r["updatedAt"]), bound)]
                rows.sort(key=lambda r: (r[order], r["id"]), reverse=True)  # newest first, as Linear
                cached = self._views[key] = (rows, {r["id"]: i for i, r in enumerate(rows)})
            return cached

    def _connection(self, q: Query, text: str) -> bytes:
        args, selection = _root_args(text, q.root)
        first = _arg(args, "first", q.variables)
        first = 50 if first is None else int(first)
        if not 0 < first <= MAX_FIRST:
            raise ValueError(f"first: must be between 1 and {MAX_FIRST}, got {first}")
        order = _arg(args, "orderBy", q.variables) or "createdAt"
        if order not in ("createdAt", "updatedAt"):
            raise ValueError(f'Value "{order}" does not exist in "PaginationOrderBy" enum.')
        since = _updated_since(args, q.variables)
        rows, index = self._view(q.root, order, since, bool(_arg(args, "includeArchived", q.variables)),
                                 bool(_arg(args, "includeDisabled", q.variables)))
        after = _arg(args, "after", q.variables)
        start = 0
        if after:
            try:
                last_id = orjson.loads(base64.b64decode(after))[1]
            except (ValueError, IndexError, TypeError) as exc:
                raise ValueError(f"Argument Validation Error: after cursor {after!r} is invalid") from exc
            start = index[last_id] + 1 if last_id in index else 0
        page = rows[start:start + first]
        has_next = start + first < len(rows)
        end = base64.b64encode(orjson.dumps([page[-1][order], page[-1]["id"]])).decode() if page else None
        info = {"hasNextPage": has_next, "endCursor": end}
        sel_key = text
        nodes = selection.get("nodes")
        encoded = b",".join(self._encode(q.root, sel_key, r, nodes) for r in page) if nodes is not None else b""
        parts = []
        for name, sub in selection.items():
            if name == "pageInfo":
                parts.append(b'"pageInfo":' + orjson.dumps({k: info[k] for k in (sub or {}) if k in info}))
            elif name == "nodes":
                parts.append(b'"nodes":[' + encoded + b"]")
            elif name == "edges":
                edges = [{"node": project(r, (sub or {}).get("node") or {}, q.root), "cursor": ""} for r in page]
                parts.append(b'"edges":' + orjson.dumps(edges))
            else:
                raise KeyError(f'Cannot query field "{name}" on type "{q.root.capitalize()}Connection".')
        return b'{"data":{"' + q.root.encode() + b'":{' + b",".join(parts) + b"}}}"

    def _encode(self, root: str, sel_key: str, record: dict[str, Any], nodes: dict[str, Any]) -> bytes:
        key = (sel_key, record["id"], record["updatedAt"])
        out = self._encoded.get(key)
        if out is None:
            out = self._encoded[key] = orjson.dumps(project(record, nodes, root.rstrip("s").capitalize()))
        return out


def _handler(api: LinearApi) -> Callable[..., BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True
        wbufsize = 1 << 16

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers: dict[str, str] = {}
            if self.path.split("?")[0] != "/graphql":
                status, payload = 404, {"error": "not found"}
            else:
                status, headers, payload = api.handle(self.headers.get("Authorization"), body)
            data = orjson.dumps(payload)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

    return Handler


def main() -> None:
    """Serve until interrupted (benchmarks): prints ``URL API_KEY`` on its first line."""
    import argparse

    parser = argparse.ArgumentParser(description="The loopback Linear GraphQL API.")
    parser.add_argument("--issues", type=int, default=20_000, help="issues to serve")
    args = parser.parse_args()
    api = LinearApi(requests_limit=10**9)
    api.seed(issues=args.issues)
    for record in api.data["issues"]:
        record["archivedAt"] = None  # every issue is served: a run's record count is --issues
    with api:
        sys.stdout.write(f"{api.url} {API_KEY}\n")
        sys.stdout.flush()
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
