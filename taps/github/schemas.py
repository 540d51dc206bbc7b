"""JSON Schemas of the GitHub streams (the fields of the REST API's objects that are emitted)."""

from __future__ import annotations

from typing import Any

__all__ = ["SCHEMAS"]


def _n(*types: str, **extra: Any) -> dict[str, Any]:
    return {"type": [*types, "null"], **extra}


STR, INT, BOOL = _n("string"), _n("integer"), _n("boolean")
TIME = _n("string", format="date-time")
USER = _n("object", properties={"login": STR, "id": INT, "node_id": STR, "type": STR, "site_admin": BOOL,
                                "avatar_url": STR, "html_url": STR})
LABEL = {"type": "object", "properties": {"id": INT, "node_id": STR, "name": STR, "color": STR, "default": BOOL,
                                          "description": STR}}
CONTEXT = {"org": {"type": "string"}, "repo": {"type": "string"}, "repo_id": INT}
REF = _n("object", properties={"ref": STR, "sha": STR, "label": STR})
SIGNATURE = _n("object", properties={"name": STR, "email": STR, "date": TIME})


def _schema(properties: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    props = dict(properties)
    for key in keys:
        props[key] = {"type": [t for t in props[key]["type"] if t != "null"]}
    return {"type": "object", "properties": props}


_ISSUE = {
    "url": STR, "html_url": STR, "id": INT, "node_id": STR, "number": INT, "title": STR, "user": USER,
    "labels": _n("array", items=LABEL), "state": STR, "locked": BOOL, "assignee": USER,
    "assignees": _n("array", items=USER), "comments": INT, "created_at": TIME, "updated_at": TIME,
    "closed_at": TIME, "author_association": STR, "body": STR,
    "pull_request": _n("object", properties={"url": STR, "html_url": STR, "merged_at": TIME}),
}

SCHEMAS: dict[str, dict[str, Any]] = {
    "repositories": _schema({
        "id": INT, "node_id": STR, "name": STR, "full_name": STR, "owner": USER, "private": BOOL,
        "description": STR, "fork": BOOL, "html_url": STR, "created_at": TIME, "updated_at": TIME,
        "pushed_at": TIME, "stargazers_count": INT, "watchers_count": INT, "forks_count": INT,
        "open_issues_count": INT, "default_branch": STR, "language": STR, "topics": _n("array", items=STR),
        "archived": BOOL, "disabled": BOOL, "visibility": STR, "size": INT, "org": {"type": "string"},
        "repo": {"type": "string"},
    }, ["id"]),
    "issues": _schema({**_ISSUE, **CONTEXT}, ["id"]),
    "pull_requests": _schema({
        **{k: v for k, v in _ISSUE.items() if k not in ("comments", "pull_request", "labels")},
        "labels": _n("array", items=LABEL), "merged_at": TIME, "merge_commit_sha": STR, "draft": BOOL,
        "head": REF, "base": REF, **CONTEXT,
    }, ["id"]),
    "commits": _schema({
        "sha": STR, "node_id": STR, "url": STR, "html_url": STR,
        "commit": _n("object", properties={"message": STR, "author": SIGNATURE, "committer": SIGNATURE}),
        "author": USER, "committer": USER, "parents": _n("array", items={"type": "object", "properties": {
            "sha": STR, "url": STR}}),
        "commit_timestamp": TIME, **CONTEXT,
    }, ["node_id"]),
    "issue_comments": _schema({
        "id": INT, "node_id": STR, "url": STR, "html_url": STR, "body": STR, "user": USER, "created_at": TIME,
        "updated_at": TIME, "issue_url": STR, "author_association": STR, **CONTEXT,
    }, ["id"]),
}
