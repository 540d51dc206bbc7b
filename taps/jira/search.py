"""The incremental issue search, seeking rather than paging.

The search is ordered by ``updated``, and an issue changed while the tap reads moves from where it
was to the end. Offset pages (``startAt``, and Jira's ``nextPageToken``, which may be one) then shift:
the issue that followed a page slides back onto that page, already read, and is never seen, while the
bookmark moves past it. So after each page the search is asked again, from the minute of the newest
``updated`` on that page (JQL compares to the minute): nothing newer than that page can have slipped
behind it. The issues of that minute come again; the stream's window drops those already emitted
(:meth:`taps.jira.window.Window.advance`).

When a page ends in the minute the search already starts from (more issues share one minute than a
page holds), asking again would return the same page forever: the search then follows its own cursor
within that minute, until a page ends in a later one. A cursor that comes twice in one search would
never end (or end with issues missing): an error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from protocol import FatalSourceError
from taps.jira.client import JiraClient, SearchPage
from taps.jira.window import jira_time

__all__ = ["IssueSearch"]


def newest(issues: list[dict[str, Any]]) -> str | None:
    """The newest ``updated`` on a page (UTC text), None when no issue has one."""
    times = [jira_time((raw.get("fields") or {}).get("updated")) for raw in issues]
    return max((t for t in times if t is not None), default=None)


class IssueSearch:
    """The pages of a search from ``start`` (UTC text, or None: from the first issue); ``jql(start)`` is
    the search from a start. Reads only what it is answered, so it may run ahead in another thread."""

    def __init__(self, client: JiraClient, stream: str, jql: Callable[[str | None], str], start: str | None,
                 fields: str) -> None:
        self.client, self.stream, self.jql = client, stream, jql
        self.start, self.fields = start, fields

    def pages(self) -> Iterator[list[dict[str, Any]]]:
        start, query = self.start, self.jql(self.start)
        cursor: int | str | None = None
        tokens: set[str] = set()
        while True:
            page = self.client.search_page(query, self.fields, cursor)
            yield page.issues
            if page.next is None:
                return
            last = newest(page.issues)
            again = self.jql(last) if last is not None and (start is None or last > start) else query
            if again != query:  # a later minute: ask again from it
                start, query, cursor, tokens = last, again, None, set()
                continue
            cursor = self.follow(page, tokens)

    def follow(self, page: SearchPage, tokens: set[str]) -> int | str | None:
        """The cursor of the search's next page (a crowded minute), refused when a token comes twice."""
        if isinstance(page.next, str):
            if page.next in tokens:
                raise FatalSourceError(f"stream '{self.stream}': {self.client.search_endpoint}: nextPageToken "
                                       f"{page.next!r} came twice; paging would not end")
            tokens.add(page.next)
        return page.next
