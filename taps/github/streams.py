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
from typing import TYPE_CHECKING, Any, ClassVar

from protocol import Bookmarks, Stream
from taps.github.keyset import KeysetListing
from taps.github.schemas import SCHEMAS

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

    def start_value(self, bookmarks: Bookmarks, context: dict[str, Any]) -> str | None:
        value = bookmarks.partition_value(self.name, context)
        return str(value) if value is not None else self.tap.settings.start_date

    def get_records(self, bookmarks: Bookmarks) -> Iterator[dict[str, Any]]:
        fields = self.fields()
        key = self.replication_key
        assert key is not None
        for full_name in self.tap.settings.repositories:
            org, repo = full_name.split("/", 1)
            context = {"org": org, "repo": repo}
            repo_id = self.tap.client.repository(full_name).get("id")
            start = self.start_value(bookmarks, context)
            best: str | None = None
            for rows in self._pages(full_name, start):
                stop = False
                for raw in rows:
                    record = {f: raw.get(f) for f in fields}
                    record["org"], record["repo"], record["repo_id"] = org, repo, repo_id
                    value = self.replication_value(raw, record)
                    if start is not None and value is not None and value < start:
                        stop = not self.uses_since  # newest first, no since: the rest is older
                        continue
                    if value is not None and (best is None or value > best):
                        best = value
                    yield record
                if self.ascending and best is not None:
                    bookmarks.advance_partition(self.name, context, key, best)
                if stop:
                    break
            if best is not None:
                bookmarks.advance_partition(self.name, context, key, best)

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
