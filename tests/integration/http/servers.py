"""A fake API on loopback that behaves like the real ones: GitHub-shaped JSON with Link headers,
``since``, rate-limit headers, bearer/token auth and an OAuth2 token endpoint, plus generic REST
listings (offset, cursor, page number, Link). Faults are scripted per path; every request is logged.

    with FakeApi() as api:            # ThreadingHTTPServer on 127.0.0.1, port 0, in a thread
        api.add_repo("octo/hello", issues=250)
        api.fail("/repos/octo/hello/issues", 502, 502)   # the next two requests there fail
        ... api.url ... api.requests("/repos/octo/hello/issues")
"""

from __future__ import annotations

import base64
import bisect
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import orjson

BASE_TIME = datetime(2024, 1, 1, tzinfo=UTC)
TOKEN = "ghp_good_token_123"


class _Tail(Sequence[Any]):
    """``rows[start:]`` without copying it (what a listing's pages are sliced from)."""

    def __init__(self, rows: list[Any], start: int) -> None:
        self.rows, self.start = rows, start

    def __len__(self) -> int:
        return len(self.rows) - self.start

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            begin, end, step = index.indices(len(self))
            return self.rows[self.start + begin:self.start + end:step]
        return self.rows[self.start + range(len(self))[index]]


def iso(minutes: int) -> str:
    return (BASE_TIME + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def user(n: int) -> dict[str, Any]:
    login = f"user{n}"
    return {"login": login, "id": 1000 + n, "node_id": f"MDQ6VXNlcj{n}", "type": "User", "site_admin": False,
            "avatar_url": f"https://avatars.example/u/{n}", "html_url": f"https://github.example/{login}"}


@dataclass
class Logged:
    method: str
    path: str
    query: dict[str, str]
    auth: str | None
    status: int
    at: float


@dataclass
class Repo:
    full_name: str
    id: int
    issues: list[dict[str, Any]] = field(default_factory=list)
    pulls: list[dict[str, Any]] = field(default_factory=list)
    commits: list[dict[str, Any]] = field(default_factory=list)
    comments: list[dict[str, Any]] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        owner, name = self.full_name.split("/")
        return {"id": self.id, "node_id": f"R_{self.id}", "name": name, "full_name": self.full_name,
                "owner": {"login": owner, "id": self.id * 7, "type": "Organization"}, "private": False,
                "description": f"The {name} repository", "fork": False, "created_at": iso(0),
                "updated_at": iso(10), "pushed_at": iso(20), "stargazers_count": 42, "watchers_count": 42,
                "forks_count": 3, "open_issues_count": len(self.issues), "default_branch": "main",
                "language": "Python", "topics": ["singer", "etl"], "archived": False, "size": 1234}


def make_issue(repo: Repo, n: int, updated: int) -> dict[str, Any]:
    base = f"https://api.github.example/repos/{repo.full_name}"
    return {"url": f"{base}/issues/{n}", "id": repo.id * 100_000 + n, "node_id": f"I_{repo.id}_{n}", "number": n,
            "title": f"Issue number {n} in {repo.full_name}", "user": user(n % 17), "labels": [
                {"id": 7, "name": "bug", "color": "d73a4a", "default": True}] if n % 3 == 0 else [],
            "state": "open" if n % 4 else "closed", "locked": False, "assignee": None, "assignees": [],
            "comments": n % 5, "created_at": iso(n), "updated_at": iso(updated), "closed_at": None,
            "author_association": "CONTRIBUTOR", "body": f"Body of issue {n}. " * 4, "html_url": f"{base}/{n}"}


class FakeApi:
    def __init__(self, *, per_page_max: int = 100, rate_limit: int | None = None) -> None:
        self.repos: dict[str, Repo] = {}
        self.tokens: set[str] = {TOKEN}
        self.clients = {"client-1": "secret-1"}
        self.refresh_tokens = {"refresh-1"}
        self.token_lifetime = 3600
        self.per_page_max = per_page_max
        self.rate_limit = rate_limit
        self._remaining = rate_limit or 0
        self._reset = 0
        self.slow_seconds = 2.0
        self.log: list[Logged] = []
        self.items: list[dict[str, Any]] = [
            {"id": i, "name": f"item {i}", "price": i * 1.5, "updated_at": iso(i)} for i in range(1, 251)]
        self._faults: dict[str, list[tuple[int, dict[str, str]]]] = {}
        self._lock = threading.Lock()
        self._issued = 0
        self._views: dict[tuple[Any, ...], list[Any]] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()

    # -- set-up ----------------------------------------------------------------------------

    def add_repo(self, full_name: str, *, issues: int = 0, pulls: int = 0, commits: int = 0,
                 comments: int = 0) -> Repo:
        repo = Repo(full_name, id=len(self.repos) + 1)
        repo.issues = [make_issue(repo, n, updated=n) for n in range(1, issues + 1)]
        repo.pulls = [{**make_issue(repo, n, updated=n), "id": repo.id * 200_000 + n, "merged_at": None,
                       "head": {"ref": f"feature-{n}", "sha": f"{n:040x}"}, "base": {"ref": "main"}, "draft": False}
                      for n in range(1, pulls + 1)]
        repo.commits = [{"sha": f"{repo.id:08x}{n:032x}", "node_id": f"C_{repo.id}_{n}", "url": f"/commits/{n}",
                         "commit": {"message": f"commit {n}", "author": {"name": "A", "email": "a@x", "date": iso(n)},
                                    "committer": {"name": "C", "email": "c@x", "date": iso(n)}},
                         "author": user(n % 5), "committer": user(n % 5), "parents": []}
                        for n in range(1, commits + 1)]
        repo.comments = [{"id": repo.id * 300_000 + n, "node_id": f"IC_{repo.id}_{n}", "body": f"comment {n}",
                          "user": user(n % 7), "created_at": iso(n), "updated_at": iso(n),
                          "issue_url": f"/issues/{n % max(1, issues) + 1}", "author_association": "NONE"}
                         for n in range(1, comments + 1)]
        self.repos[full_name] = repo
        with self._lock:
            self._views.clear()
        return repo

    def touch_issues(self, full_name: str, numbers: list[int], minutes: int) -> None:
        """Update some issues: their updated_at moves to ``minutes`` after the base time."""
        for issue in self.repos[full_name].issues:
            if issue["number"] in numbers:
                issue["updated_at"] = iso(minutes)
        with self._lock:
            self._views.clear()

    def fail(self, path: str, *statuses: int, headers: dict[str, str] | None = None) -> None:
        """The next requests to ``path`` answer with these statuses, in order."""
        with self._lock:
            self._faults.setdefault(path, []).extend((s, dict(headers or {})) for s in statuses)

    def requests(self, path: str | None = None, method: str = "GET") -> list[Logged]:
        with self._lock:
            return [r for r in self.log if (path is None or r.path == path) and r.method == method]

    def since_values(self, path: str) -> list[str | None]:
        """The ``since`` of each listing started at ``path`` (first pages; later pages repeat it)."""
        return [r.query.get("since") for r in self.requests(path) if "page" not in r.query]

    # -- request handling (server threads) -------------------------------------------------

    def handle(self, h: BaseHTTPRequestHandler, method: str, body: bytes) -> tuple[int, dict[str, str], Any]:
        split = urlsplit(h.path)
        path, query = split.path, {k: v[-1] for k, v in parse_qs(split.query).items()}
        auth = h.headers.get("Authorization")
        with self._lock:
            faults = self._faults.get(path)
            fault = faults.pop(0) if faults else None
        if fault is not None:
            status, headers = fault
            return status, headers, {"message": f"scripted failure {status}"}
        if path == "/oauth/token":
            return self._token(h, body)
        if path == "/slow":
            time.sleep(self.slow_seconds)
            return 200, {}, [{"id": 1}]
        if path == "/redirect":  # 302 to ?to= (a redirect to itself loops)
            target = query.get("to", "/")
            return 302, {"Location": target + ("?to=/redirect" if target == "/redirect" else "")}, {}
        if path.startswith("/api/"):
            if query.get("api_key") not in (None, "k-123") or h.headers.get("X-API-Key") not in (None, "k-123"):
                return 401, {}, {"error": "invalid api key"}
            return self._rest(path, query, h)
        token = auth.split(" ", 1)[1] if auth and " " in auth else None
        if token not in self.tokens:
            return 401, {}, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}
        limited = self._rate_limit()
        if limited is not None:
            return limited
        return self._github(path, query)

    def _rate_limit(self) -> tuple[int, dict[str, str], Any] | None:
        if self.rate_limit is None:
            return None
        with self._lock:
            now = time.time()
            if self._remaining <= 0 and now >= self._reset:
                self._remaining = self.rate_limit
            if self._remaining <= 0:
                return 403, self._rate_headers(), {"message": "API rate limit exceeded"}
            self._remaining -= 1
            if self._remaining == 0:
                self._reset = int(now) + 1
        return None

    def _rate_headers(self) -> dict[str, str]:
        if self.rate_limit is None:
            return {}
        return {"X-RateLimit-Limit": str(self.rate_limit), "X-RateLimit-Remaining": str(max(0, self._remaining)),
                "X-RateLimit-Reset": str(self._reset or int(time.time()) + 3600)}

    def _token(self, h: BaseHTTPRequestHandler, body: bytes) -> tuple[int, dict[str, str], Any]:
        form = {k: v[-1] for k, v in parse_qs(body.decode()).items()}
        basic = h.headers.get("Authorization", "")
        cid, _, secret = base64.b64decode(basic[6:]).decode().partition(":") if basic.startswith("Basic ") else ("",
                                                                                                                "", "")
        if self.clients.get(cid) != secret:
            return 401, {}, {"error": "invalid_client", "error_description": "client authentication failed"}
        grant = form.get("grant_type")
        if grant == "refresh_token" and form.get("refresh_token") not in self.refresh_tokens:
            return 400, {}, {"error": "invalid_grant", "error_description": "refresh token is invalid"}
        if grant not in ("client_credentials", "refresh_token"):
            return 400, {}, {"error": "unsupported_grant_type"}
        with self._lock:
            self._issued += 1
            token = f"access-{self._issued}"
            self.tokens.add(token)
        return 200, {}, {"access_token": token, "token_type": "bearer", "expires_in": self.token_lifetime}

    def expire_tokens(self) -> None:
        """Every OAuth2 access token issued so far stops working (as when it expires)."""
        with self._lock:
            self.tokens = {t for t in self.tokens if not t.startswith("access-")}

    # -- GitHub ----------------------------------------------------------------------------

    def _github(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        if path == "/user":
            return 200, self._rate_headers(), user(1)
        parts = path.strip("/").split("/")
        if len(parts) < 3 or parts[0] != "repos" or f"{parts[1]}/{parts[2]}" not in self.repos:
            return 404, self._rate_headers(), {"message": "Not Found"}
        repo = self.repos[f"{parts[1]}/{parts[2]}"]
        rest = "/".join(parts[3:])
        since = query.get("since")
        if rest == "":
            return 200, self._rate_headers(), repo.record()
        if rest == "issues":
            rows = self._ordered(repo.issues, "updated_at", query, since)
        elif rest == "pulls":
            rows = self._ordered(repo.pulls, "updated_at", query, None)
        elif rest == "commits":
            rows = sorted((c for c in repo.commits if since is None or c["commit"]["committer"]["date"] >= since),
                          key=lambda c: c["commit"]["committer"]["date"], reverse=True)
        elif rest == "issues/comments":
            rows = self._ordered(repo.comments, "updated_at", query, since)
        else:
            return 404, self._rate_headers(), {"message": "Not Found"}
        return self._paged(path, query, rows)

    def _ordered(self, rows: list[dict[str, Any]], key: str, query: dict[str, str],
                 since: str | None) -> Sequence[Any]:
        """``rows`` with ``key`` >= ``since``, sorted by it (then id). The whole sorted listing is
        cached between changes and a ``since`` is a range of it, found by bisection, not a copy: a
        tap that asks a new ``since`` for each page must not make this server the bottleneck."""
        desc = query.get("direction") == "desc"
        cache_key = (id(rows), key, desc)
        with self._lock:
            cached = self._views.get(cache_key)
        if cached is None:
            cached = sorted(rows, key=lambda r: (r[key], r["id"]), reverse=desc)
            with self._lock:
                self._views[cache_key] = cached
        if since is None:
            return cached
        if desc:
            return [r for r in cached if r[key] >= since]
        return _Tail(cached, bisect.bisect_left(cached, since, key=lambda r: r[key]))

    def _paged(self, path: str, query: dict[str, str], rows: Sequence[Any]) -> tuple[int, dict[str, str], Any]:
        per_page = min(int(query.get("per_page", 30)), self.per_page_max)
        page = int(query.get("page", 1))
        last = max(1, -(-len(rows) // per_page))
        headers = self._rate_headers()
        links = []
        if page < last:
            links.append(f'<{self.url}{path}?{urlencode({**query, "page": page + 1})}>; rel="next"')
            links.append(f'<{self.url}{path}?{urlencode({**query, "page": last})}>; rel="last"')
        if links:
            headers["Link"] = ", ".join(links)
        return 200, headers, rows[(page - 1) * per_page: page * per_page]

    # -- generic REST ----------------------------------------------------------------------

    def _rest(self, path: str, query: dict[str, str], h: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], Any]:
        since = query.get("updated_since")
        rows = self.items if since is None else [r for r in self.items if r["updated_at"] >= since]
        if path == "/api/offset":
            offset, limit = int(query.get("offset", 0)), int(query.get("limit", 10))
            return 200, {}, {"data": rows[offset: offset + limit], "total": len(rows)}
        if path == "/api/cursor":
            start, limit = int(query.get("cursor", 0)), int(query.get("limit", 25))
            nxt = start + limit if start + limit < len(rows) else None
            return 200, {}, {"results": rows[start: start + limit], "meta": {"next_cursor": nxt}}
        if path == "/api/pages":
            page, size = int(query.get("page", 1)), int(query.get("per_page", 20))
            return 200, {}, rows[(page - 1) * size: page * size]
        if path == "/api/link":
            return self._paged(path, query, rows)
        return 404, {}, {"error": "no such endpoint"}


def _handler(api: FakeApi) -> Callable[..., BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body leave at once: no 40 ms delayed-ACK stall
        wbufsize = 1 << 16

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            split = urlsplit(self.path)
            entry = Logged(method, split.path, {k: v[-1] for k, v in parse_qs(split.query).items()},
                           self.headers.get("Authorization"), 0, time.time())
            with api._lock:
                api.log.append(entry)  # logged on arrival (status 0 until answered)
            if split.path in ("/drop", "/truncated"):
                self._break(split.path)
                return
            try:
                status, headers, payload = api.handle(self, method, body)
            except ValueError as exc:  # a malformed parameter, as a real API would answer it
                status, headers, payload = 400, {}, {"message": f"bad request: {exc}"}
            entry.status = status
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
                pass  # the client gave up (a timeout test)

        def _break(self, path: str) -> None:
            """/drop closes the connection without an answer; /truncated cuts the body short."""
            self.close_connection = True
            if path == "/truncated":
                self.send_response(200)
                self.send_header("Content-Length", "1000")
                self.end_headers()
                self.wfile.write(b'[{"id": 1}')
                self.wfile.flush()

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

    return Handler


def main() -> None:
    """Serve the fake API until interrupted (for benchmarks): prints its URL and the token."""
    import argparse

    parser = argparse.ArgumentParser(description="The loopback fake API (GitHub-shaped and generic REST).")
    parser.add_argument("--repo", action="append", default=[], help="owner/name (repeatable)")
    parser.add_argument("--issues", type=int, default=20_000, help="issues per repository")
    parser.add_argument("--items", type=int, default=20_000, help="records of the /api/* listings")
    parser.add_argument("--rate-limit", type=int, default=None, help="GitHub-style requests per window")
    args = parser.parse_args()
    api = FakeApi(rate_limit=args.rate_limit)
    for name in args.repo or ["octo/hello"]:
        api.add_repo(name, issues=args.issues)
    api.items = [{"id": i, "name": f"item {i}", "price": i * 1.5, "updated_at": iso(i)}
                 for i in range(1, args.items + 1)]
    with api:
        sys.stdout.write(f"{api.url} {TOKEN}\n")
        sys.stdout.flush()
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
