"""A GitLab-shaped REST API (v4) on loopback, following GitLab's documented behaviour:

- auth: ``PRIVATE-TOKEN`` header (or ``private_token`` parameter) or ``Authorization: Bearer``; a bad token gets 401
  ``{"message": "401 Unauthorized"}`` (a bad OAuth token ``{"error": "invalid_token", ...}``)
- offset pages: ``page``/``per_page`` (default 20, at most 100), ``X-Page``, ``X-Per-Page``,
  ``X-Next-Page``, ``X-Prev-Page``, ``X-Total``, ``X-Total-Pages`` and a Link header
  (``link_headers=False``: none, as behind proxies that drop it)
- keyset pages on ``/groups/:id/projects`` and ``/users`` (``pagination=keyset&order_by=id``):
  a ``rel="next"`` Link with ``id_after``; ``keyset=False``: HTTP 405, as older instances answer
- ``updated_after`` (issues, merge requests, pipelines; ``order_by=updated_at``) and ``since``
  (commits, newest first), both inclusive
- rate limits: ``RateLimit-Limit/-Observed/-Remaining/-Reset/-ResetTime`` headers; past the limit
  429 ``Retry later`` with ``Retry-After``
- projects by id or URL-encoded path; 404 ``{"message": "404 Project Not Found"}``

    with GitLabApi() as api:
        api.add_project("acme/web", group="acme", issues=250)
        api.fail("/api/v4/projects/1/issues", 502)
"""

from __future__ import annotations

import sys
import threading
import time
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import orjson

BASE_TIME = datetime(2024, 1, 1, tzinfo=UTC)
TOKEN = "glpat-good-token-123"
OAUTH = "oauth-good-token-456"
PREFIX = "/api/v4"
Answer = tuple[int, dict[str, str], Any]


def iso(minutes: int) -> str:
    return (BASE_TIME + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def user(n: int) -> dict[str, Any]:
    return {"id": n, "username": f"user{n}", "name": f"User {n}", "state": "active", "locked": False,
            "avatar_url": f"https://gitlab.example/uploads/u{n}.png", "web_url": f"https://gitlab.example/user{n}"}


@dataclass
class Logged:
    method: str
    path: str
    query: dict[str, str]
    token: str | None
    status: int


@dataclass
class Project:
    id: int
    path: str  # path_with_namespace
    group: str | None
    issues: list[dict[str, Any]] = field(default_factory=list)
    merge_requests: list[dict[str, Any]] = field(default_factory=list)
    commits: list[dict[str, Any]] = field(default_factory=list)
    pipelines: list[dict[str, Any]] = field(default_factory=list)
    users: list[dict[str, Any]] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        namespace, _, name = self.path.rpartition("/")
        return {"id": self.id, "description": f"The {name} project", "name": name.title(),
                "name_with_namespace": f"{namespace} / {name}", "path": name, "path_with_namespace": self.path,
                "created_at": iso(0), "updated_at": iso(5), "last_activity_at": iso(10), "default_branch": "main",
                "tag_list": [], "topics": ["singer"], "ssh_url_to_repo": f"git@gitlab.example:{self.path}.git",
                "http_url_to_repo": f"https://gitlab.example/{self.path}.git",
                "web_url": f"https://gitlab.example/{self.path}", "readme_url": None, "avatar_url": None,
                "forks_count": 1, "star_count": 7, "archived": False, "visibility": "private", "empty_repo": False,
                "namespace": {"id": 900 + self.id, "name": namespace, "path": namespace.rsplit("/", 1)[-1],
                              "kind": "group", "full_path": namespace, "parent_id": None, "avatar_url": None,
                              "web_url": f"https://gitlab.example/groups/{namespace}"},
                "open_issues_count": len(self.issues), "creator_id": 1, "issues_enabled": True,
                "merge_requests_enabled": True, "wiki_enabled": True, "jobs_enabled": True,
                "snippets_enabled": True, "shared_runners_enabled": True, "request_access_enabled": True,
                "only_allow_merge_if_pipeline_succeeds": False,
                "only_allow_merge_if_all_discussions_are_resolved": False}


def make_issue(p: Project, n: int) -> dict[str, Any]:
    return {"id": p.id * 100_000 + n, "iid": n, "project_id": p.id, "title": f"Issue {n} of {p.path}",
            "description": f"Steps to reproduce issue {n}. " * 3, "state": "opened" if n % 4 else "closed",
            "created_at": iso(n), "updated_at": iso(n), "closed_at": None if n % 4 else iso(n),
            "closed_by": None if n % 4 else user(2), "labels": ["bug"] if n % 3 == 0 else [],
            "milestone": None, "author": user(n % 9 + 1), "assignee": None, "assignees": [], "type": "ISSUE",
            "issue_type": "issue", "user_notes_count": n % 5, "merge_requests_count": 0, "upvotes": n % 2,
            "downvotes": 0, "due_date": "2024-02-01" if n % 7 == 0 else None, "confidential": False,
            "discussion_locked": None, "web_url": f"https://gitlab.example/{p.path}/-/issues/{n}",
            "time_stats": {"time_estimate": 0, "total_time_spent": 0, "human_time_estimate": None,
                           "human_total_time_spent": None},
            "task_completion_status": {"count": 0, "completed_count": 0}, "has_tasks": False,
            "references": {"short": f"#{n}", "relative": f"#{n}", "full": f"{p.path}#{n}"}, "severity": "UNKNOWN"}


def make_mr(p: Project, n: int) -> dict[str, Any]:
    return {"id": p.id * 200_000 + n, "iid": n, "project_id": p.id, "title": f"MR {n}", "description": "Fixes",
            "state": "merged" if n % 2 else "opened", "created_at": iso(n), "updated_at": iso(n),
            "merged_at": iso(n) if n % 2 else None, "merge_user": user(3) if n % 2 else None,
            "closed_at": None, "closed_by": None, "target_branch": "main", "source_branch": f"feature-{n}",
            "user_notes_count": 1, "upvotes": 0, "downvotes": 0, "author": user(n % 9 + 1), "assignee": None,
            "assignees": [], "reviewers": [user(4)], "source_project_id": p.id, "target_project_id": p.id,
            "labels": [], "draft": False, "work_in_progress": False, "milestone": None,
            "merge_when_pipeline_succeeds": False, "merge_status": "can_be_merged",
            "detailed_merge_status": "mergeable", "sha": f"{n:040x}", "merge_commit_sha": None,
            "squash_commit_sha": None, "discussion_locked": None, "should_remove_source_branch": True,
            "force_remove_source_branch": False, "squash": False, "has_conflicts": False,
            "blocking_discussions_resolved": True, "reference": f"!{n}",
            "references": {"short": f"!{n}", "relative": f"!{n}", "full": f"{p.path}!{n}"},
            "web_url": f"https://gitlab.example/{p.path}/-/merge_requests/{n}",
            "time_stats": {"time_estimate": 0, "total_time_spent": 0, "human_time_estimate": None,
                           "human_total_time_spent": None},
            "task_completion_status": {"count": 0, "completed_count": 0}}


def make_commit(p: Project, n: int) -> dict[str, Any]:
    sha = f"{p.id:08x}{n:032x}"
    return {"id": sha, "short_id": sha[:8], "title": f"Commit {n}", "message": f"Commit {n}\n\nDetails.",
            "author_name": "Ann", "author_email": "ann@example.com", "authored_date": iso(n),
            "committer_name": "Ann", "committer_email": "ann@example.com", "committed_date": iso(n),
            "created_at": iso(n), "parent_ids": [f"{p.id:08x}{n - 1:032x}"] if n > 1 else [],
            "web_url": f"https://gitlab.example/{p.path}/-/commit/{sha}", "trailers": {},
            "stats": {"additions": n % 11, "deletions": n % 3, "total": n % 11 + n % 3}}


def make_pipeline(p: Project, n: int) -> dict[str, Any]:
    return {"id": p.id * 300_000 + n, "iid": n, "project_id": p.id, "sha": f"{n:040x}", "ref": "main",
            "status": "success" if n % 5 else "failed", "source": "push", "name": None, "created_at": iso(n),
            "updated_at": iso(n), "web_url": f"https://gitlab.example/{p.path}/-/pipelines/{n}"}


class GitLabApi:
    def __init__(self, *, rate_limit: int | None = None, keyset: bool = True, link_headers: bool = True) -> None:
        self.projects: dict[int, Project] = {}
        self.site_users = [user(n) for n in range(1, 251)]
        self.rate_limit, self.keyset, self.link_headers = rate_limit, keyset, link_headers
        self._remaining, self._reset = rate_limit or 0, 0.0
        self.log: list[Logged] = []
        self._faults: dict[str, list[tuple[int, dict[str, str], Any]]] = {}
        self._views: dict[tuple[Any, ...], list[Any]] = {}
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> GitLabApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()

    # -- set-up ----------------------------------------------------------------------------

    def add_project(self, path: str, *, group: str | None = None, issues: int = 0, merge_requests: int = 0,
                    commits: int = 0, pipelines: int = 0, users: int = 0) -> Project:
        p = Project(len(self.projects) + 1, path, group)
        p.issues = [make_issue(p, n) for n in range(1, issues + 1)]
        p.merge_requests = [make_mr(p, n) for n in range(1, merge_requests + 1)]
        p.commits = [make_commit(p, n) for n in range(1, commits + 1)]
        p.pipelines = [make_pipeline(p, n) for n in range(1, pipelines + 1)]
        p.users = [user(n) for n in range(1, users + 1)]
        self.projects[p.id] = p
        self.changed()
        return p

    def touch(self, project: int, kind: str, iids: list[int], minutes: int) -> None:
        """Update some issues / merge_requests / pipelines: their updated_at moves to ``minutes``."""
        for row in getattr(self.projects[project], kind):
            if row["iid"] in iids:
                row["updated_at"] = iso(minutes)
        self.changed()

    def changed(self) -> None:
        with self._lock:
            self._views.clear()

    def fail(self, path: str, *statuses: int, headers: dict[str, str] | None = None, body: Any = None) -> None:
        """The next requests to ``path`` answer with these statuses, in order (0: answered as usual)."""
        with self._lock:
            self._faults.setdefault(path, []).extend((s, dict(headers or {}), body) for s in statuses)

    def requests(self, path: str | None = None) -> list[Logged]:
        with self._lock:
            return [r for r in self.log if path is None or r.path == path]

    # -- request handling (server threads) -------------------------------------------------

    def handle(self, h: BaseHTTPRequestHandler, path: str, query: dict[str, str]) -> Answer:
        with self._lock:
            faults = self._faults.get(path)
            fault = faults.pop(0) if faults else None
        if fault is not None and fault[0]:
            status, headers, body = fault
            return status, headers, body if body is not None else {"message": f"{status} scripted failure"}
        bearer = h.headers.get("Authorization", "")
        private = h.headers.get("PRIVATE-TOKEN", query.get("private_token"))  # header, or the documented param
        if bearer and bearer.removeprefix("Bearer ") != OAUTH:
            return 401, {}, {"error": "invalid_token", "error_description": "Token was revoked. You have to "
                                                                             "re-authorize from the user."}
        if private is not None and private != TOKEN:
            return 401, {}, {"message": "401 Unauthorized"}
        if not bearer and private is None:
            return 401, {}, {"message": "401 Unauthorized"}
        limited = self._rate_limit()
        if limited is not None:
            return limited
        status, headers, body = self._route(path.removeprefix(PREFIX), query)
        return status, {**headers, **self._rate_headers()}, body

    def _rate_limit(self) -> Answer | None:
        if self.rate_limit is None:
            return None
        with self._lock:
            now = time.time()
            if self._remaining <= 0 and now >= self._reset:
                self._remaining = self.rate_limit
            if self._remaining <= 0:
                wait = max(1, int(self._reset - now + 0.999))
                return 429, {**self._rate_headers(), "Retry-After": str(wait)}, "Retry later"
            self._remaining -= 1
            if self._remaining == 0:
                self._reset = now + 1
        return None

    def _rate_headers(self) -> dict[str, str]:
        if self.rate_limit is None:
            return {}
        reset = int(self._reset + 0.999) if self._reset else int(time.time()) + 60
        return {"RateLimit-Limit": str(self.rate_limit), "RateLimit-Name": "throttle_authenticated_api",
                "RateLimit-Observed": str(self.rate_limit - max(0, self._remaining)),
                "RateLimit-Remaining": str(max(0, self._remaining)), "RateLimit-Reset": str(reset),
                "RateLimit-ResetTime": formatdate(reset, usegmt=True)}

    def _project(self, ref: str) -> Project | None:
        ref = unquote(ref)
        for p in self.projects.values():
            if ref in (str(p.id), p.path):
                return p
        return None

    def _route(self, path: str, query: dict[str, str]) -> Answer:
        parts = path.strip("/").split("/")
        if parts == ["users"]:
            return self._keyset_or_offset(path, query, self.site_users)
        if parts[0] == "groups" and len(parts) in (2, 3):
            group = unquote(parts[1])
            members = [p.record() for p in self.projects.values() if p.group and
                       (p.group == group or p.group.startswith(group + "/"))]
            if not members:
                return 404, {}, {"message": "404 Group Not Found"}
            if len(parts) == 2:
                return 200, {}, {"id": 900, "full_path": group, "name": group}
            return self._keyset_or_offset(path, query, members) if parts[2] == "projects" else (404, {}, {})
        if parts[0] != "projects" or len(parts) < 2 or (p := self._project(parts[1])) is None:
            return 404, {}, {"message": "404 Project Not Found"}
        rest = "/".join(parts[2:])
        if rest == "":
            return 200, {}, p.record()
        if rest in ("issues", "merge_requests", "pipelines"):
            return self._offset(path, query, self._updated(getattr(p, rest), query))
        if rest == "repository/commits":
            since = query.get("since")
            rows = [c for c in reversed(p.commits) if since is None or c["committed_date"] >= since]
            return self._offset(path, query, rows)
        if rest == "users":
            return self._offset(path, query, p.users)
        if rest in ("repository/branches", "milestones"):  # (read by other GitLab taps; none here)
            return self._offset(path, query, [])
        if parts[2:3] == ["merge_requests"] and parts[4:] == ["commits"]:
            return self._offset(path, query, p.commits[: int(parts[3]) % 4 + 1])
        if parts[2:3] == ["pipelines"] and len(parts) == 4:
            found = [r for r in p.pipelines if r["id"] == int(parts[3])]
            if not found:
                return 404, {}, {"message": "404 Not found"}
            return 200, {}, {**found[0], "before_sha": "0" * 40, "tag": False, "yaml_errors": None,
                             "user": user(1), "started_at": found[0]["created_at"], "finished_at": None,
                             "committed_at": None, "duration": 61, "queued_duration": 0.5, "coverage": None,
                             "detailed_status": {"icon": "status_success", "text": "passed", "label": "passed",
                                                 "group": "success", "has_details": True}}
        return 404, {}, {"error": "404 Not Found"}

    def _updated(self, rows: list[dict[str, Any]], query: dict[str, str]) -> list[Any]:
        after, desc = query.get("updated_after"), query.get("sort", "desc") == "desc"
        order = "updated_at" if query.get("order_by") == "updated_at" else "created_at"
        key = (id(rows), order)
        with self._lock:
            cached = self._views.get(key)
        if cached is None:  # sorted once between changes, then bisected: the server must not be the bottleneck
            ordered = sorted(rows, key=lambda r: (r[order], r["id"]))
            cached = [ordered, [r[order] for r in ordered]]
            with self._lock:
                self._views[key] = cached
        ordered, keys = cached
        picked = ordered[bisect_left(keys, after):] if after else ordered
        return picked[::-1] if desc else picked

    def _offset(self, path: str, query: dict[str, str], rows: list[Any]) -> Answer:
        per_page = min(int(query.get("per_page", 20)), 100)
        page = int(query.get("page", 1))
        pages = max(1, -(-len(rows) // per_page))
        headers = {"X-Page": str(page), "X-Per-Page": str(per_page), "X-Total": str(len(rows)),
                   "X-Total-Pages": str(pages), "X-Next-Page": str(page + 1) if page < pages else "",
                   "X-Prev-Page": str(page - 1) if page > 1 else ""}
        if self.link_headers:
            links = [f'<{self._link(path, query, page=p)}>; rel="{rel}"'
                     for rel, p in (("next", page + 1), ("first", 1), ("last", pages)) if rel != "next" or
                     page < pages]
            headers["Link"] = ", ".join(links)
        return 200, headers, rows[(page - 1) * per_page: page * per_page]

    def _keyset_or_offset(self, path: str, query: dict[str, str], rows: list[Any]) -> Answer:
        after = int(query.get("id_after", 0))
        rows = [r for r in sorted(rows, key=lambda r: r["id"]) if r["id"] > after]
        if query.get("pagination") != "keyset":
            return self._offset(path, query, rows)
        if not self.keyset or query.get("order_by") != "id":
            return 405, {}, {"error": "Keyset pagination is not yet available for this type of request"}
        per_page = min(int(query.get("per_page", 20)), 100)
        page = rows[:per_page]
        headers = {}
        if len(rows) > per_page:
            headers["Link"] = f'<{self._link(path, query, id_after=page[-1]["id"])}>; rel="next"'
        return 200, headers, page

    def _link(self, path: str, query: dict[str, str], **changes: Any) -> str:
        return f"{self.url}{PREFIX}{path}?{urlencode({**query, **changes})}"


def _handler(api: GitLabApi) -> Callable[..., BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True
        wbufsize = 1 << 16

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            split = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(split.query).items()}
            entry = Logged("GET", split.path, query, self.headers.get("PRIVATE-TOKEN"), 0)
            with api._lock:
                api.log.append(entry)
            try:
                status, headers, payload = api.handle(self, split.path, query)
            except ValueError as exc:
                status, headers, payload = 400, {}, {"error": f"{exc} is invalid"}
            entry.status = status
            text = isinstance(payload, str)
            data = payload.encode() if text else orjson.dumps(payload)
            self.send_response(status)
            self.send_header("Content-Type", "text/plain" if text else "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

    return Handler


def main() -> None:
    """Serve until interrupted (benchmarks): prints ``URL TOKEN`` on its first line."""
    import argparse

    parser = argparse.ArgumentParser(description="A GitLab-shaped API on loopback.")
    parser.add_argument("--issues", type=int, default=20_000, help="issues of project acme/web")
    args = parser.parse_args()
    api = GitLabApi()
    api.add_project("acme/web", group="acme", issues=args.issues)
    with api:
        sys.stdout.write(f"{api.url} {TOKEN}\n")
        sys.stdout.flush()
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
