"""tap-jira end to end: the real console script against the loopback Jira (tests/integration/saas/jira_server.py)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.integration.http.tapio import Result, select, tap
from tests.integration.saas.jira_server import API_TOKEN, BASE, EMAIL, OAUTH_TOKEN, JiraApi

SEARCH = "/rest/api/3/search/jql"
FAST = {"backoff_base": 0.01, "backoff_max": 0.05}
ISSUE_STREAMS = ("issues", "issue_comments", "issue_changelogs")


@pytest.fixture
def api() -> Iterator[JiraApi]:
    with JiraApi(issues=250, comments=3, changelogs=2, users=120) as server:
        yield server


def jira(tmp_path: Path, api: JiraApi, *args: str, settings: dict[str, Any] | None = None, **kwargs: Any) -> Result:
    config = {"domain": api.url, "email": EMAIL, "api_token": API_TOKEN, **FAST, **(settings or {})}
    return tap("tap-jira", tmp_path, {k: v for k, v in config.items() if v is not None}, *args, **kwargs)


def catalog(tmp_path: Path, api: JiraApi, *streams: str) -> dict[str, Any]:
    return select(json.loads(jira(tmp_path, api, "--discover").stdout), *streams)


def ids(result: Result, stream: str = "issues") -> list[int]:
    return [int(r["id"]) - 10000 for r in result.records(stream)]


def test_full_sync_every_record_once(tmp_path: Path, api: JiraApi) -> None:
    result = jira(tmp_path, api)
    result.validate()  # every record matches its schema (Jira's +0100 offsets made RFC 3339)
    expected = {"projects": 2, "issues": 250, "issue_comments": 125 * 3, "issue_changelogs": 500, "users": 120,
                "boards": 3, "sprints": 4}
    for stream, count in expected.items():
        records = result.records(stream)
        key = "accountId" if stream == "users" else "id"
        assert len(records) == count == len({r[key] for r in records}), stream
    issue = result.records("issues")[0]
    assert issue["key"] == "BETA-1" and issue["updated"] == "2024-01-10T08:00:20.123Z"  # UTC, for the bookmark
    assert issue["fields"]["updated"] == "2024-01-10T09:00:20.123+01:00"  # Jira's time, offset made RFC 3339
    assert issue["fields"]["customfield_10016"] == 1
    comment = result.records("issue_comments")[0]
    assert (comment["issue_key"], comment["issue_updated"]) == ("BETA-1", "2024-01-10T08:00:20.123Z")
    # 100 a page: three pages, each a search of its own from the minute of the previous page's newest
    # issue (100: 08:33:20 UTC, 198: 09:06:00 UTC; 10:06 in Berlin), never an offset
    searches = api.requests(SEARCH)
    assert [r.query.get("jql") for r in searches[:3]] == [
        "ORDER BY updated ASC", 'updated >= "2024-01-10 09:33" ORDER BY updated ASC',
        'updated >= "2024-01-10 10:06" ORDER BY updated ASC']
    assert not [r for r in searches if "nextPageToken" in r.query] and searches[0].query["fields"] == "*all"
    assert searches[3].query["fields"] == "updated"  # the comments stream's own search: ids and times only
    # users: bare arrays, startAt paging until an empty page
    assert [r.query["startAt"] for r in api.requests("/rest/api/3/users/search")] == ["0", "100", "120"]
    # sprint 40 is on boards 1 and 3: once; the kanban board is skipped with one line
    assert sorted(r["id"] for r in result.records("sprints")) == [38, 39, 40, 41]
    assert "board 2 (BETA flow) has no sprints: " in result.stderr
    assert "HTTP 400 The board does not support sprints; skipped" in result.stderr
    bookmark = result.state["bookmarks"]["issues"]
    assert bookmark == {"replication_key": "updated", "replication_key_value": "2024-01-10T09:23:20.123Z",
                        "ids_at_bookmark": ["10250"]}
    assert API_TOKEN not in result.stderr


def test_incremental_rereads_the_boundary_minute_without_doubles(tmp_path: Path, api: JiraApi) -> None:
    first = jira(tmp_path, api)
    api.touch("10005", BASE + timedelta(hours=3))  # changed since
    api.add_issue(251, changelogs=2)  # updated 08:23:40.123 UTC: the bookmark's minute, after it
    api.touch("10251", BASE + timedelta(seconds=20 * 250, milliseconds=123))  # exactly at the bookmark, new id
    comment_requests = len(api.requests("/rest/api/3/issue/10005/comment"))
    second = jira(tmp_path, api, state=first.state)
    # JQL reads minutes in the user's zone (Berlin, +01:00): the bookmark's minute 09:23 UTC is 10:23 there
    assert api.requests(SEARCH)[-1].query["jql"] == 'updated >= "2024-01-10 10:23" ORDER BY updated ASC'
    # issues 248-250 share that minute: they come again and are dropped; 250 is at the bookmark, already seen
    assert ids(second) == [251, 5]
    assert sorted(int(r["issue_id"]) - 10000 for r in second.records("issue_changelogs")) == [5, 5, 251, 251]
    assert len(api.requests("/rest/api/3/issue/10005/comment")) == comment_requests + 1
    assert second.records("users") and second.records("projects")  # full listings, every run
    assert second.state["bookmarks"]["issues"]["replication_key_value"] == "2024-01-10T11:00:00.000Z"
    third = jira(tmp_path, api, state=second.state)
    assert ids(third) == [] and third.records("issue_comments") == []


def test_resume_from_a_mid_run_checkpoint_loses_and_doubles_nothing(tmp_path: Path, api: JiraApi) -> None:
    """A run stopped after its first page (issues 1-100) resumes from the bookmark of that page: issue
    100, 08:33:20.123. Issue 99 (08:33:00.123) shares the minute: older, dropped; 100 seen, dropped."""
    cat = catalog(tmp_path, api, "issues")
    first = jira(tmp_path, api, catalog=cat, settings={"end_date": "2024-01-10T08:33:20.123Z"})
    assert ids(first) == list(range(1, 101))
    checkpoint = first.state
    assert checkpoint["bookmarks"]["issues"]["ids_at_bookmark"] == ["10100"]
    before = len(api.requests(SEARCH))
    resumed = jira(tmp_path, api, catalog=cat, state=checkpoint)
    assert api.requests(SEARCH)[before].query["jql"] == 'updated >= "2024-01-10 09:33" ORDER BY updated ASC'
    assert ids(resumed) == list(range(101, 251))


def test_legacy_search_pages_by_start_at(tmp_path: Path, api: JiraApi) -> None:
    cat = catalog(tmp_path, api, "issues")
    result = jira(tmp_path, api, catalog=cat, settings={"search_api": "legacy", "page_size": {"issues": 100}})
    assert ids(result) == list(range(1, 251))
    searches = api.requests("/rest/api/3/search")  # each page a search from the newest minute seen
    assert [r.query["startAt"] for r in searches] == ["0", "0", "0"]
    assert searches[2].query["jql"] == 'updated >= "2024-01-10 10:06" ORDER BY updated ASC'


def test_rate_limits_and_server_errors_are_retried_without_doubles(tmp_path: Path, api: JiraApi) -> None:
    api.fail(SEARCH, 429, 503, headers={"Retry-After": "0"})
    api.fail("/rest/api/3/project/search", 429, headers={"Retry-After": "1"})
    result = jira(tmp_path, api, catalog=catalog(tmp_path, api, "issues", "projects"))
    assert ids(result) == list(range(1, 251)) and len(result.records("projects")) == 2
    assert [r.status for r in api.requests(SEARCH)] == [429, 503, 200, 200, 200]
    waits = [r.at for r in api.requests("/rest/api/3/project/search")]
    assert waits[1] - waits[0] >= 0.9  # Retry-After honoured
    assert result.stderr.count("retry ") == 3


def test_bad_credentials_fail_fast_with_jira_message(tmp_path: Path, api: JiraApi) -> None:
    result = jira(tmp_path, api, settings={"api_token": "wrong-token-999"}, ok=False)
    assert result.code == 1 and len(result.errors) == 1, result.stderr
    assert "/rest/api/3/project/search: HTTP 401 You are not authenticated." in result.errors[0]
    assert "wrong-token-999" not in result.stderr and "errorMessages" not in result.stderr
    assert len(api.requests()) == 1 and b'"RECORD"' not in result.stdout


def test_jql_errors_are_one_line_and_the_filter_applies(tmp_path: Path, api: JiraApi) -> None:
    cat = catalog(tmp_path, api, "issues")
    bad = jira(tmp_path, api, catalog=cat, settings={"stream_options": {"issues": {"jql": "summary ~ !oops"}}},
               ok=False)
    assert bad.code == 1 and len(bad.errors) == 1
    assert "/rest/api/3/search/jql: HTTP 400 Error in the JQL Query: the character '(' is a reserved JQL character." \
        in bad.errors[0]
    before = len(api.requests(SEARCH))
    good = jira(tmp_path, api, catalog=cat, settings={"stream_options": {"issues": {"jql": "project = ALPHA"}}})
    assert ids(good) == list(range(2, 251, 2))
    assert [r.query["jql"] for r in api.requests(SEARCH)[before:]] == [
        "(project = ALPHA) ORDER BY updated ASC",
        '(project = ALPHA) AND updated >= "2024-01-10 10:06" ORDER BY updated ASC']


def test_start_end_dates_and_time_zone_setting(tmp_path: Path, api: JiraApi) -> None:
    cat = catalog(tmp_path, api, "issues")
    result = jira(tmp_path, api, catalog=cat, settings={
        "start_date": "2024-01-10T08:10:00Z", "end_date": "2024-01-10T08:20:00Z", "time_zone": "America/New_York"})
    assert api.requests(SEARCH)[-1].query["jql"] == \
        'updated >= "2024-01-10 03:10" AND updated < "2024-01-10 03:21" ORDER BY updated ASC'
    assert not api.requests("/rest/api/3/myself")  # the zone was given
    assert ids(result) == []  # the server reads the JQL in the user's zone (Berlin): nothing in that window
    berlin = jira(tmp_path, api, catalog=cat, settings={
        "start_date": "2024-01-10T08:10:00Z", "end_date": "2024-01-10T08:20:00Z"})
    assert ids(berlin) == list(range(30, 60))  # 08:10:00.123 .. 08:19:40.123 (60 is 123 ms past the end)


def test_test_flag_and_oauth_bearer(tmp_path: Path, api: JiraApi) -> None:
    good = jira(tmp_path, api, "--test")
    assert "credentials accepted; signed in as User 1" in good.stderr and good.stdout == b""
    oauth = {"email": None, "api_token": None, "auth": {"flow": "oauth", "access_token": OAUTH_TOKEN}}
    assert "signed in as User 1" in jira(tmp_path, api, "--test", settings=oauth).stderr
    bad = jira(tmp_path, api, "--test", settings={"auth": {"flow": "oauth", "access_token": "nope-nope"}}, ok=False)
    assert bad.code == 1 and len(bad.errors) == 1 and "HTTP 401 You are not authenticated" in bad.errors[0]
    password = {"email": None, "api_token": None,
                "auth": {"flow": "password", "username": EMAIL, "password": API_TOKEN}}
    assert "signed in as User 1" in jira(tmp_path, api, "--test", settings=password).stderr
    assert [r.path for r in api.requests()] == ["/rest/api/3/myself"] * 4


def test_config_errors_exit_2(tmp_path: Path, api: JiraApi) -> None:
    ordered = jira(tmp_path, api, settings={"stream_options": {"issues": {"jql": "project = A ORDER BY key"}}},
                   ok=False)
    assert ordered.code == 2 and "remove its ORDER BY" in ordered.stderr
    missing = jira(tmp_path, api, settings={"api_token": None}, ok=False)
    assert missing.code == 2 and "set email and api_token" in missing.stderr
    big = jira(tmp_path, api, settings={"page_size": {"changelogs": 500}}, ok=False)
    assert big.code == 2 and "changelogs" in big.stderr


def test_stream_maps_and_flattening_apply_to_jira_records(tmp_path: Path, api: JiraApi) -> None:
    maps = {"projects": {"__alias__": "spaces", "__filter__": "key != 'BETA'", "description": "sha256(description)"},
            **{name: None for name in ("issues", "issue_comments", "issue_changelogs", "users", "boards", "sprints")}}
    result = jira(tmp_path, api, settings={"stream_maps": maps, "flattening_enabled": True, "flattening_max_depth": 1})
    result.validate()
    assert {m["stream"] for m in result.messages if m["type"] in ("SCHEMA", "RECORD")} == {"spaces"}
    [space] = result.records("spaces")
    assert space["key"] == "ALPHA" and space["description"] == hashlib.sha256(b"All about ALPHA").hexdigest()
    assert space["lead__displayName"] == "User 1" and "lead" not in space
    assert "lead__accountId" in result.schema("spaces")["schema"]["properties"]
    about = json.loads(jira(tmp_path, api, "--about", "--format", "json").stdout)
    assert {"stream-maps", "schema-flattening"} <= set(about["capabilities"])


def test_an_issue_gone_between_search_and_comments_is_skipped(tmp_path: Path, api: JiraApi) -> None:
    api.fail("/rest/api/3/issue/10003/comment", 404)
    api.fail("/rest/api/3/issue/10005/comment", 429, headers={"Retry-After": "0"})
    result = jira(tmp_path, api, catalog=catalog(tmp_path, api, "issue_comments"))
    issues = [int(r["issue_id"]) - 10000 for r in result.records("issue_comments")]
    assert sorted(set(issues)) == [n for n in range(1, 251, 2) if n != 3] and len(issues) == 124 * 3
    assert "issue_comments: issue BETA-3 is gone since the search" in result.stderr


def crowd(api: JiraApi, count: int) -> None:
    """Issues 1..count updated in one minute (08:00 UTC, a millisecond apart), before every other issue."""
    for n in range(1, count + 1):
        api.touch(str(10000 + n), BASE + timedelta(milliseconds=n))


@pytest.mark.parametrize("search_api", ["jql", "legacy"])
def test_an_issue_updated_during_the_run_shifts_no_other_out(tmp_path: Path, api: JiraApi, search_api: str) -> None:
    """Issue 5 (page 1) changes when the second search arrives: it leaves the front of the result set.
    Offset paging would then skip issue 101 and the bookmark would pass it; seeking from the newest
    time seen delivers every issue, and issue 5 once more at its new time."""
    def change(n: int, query: dict[str, str]) -> None:
        if n == 2:
            api.touch("10005", BASE + timedelta(hours=3))
    api.on_search = change
    cat = catalog(tmp_path, api, "issues")
    first = jira(tmp_path, api, catalog=cat, settings={"search_api": search_api})
    got = ids(first)
    assert sorted(set(got)) == list(range(1, 251)) and len(got) == 251
    assert got[-1] == 5 and first.records("issues")[-1]["updated"] == "2024-01-10T11:00:00.000Z"
    assert first.state["bookmarks"]["issues"]["replication_key_value"] == "2024-01-10T11:00:00.000Z"
    searches = api.requests("/rest/api/3/search" if search_api == "legacy" else SEARCH)
    assert all(r.query.get("startAt", "0") == "0" and "nextPageToken" not in r.query for r in searches)
    assert ids(jira(tmp_path, api, catalog=cat, state=first.state)) == []


def test_more_issues_in_one_minute_than_a_page_holds_are_paged_within_it(tmp_path: Path, api: JiraApi) -> None:
    """130 issues share one JQL minute, 50 a page: a search from that minute would return the same
    page forever, so the tap follows that search's page tokens until the minute is passed."""
    crowd(api, 130)
    result = jira(tmp_path, api, catalog=catalog(tmp_path, api, "issues"), settings={"page_size": {"issues": 50}})
    assert sorted(ids(result)) == list(range(1, 251)) and len(ids(result)) == 250
    searches = api.requests(SEARCH)
    assert [r.query.get("nextPageToken") for r in searches[:4]] == [None, None, "NTA=", "MTAw"]
    assert searches[1].query["jql"] == 'updated >= "2024-01-10 09:00" ORDER BY updated ASC'
    assert "nextPageToken" not in searches[4].query and len(searches) < 12


def test_a_repeated_page_token_is_an_error_naming_the_stream(tmp_path: Path, api: JiraApi) -> None:
    """The server answers page 2 with page 2's own token again: following it would read the same page
    forever, stopping there would end the run with issues missing. Either way: one error line, exit 1."""
    crowd(api, 250)  # one minute: the tap must follow the tokens
    api.repeat_token = True
    result = jira(tmp_path, api, catalog=catalog(tmp_path, api, "issues"), ok=False)
    assert result.code == 1 and len(result.errors) == 1, result.stderr
    assert "stream 'issues': /rest/api/3/search/jql: nextPageToken 'MTAw' came twice" in result.errors[0]
    got = ids(result)  # what the writer flushed before the error, in order; none past page 2
    assert got == list(range(1, len(got) + 1)) and len(got) <= 200
    assert not [m for m in result.messages if m["type"] == "STATE"]  # no bookmark past a record not written


@pytest.mark.parametrize(("mark", "seen", "newer"), [
    ("2024-01-10T10:33:20.123+0200", ["10100"], range(101, 251)),  # issue 100's time, as Jira writes it in +02:00
    ("2024-01-10T08:33:20Z", [], range(100, 251)),  # no milliseconds: issue 100 (08:33:20.123) is newer
])
def test_a_bookmark_in_another_iso_form_is_compared_as_an_instant(tmp_path: Path, api: JiraApi, mark: str,
                                                                   seen: list[str], newer: range) -> None:
    state = {"bookmarks": {"issues": {"replication_key": "updated", "replication_key_value": mark,
                                      "ids_at_bookmark": seen}}}
    result = jira(tmp_path, api, catalog=catalog(tmp_path, api, "issues"), state=state)
    assert ids(result) == list(newer)
    assert api.requests(SEARCH)[0].query["jql"] == 'updated >= "2024-01-10 09:33" ORDER BY updated ASC'
    assert result.state["bookmarks"]["issues"] == {
        "replication_key": "updated", "replication_key_value": "2024-01-10T09:23:20.123Z",
        "ids_at_bookmark": ["10250"]}
    again = jira(tmp_path, api, catalog=catalog(tmp_path, api, "issues"), state=result.state)
    assert ids(again) == []


def test_a_bookmark_that_is_no_time_is_a_state_error(tmp_path: Path, api: JiraApi) -> None:
    state = {"bookmarks": {"issues": {"replication_key": "updated", "replication_key_value": "last tuesday"}}}
    result = jira(tmp_path, api, catalog=catalog(tmp_path, api, "issues"), state=state, ok=False)
    assert result.code == 2 and len(result.errors) == 1, result.stderr
    assert "stream 'issues'" in result.errors[0] and "'last tuesday'" in result.errors[0]
    assert ids(result) == []
