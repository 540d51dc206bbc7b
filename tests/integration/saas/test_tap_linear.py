"""tap-linear end to end: the real console script against a Linear-shaped GraphQL API on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.http.tapio import Result, select, tap
from tests.integration.saas.linear_data import ARCHIVED_EVERY, stamp
from tests.integration.saas.linear_server import API_KEY, OAUTH_TOKEN, LinearApi

FAST = {"backoff_base": 0.01, "backoff_max": 0.05}
ISSUES = 130
ARCHIVED = ISSUES // ARCHIVED_EVERY  # 1
COUNTS = {"issues": ISSUES - ARCHIVED, "projects": 8, "teams": 3, "users": 12, "cycles": 6}


@pytest.fixture
def api() -> Iterator[LinearApi]:
    with LinearApi() as server:
        server.seed(issues=ISSUES)
        yield server


def linear(tmp_path: Path, api: LinearApi, *args: str, **kwargs: Any) -> Result:
    config = {"auth_token": API_KEY, "api_url": api.url, **FAST, **kwargs.pop("settings", {})}
    config = {name: value for name, value in config.items() if value is not None}  # None: leave it out
    return tap("tap-linear", tmp_path, config, *args, **kwargs)


def bookmark(result: Result, stream: str) -> Any:
    return result.state["bookmarks"][stream]["replication_key_value"]


def test_full_sync_every_record_once_paged_by_pageinfo(tmp_path: Path, api: LinearApi) -> None:
    result = linear(tmp_path, api)
    result.validate()
    for stream, count in COUNTS.items():
        records = result.records(stream)
        assert len(records) == count, stream
        assert len({r["id"] for r in records}) == count, f"{stream}: a record came twice"
        assert result.schema(stream)["key_properties"] == ["id"]
        assert result.schema(stream)["bookmark_properties"] == ["updatedAt"]
        newest = max(r["updatedAt"] for r in records)
        assert bookmark(result, stream) == newest
    issue = next(r for r in result.records("issues") if r["identifier"] == "ENG-1")
    assert issue["state"] == {"id": issue["state"]["id"], "name": "Backlog", "type": "backlog", "color": "#bec2c8"}
    assert issue["team"]["key"] == "ENG" and issue["assignee"] is None and issue["number"] == 1
    # relay paging, 50 a page: 129 issues are 3 pages; the cursor of one page is the next one's after
    queries = api.queries("issues")
    assert [q.variables["first"] for q in queries] == [50, 50, 50]
    assert queries[0].variables["after"] is None and all(q.variables["after"] for q in queries[1:])
    assert all(q.status == 200 for q in api.log)
    assert "filter" not in queries[0].variables  # no bookmark, no start_date: everything
    # Linear's personal API key: the Authorization header is the key itself, no "Bearer"
    assert {q.authorization for q in api.log} == {API_KEY}
    assert API_KEY not in result.stderr


def test_incremental_run_fetches_only_what_changed(tmp_path: Path, api: LinearApi) -> None:
    first = linear(tmp_path, api)
    old = bookmark(first, "issues")
    changed = [r["id"] for r in first.records("issues")[-2:]]  # the two oldest
    api.touch("issues", changed, stamp(10_000))
    api.touch("users", [first.records("users")[0]["id"]], stamp(10_001))
    second = linear(tmp_path, api, state=first.state)
    assert sorted(r["id"] for r in second.records("issues")) == sorted(changed)
    assert all(r["title"].endswith("(edited)") for r in second.records("issues"))
    assert len(second.records("users")) == 1
    assert [second.records(s) for s in ("projects", "teams", "cycles")] == [[], [], []]
    # the filter is updatedAt >= the bookmark (the ids read at it are skipped), ordered by updatedAt
    assert api.queries("issues")[-1].variables["filter"] == {"updatedAt": {"gte": old}}
    assert bookmark(second, "issues") == stamp(10_000) and bookmark(second, "users") == stamp(10_001)
    assert bookmark(second, "teams") == bookmark(first, "teams")
    third = linear(tmp_path, api, state=second.state)
    assert not [m for m in third.messages if m["type"] == "RECORD"]


def test_a_user_deactivated_between_runs_reaches_the_target_inactive(tmp_path: Path, api: LinearApi) -> None:
    first = linear(tmp_path, api)
    assert sum(1 for r in first.records("users") if r["active"] is False) == 1  # deactivated before: read too
    user = next(r for r in first.records("users") if r["active"])
    api.deactivate(user["id"], stamp(10_002))
    second = linear(tmp_path, api, state=first.state)
    assert [(r["id"], r["active"], r["disableReason"]) for r in second.records("users")] == [
        (user["id"], False, "deactivated by an admin")]
    assert bookmark(second, "users") == stamp(10_002)
    assert {q.variables.get("includeDisabled") for q in api.queries("users")} == {True}  # Linear's default: false


def test_start_date_filters_the_first_run(tmp_path: Path, api: LinearApi) -> None:
    result = linear(tmp_path, api, settings={"start_date": "2024-01-01T02:00:00Z"})
    assert api.queries("issues")[0].variables["filter"] == {"updatedAt": {"gt": "2024-01-01T02:00:00.000Z"}}
    assert all(r["updatedAt"] > "2024-01-01T02:00:00.000Z" for r in result.records("issues"))
    assert len(result.records("issues")) == ISSUES - 61 - ARCHIVED  # issue n was updated at minute 60 + n


def test_oauth_token_is_sent_as_bearer(tmp_path: Path, api: LinearApi) -> None:
    linear(tmp_path, api, settings={"auth_token": None, "access_token": OAUTH_TOKEN})
    assert {q.authorization for q in api.log} == {f"Bearer {OAUTH_TOKEN}"}


def test_ratelimited_answers_are_retried_and_nothing_comes_twice(tmp_path: Path, api: LinearApi) -> None:
    api.fail("issues", "ratelimited", "ratelimited200")
    result = linear(tmp_path, api)
    ids = [r["id"] for r in result.records("issues")]
    assert len(ids) == len(set(ids)) == COUNTS["issues"]
    assert [q.status for q in api.queries("issues")] == [400, 200, 200, 200, 200]
    assert "RATELIMITED" in result.stderr and "retry" in result.stderr


def test_linears_request_budget_headers_are_honoured(tmp_path: Path) -> None:
    with LinearApi(requests_limit=2) as api:
        api.seed(issues=ISSUES)
        result = linear(tmp_path, api, settings={"page_size": 25})
    assert len(result.records("issues")) == COUNTS["issues"]
    # the server answers RATELIMITED to any query over budget before its reset; none was sent
    assert {q.status for q in api.log} == {200}
    assert len(api.queries("issues")) == 6


def test_bad_api_key_fails_at_once_with_one_line_naming_the_stream(tmp_path: Path, api: LinearApi) -> None:
    result = linear(tmp_path, api, settings={"auth_token": "lin_api_wrong_key"}, ok=False)
    assert result.code == 1
    assert len(result.errors) == 1, result.stderr
    assert "stream 'issues'" in result.errors[0]
    assert "AUTHENTICATION_ERROR: Authentication required, not authenticated" in result.errors[0]
    assert "lin_api_wrong_key" not in result.stderr
    assert len(api.log) == 1 and b'"RECORD"' not in result.stdout


def test_a_key_sent_as_bearer_is_refused(tmp_path: Path, api: LinearApi) -> None:
    result = linear(tmp_path, api, settings={"auth_token": None, "access_token": API_KEY}, ok=False)
    assert result.code == 1 and "Authentication required" in result.errors[0]


def test_partial_data_is_refused_never_half_loaded(tmp_path: Path, api: LinearApi) -> None:
    api.fail("issues", "partial")
    result = linear(tmp_path, api, ok=False)
    assert result.code == 1
    assert "stream 'issues'" in result.errors[0] and "partial answer" in result.errors[0]
    assert "Entity not found: Project" in result.errors[0]
    assert result.records("issues") == []


def test_a_failed_run_resumes_from_the_last_state(tmp_path: Path, api: LinearApi) -> None:
    api.fail("projects", *["500"] * 3)
    failed = linear(tmp_path, api, settings={"max_retries": 2}, ok=False)
    assert failed.code == 1 and "HTTP 500" in failed.errors[0] and "stream 'projects'" in failed.errors[0]
    assert len(failed.records("issues")) == COUNTS["issues"]
    assert set(failed.state["bookmarks"]) == {"issues"}  # issues finished; projects did not
    resumed = linear(tmp_path, api, state=failed.state)
    assert resumed.records("issues") == []  # nothing the failed run saved comes again
    for stream in ("projects", "teams", "users", "cycles"):
        assert len(resumed.records(stream)) == COUNTS[stream]


def test_archived_records_on_request(tmp_path: Path, api: LinearApi) -> None:
    result = linear(tmp_path, api, settings={"include_archived": True, "page_size": 250})
    assert len(result.records("issues")) == ISSUES
    assert [q.variables["first"] for q in api.queries("issues")] == [250]
    assert sum(1 for r in result.records("issues") if r["archivedAt"]) == ARCHIVED


def test_only_selected_fields_are_queried(tmp_path: Path, api: LinearApi) -> None:
    catalog = select(json.loads(linear(tmp_path, api, "--discover").stdout), "teams")
    for entry in catalog["streams"][0]["metadata"]:
        if entry["breadcrumb"] and entry["breadcrumb"][-1] not in ("id", "name", "updatedAt"):
            entry["metadata"]["selected"] = False
    result = linear(tmp_path, api, catalog=catalog)
    assert [set(r) for r in result.records("teams")] == [{"id", "name", "updatedAt"}] * 3
    assert [q.root for q in api.log] == ["teams"]


def test_test_flag_makes_one_cheap_query(tmp_path: Path, api: LinearApi) -> None:
    good = linear(tmp_path, api, "--test")
    assert "ada@example.com" in good.stderr and [q.root for q in api.log] == ["viewer"]
    bad = linear(tmp_path, api, "--test", settings={"auth_token": "nope-nope"}, ok=False)
    assert bad.code == 1 and len(bad.errors) == 1 and "Authentication required" in bad.errors[0]


@pytest.mark.parametrize("settings", [{"page_size": 251}, {"auth_token": None}, {"access_token": OAUTH_TOKEN}])
def test_config_errors_exit_2(tmp_path: Path, api: LinearApi, settings: dict[str, Any]) -> None:
    result = linear(tmp_path, api, settings=settings, ok=False)
    assert result.code == 2 and not api.log


def test_stream_maps_and_flattening_apply_to_linear_records(tmp_path: Path, api: LinearApi) -> None:
    maps = {"issues": {"__alias__": "tickets", "__filter__": "priority == 1", "title": "md5(title)"},
            "projects": None, "teams": None, "users": None, "cycles": None}
    result = linear(tmp_path, api, settings={"stream_maps": maps, "flattening_enabled": True,
                                             "flattening_max_depth": 1})
    result.validate()
    assert {m["stream"] for m in result.messages if m["type"] in ("SCHEMA", "RECORD")} == {"tickets"}
    tickets = result.records("tickets")
    assert tickets and all(t["priority"] == 1 for t in tickets)
    assert all(len(t["title"]) == 32 and not t["title"].startswith("Issue") for t in tickets)
    assert "team__key" in tickets[0] and "team" not in tickets[0]


def test_a_bookmark_in_another_iso_form_is_sent_as_linear_writes_times(tmp_path: Path, api: LinearApi) -> None:
    state = {"bookmarks": {"issues": {"replication_key": "updatedAt",
                                      "replication_key_value": "2024-01-01T03:00:00+00:00"}}}
    result = linear(tmp_path, api, state=state)
    assert api.queries("issues")[0].variables["filter"] == {"updatedAt": {"gte": "2024-01-01T03:00:00.000Z"}}
    # issue n was updated at minute 60 + n, none of these is archived; a state of before the ids at
    # the bookmark were kept: issue 120, at the bookmark's very time, comes again
    assert len(result.records("issues")) == ISSUES - 120
