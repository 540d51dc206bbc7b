"""The GitLab streams. ``projects`` is the parent: the configured projects and every project of the
configured groups (subgroups included). The others are read per project (their partition context
is ``{"project_path": ...}``, as in MeltanoLabs tap-gitlab) and keep one bookmark per project.

    issues, merge_requests,   ``updated_after`` + ``order_by=updated_at&sort=asc``: the bookmark
    pipelines                 moves after each page
    commits                   ``since`` (newest first): the bookmark moves when the project is done
    merge_request_commits,    the merge requests / pipelines changed since the bookmark, then one
    pipelines_extended        listing / object each; the bookmark moves after each parent
    users                     a project's users, each user once per run (full table)
    site_users                ``GET /users``, keyset pages (full table)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from protocol import Bookmarks, Stream
from taps.gitlab.schemas import SCHEMAS
from taps.gitlab.settings import gitlab_time

if TYPE_CHECKING:
    from taps.gitlab.tap import TapGitLab

__all__ = ["OPT_IN", "STREAM_TYPES", "GitLabStream"]


class GitLabStream(Stream):
    manages_bookmark = True
    tap: TapGitLab
    extra: ClassVar[tuple[str, ...]] = ("project_path",)  # fields the tap adds, not read from the API

    @property
    def schema(self) -> dict[str, Any]:
        return SCHEMAS[self.name]

    def fields(self) -> list[str]:
        return [f for f in self.schema["properties"] if f not in self.extra]


class ProjectsStream(GitLabStream):
    name = "projects"
    primary_keys = ("id",)

    def get_records(self, bookmarks: Bookmarks) -> Iterator[dict[str, Any]]:
        fields = self.fields()
        for raw in self.tap.projects():
            yield {f: raw.get(f) for f in fields}


class ProjectChildStream(GitLabStream):
    """A per-project listing at ``path``, incremental by ``replication_key`` through ``since_param``."""

    path: ClassVar[str] = ""
    params: ClassVar[dict[str, Any]] = {}
    since_param: ClassVar[str] = "updated_after"
    ascending: ClassVar[bool] = True

    def start_value(self, bookmarks: Bookmarks, context: dict[str, Any]) -> str | None:
        value = bookmarks.partition_value(self.name, context)
        return str(value) if value is not None else self.tap.settings.start_date

    def get_records(self, bookmarks: Bookmarks) -> Iterator[dict[str, Any]]:
        for project in self.tap.projects():
            context = {"project_path": project["path_with_namespace"]}
            yield from self.project_records(project, context, bookmarks)

    def listing(self, project: dict[str, Any], start: str | None) -> Iterator[list[dict[str, Any]]]:
        params = dict(self.params)
        if start:
            params[self.since_param] = start
        return self.tap.client.pages(f"/projects/{project['id']}/{self.path}", f"/projects/:id/{self.path}", params)

    def project_records(self, project: dict[str, Any], context: dict[str, Any],
                        bookmarks: Bookmarks) -> Iterator[dict[str, Any]]:
        fields, key = self.fields(), self.replication_key
        assert key is not None
        start = self.start_value(bookmarks, context)
        best: str | None = None
        path = context["project_path"]
        for rows in self.listing(project, start):
            for raw in rows:
                value = raw.get(key)
                value = gitlab_time(value) if value else None
                if start is not None and value is not None and value < start:
                    continue  # (commits) older than the bookmark
                if value is not None and (best is None or value > best):
                    best = value
                record = {f: raw.get(f) for f in fields}
                record["project_path"] = path
                yield record
            if self.ascending and best is not None:
                bookmarks.advance_partition(self.name, context, key, best)
        if best is not None:
            bookmarks.advance_partition(self.name, context, key, best)


class IssuesStream(ProjectChildStream):
    name = "issues"
    primary_keys = ("id",)
    replication_key = "updated_at"
    path = "issues"
    params: ClassVar[dict[str, Any]] = {"scope": "all", "order_by": "updated_at", "sort": "asc"}


class MergeRequestsStream(ProjectChildStream):
    name = "merge_requests"
    primary_keys = ("id",)
    replication_key = "updated_at"
    path = "merge_requests"
    params: ClassVar[dict[str, Any]] = {"scope": "all", "state": "all", "order_by": "updated_at", "sort": "asc"}


class PipelinesStream(ProjectChildStream):
    name = "pipelines"
    primary_keys = ("id",)
    replication_key = "updated_at"
    path = "pipelines"
    params: ClassVar[dict[str, Any]] = {"order_by": "updated_at", "sort": "asc"}


class CommitsStream(ProjectChildStream):
    name = "commits"
    primary_keys = ("id",)
    replication_key = "created_at"
    path = "repository/commits"
    params: ClassVar[dict[str, Any]] = {"with_stats": "true"}
    since_param = "since"
    ascending = False  # newest first: the bookmark moves when the project is done


class PerParentStream(ProjectChildStream):
    """Records read per changed parent (a merge request, a pipeline) of a project's listing."""

    def project_records(self, project: dict[str, Any], context: dict[str, Any],
                        bookmarks: Bookmarks) -> Iterator[dict[str, Any]]:
        key = self.replication_key
        assert key is not None
        start = self.start_value(bookmarks, context)
        for rows in self.listing(project, start):
            for parent in rows:
                yield from self.children(project, parent, context)
                value = parent.get("updated_at")
                if value:
                    bookmarks.advance_partition(self.name, context, key, gitlab_time(value))

    def children(self, project: dict[str, Any], parent: dict[str, Any],
                 context: dict[str, Any]) -> Iterator[dict[str, Any]]:
        raise NotImplementedError


class MergeRequestCommitsStream(PerParentStream):
    name = "merge_request_commits"
    primary_keys = ("project_id", "merge_request_iid", "commit_id")
    replication_key = "merge_request_updated_at"
    path = MergeRequestsStream.path
    params = MergeRequestsStream.params
    extra = ("project_path", "project_id", "commit_id", "merge_request_iid", "merge_request_updated_at")

    def children(self, project: dict[str, Any], parent: dict[str, Any],
                 context: dict[str, Any]) -> Iterator[dict[str, Any]]:
        fields, iid = self.fields(), parent["iid"]
        url = f"/projects/{project['id']}/merge_requests/{iid}/commits"
        for rows in self.tap.client.pages(url, "/projects/:id/merge_requests/:iid/commits", {}):
            for raw in rows:
                record = {f: raw.get(f) for f in fields}
                record.update(project_id=project["id"], commit_id=raw.get("id"), merge_request_iid=iid,
                              merge_request_updated_at=parent.get("updated_at"), **context)
                yield record


class PipelinesExtendedStream(PerParentStream):
    name = "pipelines_extended"
    primary_keys = ("id",)
    replication_key = "updated_at"
    path = PipelinesStream.path
    params = PipelinesStream.params

    def children(self, project: dict[str, Any], parent: dict[str, Any],
                 context: dict[str, Any]) -> Iterator[dict[str, Any]]:
        raw = self.tap.client.get(f"/projects/{project['id']}/pipelines/{parent['id']}",
                                  "/projects/:id/pipelines/:pipeline_id")
        yield {**{f: raw.get(f) for f in self.fields()}, **context}


class UsersStream(GitLabStream):
    """The users of every project (``GET /projects/:id/users``), each once per run."""

    name = "users"
    primary_keys = ("id",)

    def get_records(self, bookmarks: Bookmarks) -> Iterator[dict[str, Any]]:
        fields, seen = self.fields(), set()
        for project in self.tap.projects():
            for rows in self.tap.client.pages(f"/projects/{project['id']}/users", "/projects/:id/users", {}):
                for raw in rows:
                    if raw.get("id") not in seen:
                        seen.add(raw.get("id"))
                        yield {f: raw.get(f) for f in fields}


class SiteUsersStream(GitLabStream):
    """Every user of the instance (``GET /users``), keyset-paged by id."""

    name = "site_users"
    primary_keys = ("id",)

    def get_records(self, bookmarks: Bookmarks) -> Iterator[dict[str, Any]]:
        fields = self.fields()
        for rows in self.tap.client.keyset_pages("/users", "/users", {}):
            for raw in rows:
                yield {f: raw.get(f) for f in fields}


STREAM_TYPES: list[type[GitLabStream]] = [
    ProjectsStream, IssuesStream, MergeRequestsStream, CommitsStream, PipelinesStream, UsersStream,
    MergeRequestCommitsStream, PipelinesExtendedStream, SiteUsersStream]

#: streams offered only when their setting is true
OPT_IN = {"merge_request_commits": "fetch_merge_request_commits", "pipelines_extended": "fetch_pipelines_extended",
          "site_users": "fetch_site_users"}
