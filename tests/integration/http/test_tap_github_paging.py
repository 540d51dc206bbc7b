"""tap-github paging of the ``since`` + updated-ascending listings (issues, issue comments) while the
data changes under it: an update between pages must not shift a row past the tap, and many rows at
one ``updated_at`` must neither loop nor be lost. The server is the loopback FakeApi, with changes
scripted between requests (as when someone comments on an issue during the run)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.integration.http.servers import TOKEN, FakeApi, iso
from tests.integration.http.tapio import Result, select, tap

HELLO = "octo/hello"
ISSUES = "/repos/octo/hello/issues"
COMMENTS = "/repos/octo/hello/issues/comments"
FAST = {"backoff_base": 0.01, "backoff_max": 0.05}


class ChangingApi(FakeApi):
    """FakeApi that runs a scripted change right after answering a listing request."""

    def __init__(self) -> None:
        super().__init__()
        self.after: dict[str, list[Callable[[], None]]] = {}
        self.stuck_link = False
        self.elsewhere_link = False
        self.ignore_since = False

    def _github(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        if self.ignore_since:  # a broken server (or proxy) that drops the since parameter
            query = {k: v for k, v in query.items() if k != "since"}
        status, headers, body = super()._github(path, query)
        answer = status, headers, copy.deepcopy(body)  # served as it was: the change comes after
        hooks = self.after.get(path)
        if hooks:
            hooks.pop(0)()
        if self.stuck_link and "Link" in answer[1]:  # a broken server: "next" is always page 2
            answer[1]["Link"] = f'<{self.url}{path}?{urlencode({**query, "page": 2})}>; rel="next"'
        if self.elsewhere_link and "Link" in answer[1]:  # "next" on another origin (this server, by another name)
            other = self.url.replace("127.0.0.1", "localhost")
            answer[1]["Link"] = f'<{other}{path}?{urlencode({**query, "page": 2})}>; rel="next"'
        return answer

    def touch(self, rows: list[dict[str, Any]], ids: set[int], minutes: int) -> None:
        """Update these rows (by id) now: their updated_at moves to ``minutes``."""
        for row in rows:
            if row["id"] in ids:
                row["updated_at"] = iso(minutes)
        with self._lock:
            self._views.clear()


@pytest.fixture
def api() -> Iterator[ChangingApi]:
    with ChangingApi() as server:
        yield server


def run(tmp_path: Path, api: FakeApi, stream: str, state: dict[str, Any] | None = None, ok: bool = True) -> Result:
    cfg = {"repositories": [HELLO], "auth_token": TOKEN, "api_url": api.url, "per_page": 10, **FAST}
    catalog = select(json.loads(tap("tap-github", tmp_path, cfg, "--discover").stdout), stream)
    return tap("tap-github", tmp_path, cfg, catalog=catalog, state=state, ok=ok)


def resumable_loses_nothing(result: Result, stream: str, final: list[dict[str, Any]]) -> None:
    """Resuming from any STATE the tap wrote (``since`` = its bookmark, inclusive) gets every row not
    emitted before it: the bookmark never passed a row not yet emitted."""
    emitted: set[int] = set()
    for message in result.messages:
        if message["type"] == "RECORD" and message["stream"] == stream:
            emitted.add(message["record"]["id"])
        elif message["type"] == "STATE":
            partitions = message["value"].get("bookmarks", {}).get(stream, {}).get("partitions", [])
            mark = partitions[0]["replication_key_value"] if partitions else None
            resumed = {row["id"] for row in final if mark is None or row["updated_at"] >= mark}
            assert {row["id"] for row in final} - emitted - resumed == set(), f"STATE {mark} passed a row"


@pytest.mark.parametrize(("stream", "path"), [("issues", ISSUES), ("issue_comments", COMMENTS)])
def test_row_updated_between_pages_is_not_skipped(tmp_path: Path, api: ChangingApi, stream: str, path: str) -> None:
    repo = api.add_repo(HELLO, issues=30, comments=30)
    rows = repo.issues if stream == "issues" else repo.comments
    third = rows[2]["id"]
    api.after[path] = [lambda: api.touch(rows, {third}, minutes=100)]  # changed right after page 1
    result = run(tmp_path, api, stream)
    ids = [r["id"] for r in result.records(stream)]
    # every row once, and the changed one again in its new version (it moved to the end)
    assert sorted(ids) == sorted([r["id"] for r in rows] + [third])
    assert ids[-1] == third and result.records(stream)[-1]["updated_at"] == iso(100)
    resumable_loses_nothing(result, stream, rows)
    assert result.state["bookmarks"][stream]["partitions"][0]["replication_key_value"] == iso(100)
    # each page asks again from the newest updated_at served (GitHub's since is inclusive)
    assert [r.query.get("since") for r in api.requests(path)] == [None, iso(10), iso(19), iso(28)]


def test_more_rows_at_one_time_than_a_page_holds(tmp_path: Path, api: ChangingApi) -> None:
    repo = api.add_repo(HELLO, issues=40)
    api.touch(repo.issues, {r["id"] for r in repo.issues[7:32]}, minutes=20)  # issues 8..32: one updated_at
    result = run(tmp_path, api, "issues")
    numbers = [r["number"] for r in result.records("issues")]
    assert numbers == list(range(1, 41))  # each once, in order: no loop, no gap
    # since cannot move inside the group: the Link is followed there, then since moves on past it
    asked = [(r.query.get("since"), r.query.get("page")) for r in api.requests(ISSUES)]
    assert asked == [(None, None), (iso(20), None), (iso(20), "2"), (iso(20), "3"), (iso(37), None)]
    resumable_loses_nothing(result, "issues", repo.issues)
    assert result.state["bookmarks"]["issues"]["partitions"][0]["replication_key_value"] == iso(40)


def test_a_link_that_goes_round_stops_with_one_error(tmp_path: Path, api: ChangingApi) -> None:
    repo = api.add_repo(HELLO, issues=30)
    api.touch(repo.issues, {r["id"] for r in repo.issues}, minutes=5)  # one time: only the Link can page
    api.stuck_link = True
    result = run(tmp_path, api, "issues", ok=False)
    assert result.code != 0
    assert len(result.errors) == 1, result.stderr
    assert "stream 'issues'" in result.errors[0] and "paging would not end" in result.errors[0]
    assert len(api.requests(ISSUES)) < 10


def test_a_link_to_another_origin_is_not_followed(tmp_path: Path, api: ChangingApi) -> None:
    repo = api.add_repo(HELLO, issues=30)
    api.touch(repo.issues, {r["id"] for r in repo.issues}, minutes=5)  # one time: only the Link can page
    api.elsewhere_link = True
    result = run(tmp_path, api, "issues", ok=False)
    assert result.code != 0 and len(result.errors) == 1, result.stderr
    assert "stream 'issues'" in result.errors[0] and "another origin" in result.errors[0]
    assert TOKEN not in result.stderr
    assert [r for r in api.requests(ISSUES) if "page" in r.query] == []  # the token never went to the other origin


def test_an_api_that_ignores_since_stops_with_one_error(tmp_path: Path, api: ChangingApi) -> None:
    api.add_repo(HELLO, issues=30)
    api.ignore_since = True
    result = run(tmp_path, api, "issues", ok=False)
    assert result.code != 0
    assert len(result.errors) == 1, result.stderr
    assert "stream 'issues'" in result.errors[0] and "did not honour since" in result.errors[0]
    assert len(api.requests(ISSUES)) == 2  # the second answer showed since was ignored
