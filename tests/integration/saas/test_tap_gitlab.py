"""tap-gitlab end to end: the real console script against a GitLab-shaped server on loopback
(tests/integration/saas/gitlab_server.py)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.integration.http.tapio import Result, select, tap
from tests.integration.saas.gitlab_server import OAUTH, TOKEN, GitLabApi

WEB, API = "acme/web", "acme/sub/api"
ISSUES = "/api/v4/projects/1/issues"
FAST = {"backoff_base": 0.01, "backoff_max": 0.05}
COUNTS = {"projects": 2, "issues": 280, "merge_requests": 125, "commits": 137, "pipelines": 93, "users": 15}


def populate(api: GitLabApi) -> None:
    api.add_project(WEB, group="acme", issues=250, merge_requests=120, commits=130, pipelines=90, users=12)
    api.add_project(API, group="acme/sub", issues=30, merge_requests=5, commits=7, pipelines=3, users=15)


@pytest.fixture
def api() -> Iterator[GitLabApi]:
    with GitLabApi() as server:
        populate(server)
        yield server


def config(api: GitLabApi, **extra: Any) -> dict[str, Any]:
    merged = {"groups": "acme", "private_token": TOKEN, "api_url": api.url, **FAST, **extra}
    return {k: v for k, v in merged.items() if v is not None}


def gitlab(tmp_path: Path, api: GitLabApi, *args: str, **kwargs: Any) -> Result:
    return tap("tap-gitlab", tmp_path, config(api, **kwargs.pop("settings", {})), *args, **kwargs)


def only(tmp_path: Path, api: GitLabApi, *streams: str, **settings: Any) -> dict[str, Any]:
    return select(json.loads(gitlab(tmp_path, api, "--discover", settings=settings).stdout), *streams)


def partition(result: Result, stream: str, path: str) -> dict[str, Any]:
    parts = result.state["bookmarks"][stream]["partitions"]
    return next(p for p in parts if p["context"] == {"project_path": path})


def pages(api: GitLabApi, path: str) -> list[str]:
    return [r.query.get("page", "1") for r in api.requests(path)]


def test_full_sync_every_record_once_with_project_context(tmp_path: Path, api: GitLabApi) -> None:
    result = gitlab(tmp_path, api)
    result.validate()
    for stream, count in COUNTS.items():
        records = result.records(stream)
        assert len(records) == count, stream
        assert len({r["id"] for r in records}) == count, f"{stream}: a record came twice"
    assert {r["path_with_namespace"] for r in result.records("projects")} == {WEB, API}  # subgroups included
    issue = result.records("issues")[0]
    assert (issue["project_path"], issue["project_id"], issue["iid"]) == (WEB, 1, 1)
    assert issue["author"]["username"] == "user2" and issue["references"]["full"] == "acme/web#1"
    assert result.schema("issues")["key_properties"] == ["id"]
    # the group's projects: keyset pages ordered by id; the issues: offset pages of 100, ascending updated_at
    groups = api.requests("/api/v4/groups/acme/projects")
    assert [(r.query["pagination"], r.query["order_by"], r.query["include_subgroups"]) for r in groups] == [
        ("keyset", "id", "true")]
    assert [r.query.get("updated_after") for r in api.requests(ISSUES)] == [
        None, "2024-01-01T01:40:00.000Z", "2024-01-01T03:19:00.000Z"]  # 3 pages, each from the newest value
    assert all(r.query["per_page"] == "100" and r.query["order_by"] == "updated_at" and r.query["sort"] == "asc"
               and r.query["scope"] == "all" and r.query["page"] == "1" for r in api.requests(ISSUES))
    assert pages(api, "/api/v4/projects/1/repository/commits") == ["1", "2"]  # newest first: offset pages
    assert all(r.token == TOKEN for r in api.requests())  # the PRIVATE-TOKEN header
    assert partition(result, "issues", WEB) == {
        "context": {"project_path": WEB}, "replication_key": "updated_at",
        "replication_key_value": "2024-01-01T04:10:00.000Z", "ids_at_value": [100250]}
    assert partition(result, "commits", API)["replication_key_value"] == "2024-01-01T00:07:00.000Z"
    assert "projects" not in result.state["bookmarks"] and "users" not in result.state["bookmarks"]
    assert TOKEN not in result.stderr


def test_incremental_run_fetches_only_what_changed(tmp_path: Path, api: GitLabApi) -> None:
    first = gitlab(tmp_path, api)
    assert len(api.requests(ISSUES)) == 3
    api.touch(1, "issues", [5], minutes=499)
    api.touch(1, "issues", [6], minutes=500)
    api.touch(1, "merge_requests", [7], minutes=600)
    second = gitlab(tmp_path, api, state=first.state)
    # updated_after is inclusive: the issue at the bookmark is listed again, and skipped (ids_at_value)
    assert sorted(r["iid"] for r in second.records("issues")) == [5, 6]
    assert [r["iid"] for r in second.records("merge_requests")] == [7]
    assert second.records("pipelines") == [] and second.records("commits") == []
    assert [r.query.get("updated_after") for r in api.requests(ISSUES)][3:] == ["2024-01-01T04:10:00.000Z"]
    assert [r.query.get("since") for r in api.requests("/api/v4/projects/2/repository/commits")] == [
        None, "2024-01-01T00:07:00.000Z"]
    assert partition(second, "issues", WEB)["replication_key_value"] == "2024-01-01T08:20:00.000Z"
    assert partition(second, "issues", WEB)["ids_at_value"] == [100006]
    assert partition(second, "issues", API) == partition(first, "issues", API)
    third = gitlab(tmp_path, api, state=second.state)
    assert sum(len(third.records(s)) for s in COUNTS if s not in ("projects", "users")) == 0


def test_resume_after_a_failure_emits_every_record_once(tmp_path: Path) -> None:
    # the sync loop writes a STATE every 10,000 records; the 103rd page fails (one try, one retry)
    with GitLabApi() as api:
        api.add_project(WEB, group="acme", issues=10_300)
        cfg = config(api)
        catalog = select(json.loads(tap("tap-gitlab", tmp_path, cfg, "--discover").stdout), "issues")
        api.fail(ISSUES, *[0] * 102, 503, 503)  # 0: answered as usual
        broken = tap("tap-gitlab", tmp_path, {**cfg, "max_retries": 1}, catalog=catalog, ok=False)
        assert broken.code == 1 and len(broken.errors) == 1 and "HTTP 503" in broken.errors[0]
        messages = broken.messages
        last_state = max(i for i, m in enumerate(messages) if m["type"] == "STATE")
        kept = [m["record"]["iid"] for m in messages[:last_state] if m["type"] == "RECORD"]
        assert kept == list(range(1, 10_001))  # what a target commits: the records before the last STATE
        bookmark = messages[last_state]["value"]["bookmarks"]["issues"]["partitions"][0]
        assert bookmark["replication_key_value"] == "2024-01-07T22:40:00.000Z"  # issue 10,000's
        assert bookmark["ids_at_value"] == [110_000]
        resumed = tap("tap-gitlab", tmp_path, cfg, catalog=catalog, state=messages[last_state]["value"])
        assert [r["iid"] for r in resumed.records("issues")] == list(range(10_001, 10_301))
        assert len(api.requests(ISSUES)) == 104 + 4  # 102 answered, 2 failed; then 300 more in 4 pages
        assert api.requests(ISSUES)[104].query["updated_after"] == "2024-01-07T22:40:00.000Z"


def test_start_date_is_the_first_updated_after(tmp_path: Path, api: GitLabApi) -> None:
    catalog = only(tmp_path, api, "issues", "commits")
    result = gitlab(tmp_path, api, catalog=catalog, settings={"start_date": "2024-01-01T02:00:00+00:00",
                                                               "projects": [WEB], "groups": [],
                                                               "include_license_info_for_projects": True})
    assert [r.query.get("updated_after") for r in api.requests(ISSUES)] == [
        "2024-01-01T02:00:00.000Z", "2024-01-01T03:39:00.000Z"]
    assert [r["iid"] for r in result.records("issues")] == list(range(120, 251))
    assert [r["id"][-2:] for r in result.records("commits")] == ["82", "81", "80", "7f", "7e", "7d", "7c", "7b",
                                                                  "7a", "79", "78"]  # commits 130..120, newest first
    [parent] = api.requests("/api/v4/projects/acme%2Fweb")  # the parent, once, by its encoded path
    assert parent.query == {"license": "true"}


def test_transient_failures_are_retried_and_nothing_is_duplicated(tmp_path: Path, api: GitLabApi) -> None:
    api.fail(ISSUES, 502, 429, headers={"Retry-After": "0"})
    api.fail("/api/v4/projects/1/repository/commits", 503)
    result = gitlab(tmp_path, api)
    assert len(result.records("issues")) == 280 == len({r["id"] for r in result.records("issues")})
    assert [r.status for r in api.requests(ISSUES)] == [502, 429, 200, 200, 200]
    assert [r.status for r in api.requests("/api/v4/projects/1/repository/commits")] == [503, 200, 200]
    assert result.stderr.count("retry ") == 3


def test_rate_limit_headers_and_429_retry_after_are_honoured(tmp_path: Path) -> None:
    with GitLabApi(rate_limit=4) as api:
        api.add_project(WEB, group="acme", issues=250)
        cfg = {**config(api), "per_page": 50}
        catalog = select(json.loads(tap("tap-gitlab", tmp_path, cfg, "--discover").stdout), "issues")
        result = tap("tap-gitlab", tmp_path, cfg, catalog=catalog)
        assert len(result.records("issues")) == 250
        # the server answers 429 to any request before its reset; RateLimit-Remaining: 0 made the tap wait
        assert {r.status for r in api.requests()} == {200}
        assert "rate limit: 0 requests left" in result.stderr
    with GitLabApi() as api:
        api.add_project(WEB, group="acme", issues=30)
        api.fail(ISSUES, 429, headers={"Retry-After": "1"}, body="Retry later")
        result = tap("tap-gitlab", tmp_path, config(api), catalog=catalog)
        assert [r.status for r in api.requests(ISSUES)] == [429, 200]
        assert "server asked to wait" in result.stderr and len(result.records("issues")) == 30


def test_bad_tokens_fail_fast_with_one_line(tmp_path: Path, api: GitLabApi) -> None:
    result = gitlab(tmp_path, api, settings={"private_token": "glpat-wrong"}, ok=False)
    assert result.code == 1 and len(result.errors) == 1, result.stderr
    assert "/groups/:id/projects: HTTP 401 Unauthorized" in result.errors[0]  # not "HTTP 401 401 Unauthorized"
    assert "glpat-wrong" not in result.stderr and len(api.requests()) == 1 and b'"RECORD"' not in result.stdout
    oauth = gitlab(tmp_path, api, settings={"private_token": None, "oauth_token": "expired-oauth"}, ok=False)
    assert oauth.code == 1 and len(oauth.errors) == 1
    assert "HTTP 401 Token was revoked. You have to re-authorize from the user." in oauth.errors[0]
    assert "expired-oauth" not in oauth.stderr


def test_oauth_bearer_token(tmp_path: Path, api: GitLabApi) -> None:
    result = gitlab(tmp_path, api, catalog=only(tmp_path, api, "projects"),
                    settings={"private_token": None, "oauth_token": OAUTH})
    assert len(result.records("projects")) == 2
    assert all(r.token is None for r in api.requests("/api/v4/groups/acme/projects"))


def test_test_flag_checks_the_token(tmp_path: Path, api: GitLabApi) -> None:
    good = gitlab(tmp_path, api, "--test", settings={"projects": WEB})
    assert "token accepted; acme/web is readable" in good.stderr and good.stdout == b""
    group = gitlab(tmp_path, api, "--test")
    assert "token accepted; acme is readable" in group.stderr
    assert [r.path for r in api.requests()] == ["/api/v4/projects/acme%2Fweb", "/api/v4/groups/acme"]
    bad = gitlab(tmp_path, api, "--test", settings={"private_token": "nope-nope"}, ok=False)
    assert bad.code == 1 and len(bad.errors) == 1 and "HTTP 401 Unauthorized" in bad.errors[0]
    missing = gitlab(tmp_path, api, "--test", settings={"projects": "acme/missing"}, ok=False)
    assert missing.code == 1 and "/projects/:id: HTTP 404 Project Not Found" in missing.errors[0]


def test_validation_errors_are_flattened_into_one_line(tmp_path: Path, api: GitLabApi) -> None:
    problems = {"updated_after": ["is invalid"], "scope": ["does not have a valid value"]}
    api.fail(ISSUES, 400, body={"message": problems})
    result = gitlab(tmp_path, api, catalog=only(tmp_path, api, "issues"), ok=False)
    assert result.code == 1 and len(result.errors) == 1
    assert "/projects/:id/issues: HTTP 400 updated_after is invalid, scope does not have a valid value" in (
        result.errors[0])


def test_keyset_refused_falls_back_to_offset_pages(tmp_path: Path) -> None:
    with GitLabApi(keyset=False, link_headers=False) as api:
        for n in range(1, 131):
            api.add_project(f"acme/p{n}", group="acme")
        api.add_project("other/x", group="other", issues=45)
        cfg = {**config(api), "groups": ["acme", "other"], "per_page": 20, "fetch_site_users": True}
        catalog = select(json.loads(tap("tap-gitlab", tmp_path, cfg, "--discover").stdout), "projects", "issues",
                         "site_users")
        result = tap("tap-gitlab", tmp_path, cfg, catalog=catalog)
        assert len({r["id"] for r in result.records("projects")}) == 131 == len(result.records("projects"))
        listing = api.requests("/api/v4/groups/acme/projects")
        assert [r.status for r in listing][:2] == [405, 200] and len(listing) == 1 + 7
        assert all(r.query.get("pagination") is None and r.query["order_by"] == "id" for r in listing[1:])
        # no Link header: X-Next-Page tells whether another page follows (seeking: 3 pages of 20, 45 issues)
        assert [r.query.get("updated_after") for r in api.requests("/api/v4/projects/131/issues")] == [
            None, "2024-01-01T00:20:00.000Z", "2024-01-01T00:39:00.000Z"]
        assert pages(api, "/api/v4/users") == [str(n) for n in range(1, 14)]  # and leads the offset pages
        assert len(result.records("issues")) == 45
        users = result.records("site_users")
        assert len(users) == 250 == len({u["id"] for u in users})
        assert api.requests("/api/v4/users")[0].status == 200  # keyset already known refused: offset at once


def test_opt_in_streams(tmp_path: Path, api: GitLabApi) -> None:
    offered = {s["tap_stream_id"] for s in json.loads(gitlab(tmp_path, api, "--discover").stdout)["streams"]}
    assert offered == set(COUNTS)
    flags = {"fetch_merge_request_commits": True, "fetch_pipelines_extended": True, "fetch_site_users": True}
    catalog = only(tmp_path, api, "merge_request_commits", "pipelines_extended", "site_users", **flags)
    first = gitlab(tmp_path, api, catalog=catalog, settings=flags)
    commits = first.records("merge_request_commits")
    assert len(commits) == sum(iid % 4 + 1 for iid in range(1, 121)) + sum(iid % 4 + 1 for iid in range(1, 6))
    assert len({(c["project_id"], c["merge_request_iid"], c["commit_id"]) for c in commits}) == len(commits)
    assert first.schema("merge_request_commits")["key_properties"] == ["project_id", "merge_request_iid",
                                                                       "commit_id"]
    extended = first.records("pipelines_extended")
    assert len(extended) == 93 and extended[0]["duration"] == 61 and extended[0]["user"]["id"] == 1
    assert len(first.records("site_users")) == 250
    api.touch(1, "merge_requests", [7], minutes=600)
    api.touch(2, "pipelines", [2], minutes=700)
    second = gitlab(tmp_path, api, catalog=catalog, settings=flags, state=first.state)
    assert {c["merge_request_iid"] for c in second.records("merge_request_commits")} == {7}
    assert [p["iid"] for p in second.records("pipelines_extended")] == [2]


def test_config_errors_exit_2(tmp_path: Path, api: GitLabApi) -> None:
    none = gitlab(tmp_path, api, settings={"groups": "", "projects": []}, ok=False)
    assert none.code == 2 and "name at least one group or project" in none.stderr
    both = gitlab(tmp_path, api, settings={"oauth_token": OAUTH}, ok=False)
    assert both.code == 2 and "'private_token' and 'oauth_token' are both set" in both.stderr
    bad = gitlab(tmp_path, api, settings={"per_page": 500, "start_date": "yesterday"}, ok=False)
    assert bad.code == 2 and "per_page" in bad.stderr


def test_api_url_with_or_without_the_api_suffix(tmp_path: Path, api: GitLabApi) -> None:
    catalog = only(tmp_path, api, "projects")
    a = gitlab(tmp_path, api, catalog=catalog, settings={"api_url": api.url + "/api/v4/"})
    assert len(a.records("projects")) == 2
    assert {r.path for r in api.requests()} == {"/api/v4/groups/acme/projects"}


def test_tap_gitlab_applies_maps_and_flattens_nested_objects(tmp_path: Path, api: GitLabApi) -> None:
    drop = {name: None for name in COUNTS if name != "projects"}
    maps = {"projects": {"__alias__": "repos", "__filter__": "path_with_namespace != 'acme/sub/api'",
                         "description": "sha256(description)"}, **drop}
    result = gitlab(tmp_path, api, settings={"stream_maps": maps, "flattening_enabled": True,
                                             "flattening_max_depth": 1})
    result.validate()
    assert {m["stream"] for m in result.messages if m["type"] in ("SCHEMA", "RECORD")} == {"repos"}
    [repo] = result.records("repos")
    assert repo["path_with_namespace"] == WEB
    assert repo["description"] == hashlib.sha256(b"The web project").hexdigest()
    assert (repo["namespace__full_path"], repo["namespace__kind"]) == ("acme", "group")
    assert "namespace" not in repo and "namespace__full_path" in result.schema("repos")["schema"]["properties"]
    about = json.loads(tap("tap-gitlab", tmp_path, config(api), "--about", "--format", "json").stdout)
    assert {"stream-maps", "schema-flattening"} <= set(about["capabilities"])


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize(("mark", "ids"), [
    ("2024-01-01T03:40:00+02:00", []),  # 01:40Z, as another tap or a hand might write it
    ("2024-01-01T01:40:00Z", [100_100]),  # no milliseconds: '.' sorts before 'Z'
])
def test_a_bookmark_in_another_rfc3339_form_is_compared_as_an_instant(
        tmp_path: Path, api: GitLabApi, mark: str, ids: list[int]) -> None:
    api.projects[1].issues[100]["updated_at"] = "2024-01-01T01:40:00.500Z"  # issue 101: half a second later
    api.changed()
    web = {"context": {"project_path": WEB}, "replication_key_value": mark}
    state = {"bookmarks": {"issues": {"partitions": [{**web, "replication_key": "updated_at", "ids_at_value": ids}]},
                           "commits": {"partitions": [{**web, "replication_key": "created_at"}]}}}
    result = gitlab(tmp_path, api, catalog=only(tmp_path, api, "issues", "commits"), state=state,
                    settings={"projects": [WEB], "groups": []})
    newer = [i["iid"] for i in api.projects[1].issues
             if _instant(i["updated_at"]) >= _instant(mark) and i["id"] not in ids]
    assert newer[:2] == ([100, 101] if not ids else [101, 102]) and newer[-1] == 250
    assert sorted(r["iid"] for r in result.records("issues")) == newer
    assert api.requests(ISSUES)[0].query.get("updated_after") == "2024-01-01T01:40:00.000Z"
    assert partition(result, "issues", WEB)["replication_key_value"] == "2024-01-01T04:10:00.000Z"
    assert partition(result, "issues", WEB)["ids_at_value"] == [100_250]
    commits = [c["title"] for c in result.records("commits")]
    assert commits == [f"Commit {n}" for n in range(130, 99, -1)]  # newest first, down to the bookmark's minute
    assert partition(result, "commits", WEB)["replication_key_value"] == "2024-01-01T02:10:00.000Z"
    again = gitlab(tmp_path, api, catalog=only(tmp_path, api, "issues", "commits"), state=result.state,
                   settings={"projects": [WEB], "groups": []})
    assert again.records("issues") == [] and again.records("commits") == []


def test_a_bookmark_that_is_no_time_is_a_state_error(tmp_path: Path, api: GitLabApi) -> None:
    state = {"bookmarks": {"issues": {"partitions": [{"context": {"project_path": WEB}, "replication_key": "updated_at",
                                                      "replication_key_value": "last tuesday"}]}}}
    result = gitlab(tmp_path, api, catalog=only(tmp_path, api, "issues"), state=state, ok=False,
                    settings={"projects": [WEB], "groups": []})
    assert result.code == 2 and len(result.errors) == 1, result.stderr
    assert "stream 'issues'" in result.errors[0] and "'last tuesday'" in result.errors[0]
    assert result.records("issues") == []
