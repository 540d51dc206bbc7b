"""tap-linear's bookmark at its edge: a record updated at exactly the bookmark's time after the
run that set it is read by the next run; records already emitted at that time are not."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.http.tapio import Result, select, tap
from tests.integration.saas.linear_data import stamp
from tests.integration.saas.linear_server import API_KEY, LinearApi

FAST = {"backoff_base": 0.01, "backoff_max": 0.05}


@pytest.fixture
def api() -> Iterator[LinearApi]:
    with LinearApi() as server:
        server.seed(issues=40)
        yield server


def issues(tmp_path: Path, api: LinearApi, state: dict[str, Any] | None = None) -> Result:
    config = {"auth_token": API_KEY, "api_url": api.url, **FAST}
    catalog = select(json.loads(tap("tap-linear", tmp_path, config, "--discover").stdout), "issues")
    return tap("tap-linear", tmp_path, config, state=state, catalog=catalog)


def mark(result: Result) -> dict[str, Any]:
    entry: dict[str, Any] = result.state["bookmarks"]["issues"]
    return entry


def test_an_edit_at_exactly_the_bookmarks_time_is_read_and_nothing_comes_twice(tmp_path: Path,
                                                                               api: LinearApi) -> None:
    first = issues(tmp_path, api)
    newest = max(first.records("issues"), key=lambda r: r["updatedAt"])
    at = newest["updatedAt"]
    oldest = min(first.records("issues"), key=lambda r: r["updatedAt"])["id"]
    api.touch("issues", [oldest], at)  # edited in the same millisecond, seen only now
    second = issues(tmp_path, api, first.state)
    assert [(r["id"], r["updatedAt"], r["title"].endswith("(edited)")) for r in second.records("issues")] == [
        (oldest, at, True)]
    assert api.queries("issues")[-1].variables["filter"] == {"updatedAt": {"gte": at}}
    assert mark(first) == {"replication_key": "updatedAt", "replication_key_value": at, "ids_at_value": [newest["id"]]}
    assert mark(second)["replication_key_value"] == at
    assert sorted(mark(second)["ids_at_value"]) == sorted([newest["id"], oldest])
    third = issues(tmp_path, api, second.state)
    assert third.records("issues") == [] and mark(third) == mark(second)


def test_the_ids_at_a_newer_bookmark_replace_the_old_ones(tmp_path: Path, api: LinearApi) -> None:
    first = issues(tmp_path, api)
    ids = sorted(r["id"] for r in first.records("issues")[-3:])
    api.touch("issues", ids[:2], stamp(9_000))
    api.touch("issues", ids[2:], stamp(8_000))
    second = issues(tmp_path, api, first.state)
    assert sorted(r["id"] for r in second.records("issues")) == ids
    assert mark(second)["replication_key_value"] == stamp(9_000)
    assert sorted(mark(second)["ids_at_value"]) == ids[:2]
    assert issues(tmp_path, api, second.state).records("issues") == []


def test_a_state_without_the_ids_re_emits_at_most_the_records_at_its_bookmark(tmp_path: Path,
                                                                                api: LinearApi) -> None:
    first = issues(tmp_path, api)
    at = mark(first)["replication_key_value"]
    old = {"bookmarks": {"issues": {"replication_key": "updatedAt", "replication_key_value": at}}}
    second = issues(tmp_path, api, old)
    assert [r["updatedAt"] for r in second.records("issues")] == [at]
    assert mark(second)["ids_at_value"] == [second.records("issues")[0]["id"]]
    assert issues(tmp_path, api, second.state).records("issues") == []
