"""tap-github end to end: the real console script against a GitHub-shaped server on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.integration.http.servers import TOKEN, FakeApi, iso
from tests.integration.http.tapio import Result, select, tap

HELLO, WORLD = "octo/hello", "octo/world"
ISSUES = "/repos/octo/hello/issues"
FAST = {"backoff_base": 0.01, "backoff_max": 0.05}


@pytest.fixture
def api() -> Iterator[FakeApi]:
    with FakeApi() as server:
        server.add_repo(HELLO, issues=250, pulls=120, commits=130, comments=110)
        server.add_repo(WORLD, issues=30, pulls=5, commits=7, comments=3)
        yield server


def config(api: FakeApi, **extra: Any) -> dict[str, Any]:
    return {"repositories": [HELLO, WORLD], "auth_token": TOKEN, "api_url": api.url, **FAST, **extra}


def github(tmp_path: Path, api: FakeApi, *args: str, **kwargs: Any) -> Result:
    cfg = config(api, **kwargs.pop("settings", {}))
    return tap("tap-github", tmp_path, cfg, *args, **kwargs)


def test_full_sync_every_record_once_with_parent_context(tmp_path: Path, api: FakeApi) -> None:
    result = github(tmp_path, api)
    result.validate()
    expected = {"repositories": 2, "issues": 280, "pull_requests": 125, "commits": 137, "issue_comments": 113}
    for stream, count in expected.items():
        records = result.records(stream)
        key = "node_id" if stream == "commits" else "id"
        assert len(records) == count, stream
        assert len({r[key] for r in records}) == count, f"{stream}: a record came twice"
    issue = result.records("issues")[0]
    assert (issue["org"], issue["repo"], issue["repo_id"]) == ("octo", "hello", 1)
    assert result.records("commits")[0]["commit_timestamp"] == "2024-01-01T02:10:00Z"
    assert result.schema("issues")["key_properties"] == ["id"]
    # keyset paging, 100 per page: each page asks again from the newest updated_at seen (inclusive)
    assert [r.query.get("since") for r in api.requests(ISSUES)] == [None, iso(100), iso(199)]
    assert all("page" not in r.query for r in api.requests(ISSUES))
    assert all(r.query["per_page"] == "100" for r in api.requests(ISSUES))
    partitions = result.state["bookmarks"]["issues"]["partitions"]
    assert partitions == [
        {"context": {"org": "octo", "repo": "hello"}, "replication_key": "updated_at",
         "replication_key_value": "2024-01-01T04:10:00Z"},
        {"context": {"org": "octo", "repo": "world"}, "replication_key": "updated_at",
         "replication_key_value": "2024-01-01T00:30:00Z"},
    ]
    assert "repositories" not in result.state["bookmarks"]
    assert TOKEN not in result.stderr


def test_incremental_run_fetches_only_what_changed(tmp_path: Path, api: FakeApi) -> None:
    first = github(tmp_path, api)
    bookmark = first.state["bookmarks"]["issues"]["partitions"][0]["replication_key_value"]
    api.touch_issues(HELLO, [5, 6], minutes=500)
    second = github(tmp_path, api, state=first.state)
    # GitHub's since is inclusive: the issue at the bookmark comes again, with the two changed ones
    assert sorted(r["number"] for r in second.records("issues") if r["repo"] == "hello") == [5, 6, 250]
    assert [r["number"] for r in second.records("issues") if r["repo"] == "world"] == [30]
    assert api.since_values(ISSUES) == [None, iso(100), iso(199), bookmark]
    assert api.since_values("/repos/octo/world/issues") == [None, "2024-01-01T00:30:00Z"]
    hello = second.state["bookmarks"]["issues"]["partitions"][0]
    assert hello["context"] == {"org": "octo", "repo": "hello"}
    assert hello["replication_key_value"] == "2024-01-01T08:20:00Z"
    # pull requests have no since: newest first, and paging stops at the bookmark (one page, not two)
    assert len(api.requests("/repos/octo/hello/pulls")) == 2 + 1
    assert [r["number"] for r in second.records("pull_requests") if r["repo"] == "hello"] == [120]
    assert [r["sha"][-2:] for r in second.records("commits") if r["repo"] == "hello"] == ["82"]  # commit 130


def test_start_date_is_the_first_since(tmp_path: Path, api: FakeApi) -> None:
    catalog = select(json.loads(github(tmp_path, api, "--discover").stdout), "issues")
    result = github(tmp_path, api, catalog=catalog, settings={"start_date": "2024-01-01T04:00:00+00:00"})
    assert api.since_values(ISSUES) == ["2024-01-01T04:00:00Z"]
    assert [r["number"] for r in result.records("issues") if r["repo"] == "hello"] == list(range(240, 251))
    assert [r.path for r in api.requests()].count("/repos/octo/hello") == 1  # the parent, for repo_id


def test_transient_failures_are_retried_and_nothing_is_duplicated(tmp_path: Path, api: FakeApi) -> None:
    api.fail(ISSUES, 502, 502, 429, headers={"Retry-After": "0"})
    api.fail("/repos/octo/hello/commits", 503)
    result = github(tmp_path, api)
    assert len(result.records("issues")) == 280 == len({r["id"] for r in result.records("issues")})
    assert [r.status for r in api.requests(ISSUES)] == [502, 502, 429, 200, 200, 200]
    assert [r.status for r in api.requests("/repos/octo/hello/commits")] == [503, 200, 200]
    assert result.stderr.count("retry ") == 4


def test_bad_token_fails_fast_with_one_line(tmp_path: Path, api: FakeApi) -> None:
    result = github(tmp_path, api, settings={"auth_token": "ghp_wrong_token"}, ok=False)
    assert result.code == 1
    assert len(result.errors) == 1, result.stderr
    assert "HTTP 401 Bad credentials" in result.errors[0] and "/repos/{owner}/{repo}" in result.errors[0]
    assert "ghp_wrong_token" not in result.stderr
    assert len(api.requests()) == 1  # no retries
    assert b'"RECORD"' not in result.stdout


def test_test_flag_checks_the_token(tmp_path: Path, api: FakeApi) -> None:
    good = github(tmp_path, api, "--test")
    assert "token accepted; octo/hello is readable" in good.stderr and good.stdout == b""
    bad = github(tmp_path, api, "--test", settings={"auth_token": "nope-nope"}, ok=False)
    assert bad.code == 1 and len(bad.errors) == 1 and "Bad credentials" in bad.errors[0]
    missing = github(tmp_path, api, "--test", settings={"repositories": ["octo/missing"]}, ok=False)
    assert missing.code == 1 and "HTTP 404 Not Found" in missing.errors[0]


def test_rate_limit_headers_are_respected(tmp_path: Path) -> None:
    with FakeApi(rate_limit=4) as api:
        api.add_repo(HELLO, issues=250)
        cfg = {**config(api), "repositories": [HELLO], "per_page": 30}
        catalog = select(json.loads(tap("tap-github", tmp_path, cfg, "--discover").stdout), "issues")
        result = tap("tap-github", tmp_path, cfg, catalog=catalog)
        assert len(result.records("issues")) == 250
        # the server answers 403 to any request before its reset; the tap waited every time
        assert {r.status for r in api.requests()} == {200}
        assert "rate limit: 0 requests left" in result.stderr


def test_config_errors_exit_2(tmp_path: Path, api: FakeApi) -> None:
    result = github(tmp_path, api, settings={"repositories": ["not-a-repo"], "per_page": 500}, ok=False)
    assert result.code == 2
    assert "repositories/0" in result.stderr and "per_page" in result.stderr


def test_metric_lines_on_stderr_only(tmp_path: Path, api: FakeApi) -> None:
    result = github(tmp_path, api, settings={"repositories": [WORLD]})
    durations = [line for line in result.stderr.splitlines() if '"metric":"http_request_duration"' in line]
    assert any('"endpoint":"/repos/{owner}/{repo}/issues","http_status_code":200' in line for line in durations)
    assert all(line.startswith(b"{") for line in result.stdout.splitlines())


def test_piped_into_target_jsonl(tmp_path: Path, api: FakeApi) -> None:
    import subprocess

    from tests.conftest import exe

    (tmp_path / "tap.json").write_text(json.dumps(config(api)))
    (tmp_path / "target.json").write_text(json.dumps({"destination_path": str(tmp_path / "out")}))
    tap_proc = subprocess.Popen([exe("tap-github"), "--config", str(tmp_path / "tap.json")],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert tap_proc.stdout is not None
    target = subprocess.run([exe("target-jsonl"), "--config", str(tmp_path / "target.json")], stdin=tap_proc.stdout,
                            capture_output=True, timeout=60, check=False)
    tap_proc.stdout.close()
    assert tap_proc.wait(timeout=60) == 0 and target.returncode == 0, target.stderr.decode()
    lines = {p.stem: p.read_text().splitlines() for p in (tmp_path / "out").glob("*.jsonl")}
    assert {k: len(v) for k, v in lines.items()} == {
        "repositories": 2, "issues": 280, "pull_requests": 125, "commits": 137, "issue_comments": 113}
    state = json.loads(target.stdout.splitlines()[-1])
    assert state["bookmarks"]["issues"]["partitions"][1]["replication_key_value"] == "2024-01-01T00:30:00Z"


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize("mark", [
    "2024-01-01T03:40:00+02:00",  # 01:40Z, as another tap or a hand might write it
    "2024-01-01T01:40:00.000Z",  # milliseconds, as SDK taps write times
    "2024-01-01T01:40:00Z",  # GitHub's own form, no milliseconds
])
def test_a_bookmark_in_another_rfc3339_form_is_compared_as_an_instant(tmp_path: Path, api: FakeApi,
                                                                      mark: str) -> None:
    keys = {"issues": "updated_at", "pull_requests": "updated_at", "commits": "commit_timestamp"}
    state = {"bookmarks": {stream: {"partitions": [{"context": {"org": "octo", "repo": "hello"},
                                                    "replication_key": key, "replication_key_value": mark}]}
                           for stream, key in keys.items()}}
    catalog = select(json.loads(github(tmp_path, api, "--discover").stdout), *keys)
    result = github(tmp_path, api, catalog=catalog, state=state, settings={"repositories": [HELLO]})
    repo = api.repos[HELLO]
    newer = {"issues": [i["number"] for i in repo.issues if _instant(i["updated_at"]) >= _instant(mark)],
             "pull_requests": [p["number"] for p in repo.pulls if _instant(p["updated_at"]) >= _instant(mark)],
             "commits": [c["commit"]["message"] for c in repo.commits
                         if _instant(c["commit"]["committer"]["date"]) >= _instant(mark)]}
    assert newer["issues"][0] == 100 and newer["pull_requests"][0] == 100 and len(newer["commits"]) == 31
    assert sorted(r["number"] for r in result.records("issues")) == newer["issues"]
    assert sorted(r["number"] for r in result.records("pull_requests")) == newer["pull_requests"]
    assert sorted(r["commit"]["message"] for r in result.records("commits")) == sorted(newer["commits"])
    assert api.since_values(ISSUES)[0] == "2024-01-01T01:40:00Z"  # as GitHub writes times
    final = {s: result.state["bookmarks"][s]["partitions"][0]["replication_key_value"] for s in keys}
    assert final == {"issues": iso(250), "pull_requests": iso(120), "commits": iso(130)}
    again = github(tmp_path, api, catalog=catalog, state=result.state, settings={"repositories": [HELLO]})
    assert [r["number"] for r in again.records("issues")] == [250]  # since is inclusive: the newest comes again
    assert [r["number"] for r in again.records("pull_requests")] == [120]


def test_a_bookmark_that_is_no_time_is_a_state_error(tmp_path: Path, api: FakeApi) -> None:
    state = {"bookmarks": {"issues": {"partitions": [{"context": {"org": "octo", "repo": "hello"},
                                                      "replication_key": "updated_at",
                                                      "replication_key_value": "last tuesday"}]}}}
    catalog = select(json.loads(github(tmp_path, api, "--discover").stdout), "issues")
    result = github(tmp_path, api, catalog=catalog, state=state, ok=False)
    assert result.code == 2 and len(result.errors) == 1, result.stderr
    assert "stream 'issues'" in result.errors[0] and "'last tuesday'" in result.errors[0]
    assert result.records("issues") == []
