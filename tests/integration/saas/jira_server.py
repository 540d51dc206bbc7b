"""A Jira Cloud-shaped API on loopback (REST v3 and Agile 1.0), following Atlassian's documented behaviour.

    Basic auth (e-mail + API token) or an OAuth bearer token; else 401 with Jira's error body
    /rest/api/3/myself, /project/search, /users/search (a bare array), /issue/{id}/comment,
    /issue/{id}/changelog, /search (startAt/total) and /search/jql (nextPageToken, isLast)
    /rest/agile/1.0/board, /board/{id}/sprint (400 "The board does not support sprints" on kanban)
    JQL: an optional ``(project = KEY)``, ``updated >= "yyyy-MM-dd HH:mm"``, ``updated < "..."`` read in
    the user's time zone, to the minute, ``ORDER BY updated ASC``; anything else is a 400 JQL error
    Errors: ``{"errorMessages": [...], "errors": {...}}``; faults (429 + Retry-After, 5xx) scripted per path
    Live data: ``on_search(n, query)`` runs before the n-th search request is answered (1-based: e.g. it
    updates an issue while the tap pages on); ``repeat_token`` answers a request that carries a
    nextPageToken with that same token (a server whose paging would never end)

Issue n is updated ``BASE + 20 s * n`` (three a minute: the minute boundary matters) and written in
the user's zone (+0100), as Jira does.
"""

from __future__ import annotations

import base64
import bisect
import re
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.integration.saas.jira_loopback import Handled, LoopbackApi

EMAIL, API_TOKEN, OAUTH_TOKEN = "ada@example.com", "jira-api-token-123", "oauth-access-456"
ZONE = ZoneInfo("Europe/Berlin")
BASE = datetime(2024, 1, 10, 8, 0, tzinfo=UTC)
_UPDATED = re.compile(r'updated\s*(>=|<)\s*"(\d{4}-\d{2}-\d{2} \d{2}:\d{2})"')
_PROJECT = re.compile(r"\(project = (\w+)\)")
SEARCH_MAX = 100


def jira_time(when: datetime) -> str:
    """As Jira writes times: the user's zone, milliseconds, ``+0100``."""
    return when.astimezone(ZONE).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + when.astimezone(ZONE).strftime("%z")


def error(status: int, *messages: str, **errors: str) -> Handled:
    return status, {}, {"errorMessages": list(messages), "errors": errors}


def user(n: int) -> dict[str, Any]:
    return {"self": f"https://example.atlassian.net/rest/api/3/user?accountId=5b10ac8d82e05b22cc7d{n:04d}",
            "accountId": f"5b10ac8d82e05b22cc7d{n:04d}", "accountType": "atlassian",
            "emailAddress": f"u{n}@example.com", "avatarUrls": {"48x48": f"https://avatar.example/{n}/48"},
            "displayName": f"User {n}", "active": n % 7 != 0,
            "timeZone": "Europe/Berlin", "locale": "en_US"}


class JiraApi(LoopbackApi):
    def __init__(self, *, issues: int = 0, comments: int = 0, changelogs: int = 0, users: int = 0) -> None:
        super().__init__()
        self.projects = [{"self": f"https://example.atlassian.net/rest/api/3/project/{10000 + i}",
                          "id": str(10000 + i), "key": key, "name": f"Project {key}", "projectTypeKey": "software",
                          "simplified": False, "style": "classic", "isPrivate": False,
                          "lead": user(1), "description": f"All about {key}"}
                         for i, key in enumerate(["ALPHA", "BETA"])]
        self.users = [user(n) for n in range(1, users + 1)]
        self.issues: dict[str, dict[str, Any]] = {}
        self.updated: dict[str, datetime] = {}
        self.comments: dict[str, list[dict[str, Any]]] = {}
        self.changelogs: dict[str, list[dict[str, Any]]] = {}
        for n in range(1, issues + 1):
            self.add_issue(n, comments=comments if n % 2 else 0, changelogs=changelogs)
        self.boards = [{"id": 1, "self": "https://example.atlassian.net/rest/agile/1.0/board/1", "name": "ALPHA board",
                        "type": "scrum", "location": {"projectId": 10000, "projectKey": "ALPHA", "name": "ALPHA"}},
                       {"id": 2, "self": "https://example.atlassian.net/rest/agile/1.0/board/2", "name": "BETA flow",
                        "type": "kanban", "location": {"projectId": 10001, "projectKey": "BETA", "name": "BETA"}},
                       {"id": 3, "self": "https://example.atlassian.net/rest/agile/1.0/board/3", "name": "ALPHA team",
                        "type": "scrum", "location": {"projectId": 10000, "projectKey": "ALPHA", "name": "ALPHA"}}]
        self.sprints = {1: [self.sprint(s, 1) for s in range(1, 4)], 3: [self.sprint(3, 1), self.sprint(4, 3)]}
        self.page_max = 50
        self._found: dict[str, tuple[list[str], int, int]] = {}  # JQL -> its ids (matching), until a change
        self._order: tuple[list[datetime], list[str]] | None = None  # (times, ids) by updated, until a change
        self.on_search: Callable[[int, dict[str, str]], None] | None = None
        self.repeat_token = False
        self._searches = 0

    # -- data -----------------------------------------------------------------------------------

    def sprint(self, n: int, board: int) -> dict[str, Any]:
        start = BASE + timedelta(days=14 * n)
        return {"id": 37 + n, "self": f"https://example.atlassian.net/rest/agile/1.0/sprint/{37 + n}",
                "state": "closed" if n < 3 else "active", "name": f"Sprint {n}", "originBoardId": board,
                "startDate": start.isoformat().replace("+00:00", "Z"),
                "endDate": (start + timedelta(days=14)).isoformat().replace("+00:00", "Z"), "goal": f"Goal {n}"}

    def add_issue(self, n: int, *, comments: int = 0, changelogs: int = 0) -> None:
        issue_id, project = str(10000 + n), self.projects[n % 2]
        self.issues[issue_id] = {
            "id": issue_id, "key": f"{project['key']}-{n}", "self": f"https://example.atlassian.net/rest/api/3/issue/{issue_id}",
            "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
            "fields": {"summary": f"Issue {n}", "created": jira_time(BASE), "labels": ["etl"] if n % 3 else [],
                       "status": {"id": "3", "name": "In Progress",
                                  "statusCategory": {"id": 4, "key": "indeterminate"}},
                       "issuetype": {"id": "10001", "name": "Task", "subtask": False, "hierarchyLevel": 0},
                       "project": {k: project[k] for k in ("id", "key", "name", "self")}, "assignee": user(n % 5 + 1),
                       "priority": {"id": "3", "name": "Medium"}, "resolution": None, "customfield_10016": n % 8,
                       "description": {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [
                           {"type": "text", "text": f"Description of issue {n}."}]}]}}}
        self.touch(issue_id, BASE + timedelta(seconds=20 * n, milliseconds=123))
        self.comments[issue_id] = [self.comment(issue_id, c) for c in range(1, comments + 1)]
        self.changelogs[issue_id] = [self.history(issue_id, c) for c in range(1, changelogs + 1)]

    def touch(self, issue_id: str, when: datetime) -> None:
        self._found, self._order = {}, None
        self.updated[issue_id] = when
        self.issues[issue_id]["fields"]["updated"] = jira_time(when)
        self.issues[issue_id]["fields"]["statuscategorychangedate"] = jira_time(when)

    def comment(self, issue_id: str, c: int) -> dict[str, Any]:
        cid = f"{issue_id}{c:03d}"
        return {"self": f"https://example.atlassian.net/rest/api/3/issue/{issue_id}/comment/{cid}", "id": cid,
                "author": user(c), "updateAuthor": user(c), "created": jira_time(BASE), "updated": jira_time(BASE),
                "body": {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [
                    {"type": "text", "text": f"Comment {c}"}]}]}, "jsdPublic": True}

    def history(self, issue_id: str, c: int) -> dict[str, Any]:
        return {"id": f"{issue_id}{c:03d}", "author": user(2), "created": jira_time(BASE + timedelta(hours=c)),
                "items": [{"field": "status", "fieldtype": "jira", "fieldId": "status", "from": "1", "fromString":
                           "To Do", "to": "3", "toString": "In Progress"}]}

    # -- requests -------------------------------------------------------------------------------

    def authorized(self, authorization: str | None) -> bool:
        basic = "Basic " + base64.b64encode(f"{EMAIL}:{API_TOKEN}".encode()).decode()
        return authorization in (basic, f"Bearer {OAUTH_TOKEN}")

    def route(self, path: str, query: dict[str, str], authorization: str | None) -> Handled:
        if not self.authorized(authorization):
            return error(401, "You are not authenticated. Authentication required to perform this operation.")
        if path == "/rest/api/3/myself":
            return 200, {}, {**user(1), "timeZone": ZONE.key}
        if path == "/rest/api/3/project/search":
            return self.start_at(query, self.projects, "values", self.page_max)
        if path == "/rest/api/3/users/search":
            at, size = int(query.get("startAt", 0)), min(int(query.get("maxResults", 50)), 1000)
            return 200, {}, self.users[at:at + size]
        if path in ("/rest/api/3/search", "/rest/api/3/search/jql"):
            return self.search(path, query)
        if match := re.fullmatch(r"/rest/api/3/issue/(\w+)/(comment|changelog)", path):
            rows = (self.comments if match[2] == "comment" else self.changelogs).get(match[1])
            if rows is None:
                return error(404, "Issue does not exist or you do not have permission to see it.")
            return self.start_at(query, rows, "comments" if match[2] == "comment" else "values", 100)
        if path == "/rest/agile/1.0/board":
            return self.start_at(query, self.boards, "values", 50)
        if match := re.fullmatch(r"/rest/agile/1.0/board/(\d+)/sprint", path):
            if int(match[1]) not in self.sprints:
                return error(400, "The board does not support sprints")
            return self.start_at(query, self.sprints[int(match[1])], "values", 50)
        return error(404, "Not found")

    def start_at(self, query: dict[str, str], rows: list[Any], key: str, cap: int) -> Handled:
        at, size = int(query.get("startAt", 0)), min(int(query.get("maxResults", 50)), cap)
        page = rows[at:at + size]
        body: dict[str, Any] = {"startAt": at, "maxResults": size, "total": len(rows), key: page}
        if key == "values":
            body["isLast"] = at + len(page) >= len(rows)
        return 200, {}, body

    def search(self, path: str, query: dict[str, str]) -> Handled:
        with self._lock:
            self._searches += 1
            n = self._searches
        if self.on_search is not None:
            self.on_search(n, query)
        jql = query.get("jql", "")
        rest = _PROJECT.sub("", _UPDATED.sub("", jql)).replace("AND", "").replace("ORDER BY updated ASC", "").strip()
        if rest:
            return error(400, f"Error in the JQL Query: the character '{rest[0]}' is a reserved JQL character.")
        found = self._found.get(jql)
        if found is None:  # cached per query: the server must not be the bottleneck of a benchmark
            found = self._found[jql] = self.matching(jql)
        ids, low, high = found
        size = min(int(query.get("maxResults", 50)), SEARCH_MAX)
        at = int(base64.b64decode(query["nextPageToken"]).decode()) if query.get("nextPageToken") else 0
        if path.endswith("/search"):
            at = int(query.get("startAt", 0))
        wanted = set(query.get("fields", "*navigable").split(","))
        page = [self.shaped(i, wanted) for i in ids[low + at:min(low + at + size, high)]]
        total = high - low
        if path.endswith("/search"):
            return 200, {}, {"startAt": at, "maxResults": size, "total": total, "issues": page}
        body: dict[str, Any] = {"issues": page, "isLast": at + size >= total}
        if not body["isLast"]:
            body["nextPageToken"] = base64.b64encode(str(at + size).encode()).decode()
            if self.repeat_token and query.get("nextPageToken"):
                body["nextPageToken"] = query["nextPageToken"]
        return 200, {}, body

    def matching(self, jql: str) -> tuple[list[str], int, int]:
        """The issues a JQL finds: ``ids[low:high]`` (a range of the sorted ids, not a copy: the tap
        asks a new bound for each page, and copying the rest of 100,000 ids each time made this
        server the benchmark's bottleneck)."""
        if self._order is None:  # sorted once per change: the tap asks a new JQL bound for each page
            ordered = sorted(self.issues, key=lambda i: (self.updated[i], int(i)))
            self._order = ([self.updated[i] for i in ordered], ordered)
        times, ids = self._order
        low, high = 0, len(ids)
        for op, text in _UPDATED.findall(jql):
            bound = datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=ZONE)
            if op == ">=":
                low = max(low, bisect.bisect_left(times, bound))
            else:
                high = min(high, bisect.bisect_left(times, bound))
        high = max(low, high)
        if project := _PROJECT.search(jql):
            ids = [i for i in ids[low:high] if self.issues[i]["fields"]["project"]["key"] == project[1]]
            return ids, 0, len(ids)
        return ids, low, high

    def shaped(self, issue_id: str, wanted: set[str]) -> dict[str, Any]:
        issue = self.issues[issue_id]
        if wanted & {"*all", "*navigable"}:
            return issue
        return {**issue, "fields": {k: v for k, v in issue["fields"].items() if k in wanted}}


def main() -> None:
    """Serve until interrupted (for benchmarks): prints ``URL EMAIL API_TOKEN``."""
    import argparse

    parser = argparse.ArgumentParser(description="The loopback Jira Cloud-shaped API.")
    parser.add_argument("--issues", type=int, default=20_000)
    args = parser.parse_args()
    with JiraApi(issues=args.issues) as api:
        sys.stdout.write(f"{api.url} {EMAIL} {API_TOKEN}\n")
        sys.stdout.flush()
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
