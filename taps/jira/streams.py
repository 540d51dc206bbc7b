"""The Jira streams.

    projects, users, boards      full listings (startAt pages; users: bare arrays)
    sprints                      per board (Agile API); a board that answers 400 (no sprints: kanban,
                                 simple) is skipped with a log line; a sprint shared by boards once
    issues                       JQL search, incremental on ``updated`` (see :mod:`taps.jira.window`)
    issue_comments,              the comments / change history of every issue the same search finds
    issue_changelogs             changed, each stream with its own window and bookmark (``issue_updated``)
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from protocol import Bookmarks, Stream
from protocol.http import HttpFatalError
from taps.jira.client import API, prefetched
from taps.jira.schemas import SCHEMAS
from taps.jira.search import IssueSearch
from taps.jira.window import Window, jira_time, search_jql

if TYPE_CHECKING:
    from taps.jira.tap import TapJira

__all__ = ["STREAM_TYPES", "JiraStream"]

log = logging.getLogger("tap-jira")

#: Jira's times in nested objects: ``+0100`` offsets made RFC 3339 (``+01:00``)
_TIME_FIELDS = ("created", "updated", "resolutiondate", "statuscategorychangedate", "lastViewed")


def rfc3339(value: Any) -> Any:
    """``2024-01-01T10:15:30.123+0100`` -> ``...+01:00`` (Jira writes offsets without the colon)."""
    if isinstance(value, str) and len(value) > 5 and value[-5] in "+-" and value[-3] != ":":
        return f"{value[:-2]}:{value[-2:]}"
    return value


class JiraStream(Stream):
    manages_bookmark = True
    tap: TapJira

    @property
    def schema(self) -> dict[str, Any]:
        return SCHEMAS[self.name]

    def fields(self) -> tuple[str, ...]:
        return tuple(self.schema["properties"])


class ListingStream(JiraStream):
    """A full listing of ``path`` (under the REST or the Agile API), de-duplicated by primary key."""

    path: ClassVar[str] = ""
    agile: ClassVar[bool] = False
    key: ClassVar[str | None] = "values"
    params: ClassVar[dict[str, Any]] = {}

    def get_records(self, bookmarks: Bookmarks) -> Iterator[dict[str, Any]]:
        client, fields = self.tap.client, self.fields()
        base, prefix = (client.settings.agile_url, "/rest/agile/1.0") if self.agile else (client.api, API)
        pk = self.primary_keys[0]
        seen: set[Any] = set()
        size = client.settings.page_sizes[self.name]
        for rows in client.pages(base + self.path, prefix + self.path, self.key, size, self.params):
            for raw in rows:
                if raw.get(pk) not in seen:
                    seen.add(raw.get(pk))
                    yield {f: raw.get(f) for f in fields}


class ProjectsStream(ListingStream):
    name = "projects"
    primary_keys = ("id",)
    path = "/project/search"
    params: ClassVar[dict[str, Any]] = {"expand": "description,lead,url,projectKeys,insight"}


class UsersStream(ListingStream):
    name = "users"
    primary_keys = ("accountId",)
    path = "/users/search"
    key = None


class BoardsStream(ListingStream):
    name = "boards"
    primary_keys = ("id",)
    path = "/board"
    agile = True


class SprintsStream(JiraStream):
    name = "sprints"
    primary_keys = ("id",)

    def get_records(self, bookmarks: Bookmarks) -> Iterator[dict[str, Any]]:
        client, fields = self.tap.client, self.fields()
        agile, size = client.settings.agile_url, client.settings.page_sizes["sprints"]
        seen: set[Any] = set()
        boards = BoardsStream(self.tap).get_records(bookmarks)
        for board in boards:
            endpoint = "/rest/agile/1.0/board/{boardId}/sprint"
            try:
                for rows in client.pages(f"{agile}/board/{board['id']}/sprint", endpoint, "values", size):
                    for raw in rows:
                        if raw.get("id") not in seen:
                            seen.add(raw.get("id"))
                            record = {f: rfc3339(raw.get(f)) for f in fields}
                            record["board_id"] = board["id"]
                            yield record
            except HttpFatalError as exc:
                if exc.status != 400:
                    raise
                log.info("board %s (%s) has no sprints: %s; skipped", board["id"], board.get("name"), exc)


class IssueSearchStream(JiraStream):
    """Streams read from the issues an incremental JQL search finds (see :mod:`taps.jira.window`)."""

    search_fields: ClassVar[str | None] = None  # None: the configured fields
    reads_ahead: ClassVar[bool] = True  # False: records() sends requests of its own (one thread at a time)

    def get_records(self, bookmarks: Bookmarks) -> Iterator[dict[str, Any]]:
        settings, key = self.tap.settings, self.replication_key or ""
        window = Window.open(self.name, bookmarks, settings.start_date, settings.end_date)
        zone, fields = self.tap.zone(), self.search_fields or _with_times(settings.fields)
        end = window.end
        search = IssueSearch(self.tap.client, self.name, lambda start: search_jql(settings.jql, start, end, zone),
                             window.start, fields)
        # read ahead only by a stream that sends no request of its own meanwhile (one thread at a time)
        pages = prefetched(search.pages()) if self.reads_ahead else search.pages()
        for issues in pages:
            for raw in issues:
                issue_fields = raw.get("fields") or {}
                updated = jira_time(issue_fields.get("updated"))
                if window.accept(str(raw.get("id")), updated):
                    yield from self.records(raw, updated)
            window.save(bookmarks, key)
            window.advance()  # the search may ask again from the newest minute: drop what was read

    def records(self, raw: dict[str, Any], updated: str | None) -> Iterator[dict[str, Any]]:
        raise NotImplementedError


def _with_times(fields: str) -> str:
    names = {f.strip() for f in fields.split(",")}
    if names & {"*all", "*navigable"}:
        return fields
    return ",".join([fields, *sorted({"created", "updated"} - names)])


class IssuesStream(IssueSearchStream):
    name = "issues"
    primary_keys = ("id",)
    replication_key = "updated"

    def records(self, raw: dict[str, Any], updated: str | None) -> Iterator[dict[str, Any]]:
        fields = dict(raw.get("fields") or {})
        for name in _TIME_FIELDS:
            if name in fields:
                fields[name] = rfc3339(fields[name])
        yield {"id": raw.get("id"), "key": raw.get("key"), "self": raw.get("self"), "expand": raw.get("expand"),
               "created": jira_time(fields.get("created"), "created"), "updated": updated, "fields": fields}


class IssueChildStream(IssueSearchStream):
    """A per-issue listing: every entry of each issue found changed (the API has no "since" here)."""

    replication_key = "issue_updated"
    search_fields = "updated"
    reads_ahead = False
    path: ClassVar[str] = ""
    key: ClassVar[str] = "values"
    size_name: ClassVar[str] = ""

    def records(self, raw: dict[str, Any], updated: str | None) -> Iterator[dict[str, Any]]:
        client, fields = self.tap.client, self.fields()
        issue_id = str(raw.get("id"))
        context = {"issue_id": issue_id, "issue_key": raw.get("key"), "issue_updated": updated}
        url, endpoint = f"{client.api}/issue/{issue_id}/{self.path}", f"{API}/issue/{{issueIdOrKey}}/{self.path}"
        try:
            for rows in client.pages(url, endpoint, self.key, client.settings.page_sizes[self.size_name]):
                for entry in rows:
                    record = {f: entry.get(f) for f in fields}
                    record["created"] = rfc3339(record["created"])
                    if "updated" in record:
                        record["updated"] = rfc3339(record["updated"])
                    yield {**record, **context}
        except HttpFatalError as exc:
            if exc.status != 404:
                raise
            log.info("%s: issue %s is gone since the search (%s); skipped", self.name, raw.get("key"), exc)


class IssueCommentsStream(IssueChildStream):
    name = "issue_comments"
    primary_keys = ("id",)
    path = "comment"
    key = "comments"
    size_name = "comments"


class IssueChangelogsStream(IssueChildStream):
    name = "issue_changelogs"
    primary_keys = ("id",)
    path = "changelog"
    size_name = "changelogs"


STREAM_TYPES: list[type[JiraStream]] = [
    ProjectsStream, IssuesStream, IssueCommentsStream, IssueChangelogsStream, UsersStream, BoardsStream,
    SprintsStream]
