"""The GitHub streams. ``repositories`` is the parent; the others are read per repository
(their partition context is ``{"org", "repo"}``, as in MeltanoLabs tap-github) and keep one
bookmark per repository.

    issues, issue_comments   ``since`` + ascending ``updated_at``, keyset paging (taps/github/keyset.py):
                             each page asks again from the newest ``updated_at`` seen; the bookmark
                             moves after each page
    commits                  ``since`` (newest first): the bookmark moves when the repository is done
    pull_requests            no ``since`` in the API: newest updated first, paging stops at the bookmark
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from protocol import Bookmarks, FatalSourceError, Stream, saved_instant
from taps.github.keyset import KeysetListing
from taps.github.schemas import SCHEMAS
from taps.github.settings import github_instant, github_time

if TYPE_CHECKING:
    from taps.github.tap import TapGitHub

__all__ = ["STREAM_TYPES", "GitHubStream"]


class GitHubStream(Stream):
    manages_bookmark = True
    tap: TapGitHub

    @property
    def schema(self) -> dict[str, Any]:
        return SCHEMAS[self.name]

    def fields(self) -> list[str]:
        return [f for f in self.schema["properties"] if f not in ("org", "repo", "repo_id")]


class RepositoriesStream(GitHubStream):
    name = "repositories"
    primary_keys = ("id",)

    def get_records(self, bookmarks: Bookmarks) -> Iterator[dict[str, Any]]:
        fields = self.fields()
        for full_name in self.tap.settings.repositories:
            raw = self.tap.client.repository(full_name)
            org, repo = full_name.split("/", 1)
            yield {**{f: raw.get(f) for f in fields}, "org": org, "repo": repo}


class RepoChildStream(GitHubStream):
    """A per-repository listing, incremental by ``replication_key``."""

    path: ClassVar[str] = ""
    params: ClassVar[dict[str, Any]] = {}
    uses_since: ClassVar[bool] = True
    ascending: ClassVar[bool] = True
    keyset: ClassVar[bool] = False  # sorted by updated_at ascending with ``since``: page by ``since``

    def start_value(self, bookmarks: Bookmarks, context: dict[str, Any]) -> Mark:
        """Where a repository's listing starts: its bookmark (checked to be a time), else start_date."""
        value = bookmarks.partition_value(self.name, context)
        if value is None:
            start = self.tap.settings.start_date
            return Mark(self.name, context, start, github_instant(start) if start else None, None)
        at = saved_instant(self.name, value, str(context))
        return Mark(self.name, context, github_time(at), at, at)

    def get_records(self, bookmarks: Bookmarks) -> Iterator[dict[str, Any]]:
        fields = self.fields()
        for full_name in self.tap.settings.repositories:
            org, repo = full_name.split("/", 1)
            context = {"org": org, "repo": repo}
            repo_id = self.tap.client.repository(full_name).get("id")
            mark = self.start_value(bookmarks, context)
            for rows in self._pages(full_name, mark.text):
                stop = False
                for raw in rows:
                    record = {f: raw.get(f) for f in fields}
                    record["org"], record["repo"], record["repo_id"] = org, repo, repo_id
                    if not mark.admit(self.replication_value(raw, record)):
                        stop = not self.uses_since  # newest first, no since: the rest is older
                        continue
                    yield record
                if self.ascending:
                    mark.save(bookmarks, self.replication_key or "")
                if stop:
                    break
            mark.save(bookmarks, self.replication_key or "")

    def _pages(self, full_name: str, start: str | None) -> Iterator[list[dict[str, Any]]]:
        """The listing's pages: by keyset where the listing allows it (an update during the run cannot
        shift a row past the tap), else by the Link header."""
        if self.keyset:
            assert self.replication_key is not None
            listing = KeysetListing(self.tap.client, self.name, self.replication_key)
            return listing.pages(full_name, self.path, self.params, start)
        params = dict(self.params)
        if start and self.uses_since:
            params["since"] = start
        return self.tap.client.pages(full_name, self.path, params)

    def replication_value(self, raw: dict[str, Any], record: dict[str, Any]) -> str | None:
        return record.get(self.replication_key or "")


class Mark:
    """One repository's bookmark during a run. Times are compared as instants, never as text: a saved
    bookmark may be any RFC 3339 form of its time (an offset, milliseconds: set by hand, or by another
    GitHub tap), whose text does not sort with GitHub's. ``text`` is the start in GitHub's form (what
    ``since`` asks from, floored to the second: ``since`` is inclusive); the bookmark is moved to the
    newest record's own time."""

    def __init__(self, stream: str, context: dict[str, Any], text: str | None, at: datetime | None,
                 saved_at: datetime | None) -> None:
        self.stream, self.context, self.text, self.at, self.saved_at = stream, context, text, at, saved_at
        self.best: str | None = None
        self.best_at: datetime | None = None

    def admit(self, value: str | None) -> bool:
        """Whether a record with this replication value is not older than the start (noting the newest)."""
        if value is None:
            return True
        try:
            at = github_instant(str(value))
        except ValueError as exc:
            raise FatalSourceError(f"stream '{self.stream}': replication value {value!r} is not a date-time") from exc
        if self.at is not None and at < self.at:
            return False
        if self.best_at is None or at > self.best_at:
            self.best, self.best_at = value, at
        return True

    def save(self, bookmarks: Bookmarks, key: str) -> None:
        """Move the bookmark to the newest time admitted when it is newer (decided by instant: the
        state's own "never backward" compares texts, which need not sort as times)."""
        if self.best is None or self.best_at is None or (self.saved_at is not None and self.best_at <= self.saved_at):
            return
        bookmarks.set_partition(self.stream, self.context, "replication_key", key)
        bookmarks.set_partition(self.stream, self.context, "replication_key_value", self.best)
        self.saved_at = self.best_at


class IssuesStream(RepoChildStream):
    name = "issues"
    primary_keys = ("id",)
    replication_key = "updated_at"
    path = "issues"
    params: ClassVar[dict[str, Any]] = {"state": "all", "sort": "updated", "direction": "asc"}
    keyset = True


class IssueCommentsStream(RepoChildStream):
    name = "issue_comments"
    primary_keys = ("id",)
    replication_key = "updated_at"
    path = "issues/comments"
    params: ClassVar[dict[str, Any]] = {"sort": "updated", "direction": "asc"}
    keyset = True


class PullRequestsStream(RepoChildStream):
    name = "pull_requests"
    primary_keys = ("id",)
    replication_key = "updated_at"
    path = "pulls"
    params: ClassVar[dict[str, Any]] = {"state": "all", "sort": "updated", "direction": "desc"}
    uses_since = False
    ascending = False


class CommitsStream(RepoChildStream):
    name = "commits"
    primary_keys = ("node_id",)
    replication_key = "commit_timestamp"
    path = "commits"
    ascending = False

    def fields(self) -> list[str]:
        return [f for f in super().fields() if f != "commit_timestamp"]

    def replication_value(self, raw: dict[str, Any], record: dict[str, Any]) -> str | None:
        committer = (raw.get("commit") or {}).get("committer") or {}
        value = committer.get("date")
        record["commit_timestamp"] = value
        return value  # type: ignore[no-any-return]


STREAM_TYPES: list[type[GitHubStream]] = [
    RepositoriesStream, IssuesStream, PullRequestsStream, CommitsStream, IssueCommentsStream]
