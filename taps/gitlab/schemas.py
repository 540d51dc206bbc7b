"""JSON Schemas of the GitLab streams, from the GitLab REST API (v4) reference: the fields of its
project, issue, merge request, commit, pipeline and user objects that are emitted. Every field
may be null (GitLab omits or nulls fields by edition, version and permission) except the keys.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SCHEMAS"]


def _n(*types: str, **extra: Any) -> dict[str, Any]:
    return {"type": [*types, "null"], **extra}


def _obj(**properties: Any) -> dict[str, Any]:
    return _n("object", properties=properties)


STR, INT, BOOL, NUM = _n("string"), _n("integer"), _n("boolean"), _n("number")
TIME, DATE = _n("string", format="date-time"), _n("string", format="date")
STRS = _n("array", items={"type": "string"})
USER = _obj(id=INT, username=STR, name=STR, state=STR, locked=BOOL, avatar_url=STR, web_url=STR)
USERS = _n("array", items=USER)
MILESTONE = _obj(id=INT, iid=INT, project_id=INT, group_id=INT, title=STR, description=STR, state=STR,
                 created_at=TIME, updated_at=TIME, due_date=DATE, start_date=DATE, expired=BOOL, web_url=STR)
TIME_STATS = _obj(time_estimate=INT, total_time_spent=INT, human_time_estimate=STR, human_total_time_spent=STR)
TASKS = _obj(count=INT, completed_count=INT)
REFERENCES = _obj(short=STR, relative=STR, full=STR)
CONTEXT = {"project_path": {"type": "string"}}


def _schema(properties: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    props = dict(properties)
    for key in keys:
        props[key] = {"type": [t for t in props[key]["type"] if t != "null"]}
    return {"type": "object", "properties": props}


_PROJECT = {
    "id": INT, "description": STR, "name": STR, "name_with_namespace": STR, "path": STR,
    "path_with_namespace": STR, "created_at": TIME, "updated_at": TIME, "last_activity_at": TIME,
    "default_branch": STR, "tag_list": STRS, "topics": STRS, "ssh_url_to_repo": STR, "http_url_to_repo": STR,
    "web_url": STR, "readme_url": STR, "avatar_url": STR, "forks_count": INT, "star_count": INT,
    "namespace": _obj(id=INT, name=STR, path=STR, kind=STR, full_path=STR, parent_id=INT, avatar_url=STR,
                      web_url=STR),
    "owner": USER, "archived": BOOL, "visibility": STR, "empty_repo": BOOL, "open_issues_count": INT,
    "creator_id": INT, "issues_enabled": BOOL, "merge_requests_enabled": BOOL, "wiki_enabled": BOOL,
    "jobs_enabled": BOOL, "snippets_enabled": BOOL, "shared_runners_enabled": BOOL,
    "request_access_enabled": BOOL, "only_allow_merge_if_pipeline_succeeds": BOOL,
    "only_allow_merge_if_all_discussions_are_resolved": BOOL, "forked_from_project": _obj(
        id=INT, name=STR, path_with_namespace=STR, web_url=STR),
    "license_url": STR, "license": _obj(key=STR, name=STR, nickname=STR, html_url=STR, source_url=STR),
}

_ISSUE = {
    "id": INT, "iid": INT, "project_id": INT, "title": STR, "description": STR, "state": STR,
    "created_at": TIME, "updated_at": TIME, "closed_at": TIME, "closed_by": USER, "labels": STRS,
    "milestone": MILESTONE, "author": USER, "assignee": USER, "assignees": USERS, "type": STR, "issue_type": STR,
    "user_notes_count": INT, "merge_requests_count": INT, "upvotes": INT, "downvotes": INT, "due_date": DATE,
    "confidential": BOOL, "discussion_locked": BOOL, "web_url": STR, "time_stats": TIME_STATS,
    "task_completion_status": TASKS, "has_tasks": BOOL, "weight": INT, "references": REFERENCES, "severity": STR,
    "moved_to_id": INT, "epic_iid": INT, **CONTEXT,
}

_MERGE_REQUEST = {
    "id": INT, "iid": INT, "project_id": INT, "title": STR, "description": STR, "state": STR,
    "created_at": TIME, "updated_at": TIME, "merged_at": TIME, "merged_by": USER, "merge_user": USER,
    "closed_at": TIME, "closed_by": USER, "target_branch": STR, "source_branch": STR, "user_notes_count": INT,
    "upvotes": INT, "downvotes": INT, "author": USER, "assignee": USER, "assignees": USERS, "reviewers": USERS,
    "source_project_id": INT, "target_project_id": INT, "labels": STRS, "draft": BOOL, "work_in_progress": BOOL,
    "milestone": MILESTONE, "merge_when_pipeline_succeeds": BOOL, "merge_status": STR,
    "detailed_merge_status": STR, "sha": STR, "merge_commit_sha": STR, "squash_commit_sha": STR,
    "discussion_locked": BOOL, "should_remove_source_branch": BOOL, "force_remove_source_branch": BOOL,
    "squash": BOOL, "has_conflicts": BOOL, "blocking_discussions_resolved": BOOL, "reference": STR,
    "references": REFERENCES, "web_url": STR, "time_stats": TIME_STATS, "task_completion_status": TASKS,
    **CONTEXT,
}

_COMMIT = {
    "id": STR, "short_id": STR, "title": STR, "message": STR, "author_name": STR, "author_email": STR,
    "authored_date": TIME, "committer_name": STR, "committer_email": STR, "committed_date": TIME,
    "created_at": TIME, "parent_ids": STRS, "web_url": STR, "trailers": _n("object"),
    "stats": _obj(additions=INT, deletions=INT, total=INT), "project_id": INT, **CONTEXT,
}

_PIPELINE = {
    "id": INT, "iid": INT, "project_id": INT, "sha": STR, "ref": STR, "status": STR, "source": STR,
    "name": STR, "created_at": TIME, "updated_at": TIME, "web_url": STR, **CONTEXT,
}

_SITE_USER = {
    "id": INT, "username": STR, "name": STR, "state": STR, "locked": BOOL, "avatar_url": STR, "web_url": STR,
    "created_at": TIME, "bio": STR, "location": STR, "public_email": STR, "linkedin": STR, "twitter": STR,
    "website_url": STR, "organization": STR, "job_title": STR, "bot": BOOL, "is_admin": BOOL,
    "last_activity_on": DATE, "last_sign_in_at": TIME, "confirmed_at": TIME, "email": STR,
}

SCHEMAS: dict[str, dict[str, Any]] = {
    "projects": _schema(_PROJECT, ["id"]),
    "issues": _schema(_ISSUE, ["id"]),
    "merge_requests": _schema(_MERGE_REQUEST, ["id"]),
    "commits": _schema(_COMMIT, ["id"]),
    "pipelines": _schema(_PIPELINE, ["id"]),
    "users": _schema({"id": INT, "username": STR, "name": STR, "state": STR, "locked": BOOL, "avatar_url": STR,
                      "web_url": STR}, ["id"]),
    "site_users": _schema(_SITE_USER, ["id"]),
    "merge_request_commits": _schema({**_COMMIT, "commit_id": STR, "merge_request_iid": INT,
                                      "merge_request_updated_at": TIME}, ["project_id", "merge_request_iid",
                                                                          "commit_id"]),
    "pipelines_extended": _schema({
        **_PIPELINE, "before_sha": STR, "tag": BOOL, "yaml_errors": STR, "user": USER, "started_at": TIME,
        "finished_at": TIME, "committed_at": TIME, "duration": INT, "queued_duration": NUM, "coverage": STR,
        "detailed_status": _obj(icon=STR, text=STR, label=STR, group=STR, tooltip=STR, has_details=BOOL,
                                details_path=STR, illustration=_n("object"), favicon=STR),
    }, ["id"]),
}
