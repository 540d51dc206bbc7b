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
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from protocol import Bookmarks, Stream, saved_instant
from taps.gitlab.schemas import SCHEMAS
from taps.gitlab.settings import gitlab_instant, gitlab_time

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
    ascending: ClassVar[bool] = True  # False: newest first, the bookmark moves when the project is done
    live: ClassVar[bool] = True  # the bookmark moves with each record (see Window)

    def listing(self, project: dict[str, Any], window: Window) -> Iterator[list[dict[str, Any]]]:
        """The project's records from the window's start. Ascending listings seek: each page is asked
        for ``updated_after`` the newest value seen (page 1 again), so records that change meanwhile
        cannot shift one past the offset and out of the run; the page number grows only while a
        whole page shares one value. Newest-first listings (commits) follow the offset pages."""
        path, endpoint = f"/projects/{project['id']}/{self.path}", f"/projects/:id/{self.path}"
        since = window.start
        params = {**self.params, self.since_param: since} if since else dict(self.params)
        if not self.ascending:
            yield from self.tap.client.pages(path, endpoint, params)
            return
        page = 1
        while True:
            rows, more = self.tap.client.page(path, endpoint, {**params, "page": page})
            yield rows
            if not more:
                return
            if window.best is not None and window.best != since:
                since, page = window.best, 1
                params[self.since_param] = since
            else:
                page += 1

    def get_records(self, bookmarks: Bookmarks) -> Iterator[dict[str, Any]]:
        for project in self.tap.projects():
            window = Window(self, bookmarks, {"project_path": project["path_with_namespace"]}, live=self.live)
            yield from self.project_records(project, window)
            window.save()

    def project_records(self, project: dict[str, Any], window: Window) -> Iterator[dict[str, Any]]:
        fields, key = self.fields(), self.replication_key or ""
        path = window.context["project_path"]
        for rows in self.listing(project, window):
            for raw in rows:
                if window.admit(raw.get(key), raw.get("id")):
                    record = {f: raw.get(f) for f in fields}
                    record["project_path"] = path
                    yield record


class Window:
    """One partition's bookmark. GitLab's ``updated_after`` and ``since`` are inclusive, so the
    bookmark also keeps the ids already emitted at its exact value (``ids_at_value``): a rerun
    skips those, so nothing comes twice, while a record changed since comes again.

    Times are compared as instants (``*_at``), never as text: a saved bookmark may be any RFC 3339
    form of its time (an offset, no milliseconds: set by hand, or by another GitLab tap), whose text
    does not sort with GitLab's. The texts kept are GitLab's form: what the API is asked from
    (``start``) and what the bookmark is moved to (``best``, the newest record's own time).

    ``live`` (ascending listings): the bookmark moves with each record admitted, so a STATE the
    sync loop writes between two records covers exactly the records written before it.
    Otherwise it moves on :meth:`save` (when the project is done).
    """

    def __init__(self, stream: ProjectChildStream, bookmarks: Bookmarks, context: dict[str, Any],
                 live: bool = False) -> None:
        self.name, self.key, self.live = stream.name, stream.replication_key or "", live
        self.bookmarks, self.context = bookmarks, context
        part = bookmarks.get_partition(stream.name, context)
        value = part.get("replication_key_value")
        self._saved_at = None if value is None else saved_instant(stream.name, value, str(context))
        start = stream.tap.settings.start_date if self._saved_at is None else gitlab_time(str(value))
        self.start: str | None = start
        self._start_at = self._saved_at or (gitlab_instant(start) if start else None)  # exact, not ms
        self.best: str | None = self.start if value is not None else None
        self._best_at = self._saved_at
        self.ids: list[Any] = list(part.get("ids_at_value") or []) if value is not None else []
        self._skip = set(self.ids)
        self._at_best = set(self.ids)
        self._bound = False  # live: the bookmark holds self.ids
        if live and value is not None:
            self._bind()

    def _bind(self) -> None:
        self.bookmarks.set_partition(self.name, self.context, "ids_at_value", self.ids)
        self._bound = True

    def admit(self, raw_value: Any, ident: Any) -> bool:
        """Whether a record is new: at or after the start, and not emitted at the bookmark's value
        before (by an earlier run, or by this one: a seeking listing asks from the newest value again)."""
        if not raw_value:
            return True
        value, at = gitlab_time(raw_value), gitlab_instant(str(raw_value))
        start = self._start_at
        if start is not None and (at < start or (at == start and ident in self._skip)):
            return False
        if self._best_at is None or at > self._best_at:
            self.best, self._best_at, self.ids, self._at_best = value, at, [ident], {ident}
            if self.live:  # no deep copies per record: the values only grow, the list is the bookmark's
                self._store(value, at)
                self._bind()
        elif at == self._best_at:
            if ident in self._at_best:
                return False
            self._at_best.add(ident)
            self.ids.append(ident)
        return True

    def _store(self, value: str, at: datetime) -> None:
        """Move the bookmark to ``value``, newer than what it holds: the window decides that by instant
        (the state's own "never backward" compares texts, which need not sort as times)."""
        self.bookmarks.set_partition(self.name, self.context, "replication_key", self.key)
        self.bookmarks.set_partition(self.name, self.context, "replication_key_value", value)
        self._saved_at = at

    def save(self) -> None:
        """Move the bookmark to the newest value admitted so far (never backward)."""
        if self.best is None or self._best_at is None or self.live:
            return
        if self._saved_at is None or self._best_at > self._saved_at:
            self._store(self.best, self._best_at)
        if self._best_at == self._saved_at:
            self.bookmarks.set_partition(self.name, self.context, "ids_at_value", list(self.ids))


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
    ascending = live = False  # newest first: the bookmark moves when the project is done


class PerParentStream(ProjectChildStream):
    """Records read per changed parent (a merge request, a pipeline) of a project's listing; the
    bookmark (the parent's ``updated_at``) moves after each parent's records."""

    live = False

    def project_records(self, project: dict[str, Any], window: Window) -> Iterator[dict[str, Any]]:
        for rows in self.listing(project, window):
            for parent in rows:
                if window.admit(parent.get("updated_at"), parent.get("id")):
                    yield from self.children(project, parent, window.context)
                    window.save()

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
