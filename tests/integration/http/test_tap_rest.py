"""tap-rest end to end: the real console script, configured only by its config file, against loopback."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import exe, run
from tests.integration.http.servers import TOKEN, FakeApi
from tests.integration.http.tapio import Result, select, tap

FAST = {"backoff_base": 0.01, "backoff_max": 0.05}
KEY = {"auth_method": "api_key", "api_keys": {"X-API-Key": "k-123"}}

STREAMS = [
    {"name": "by_offset", "path": "/offset", "records_path": "$.data[*]", "primary_keys": ["id"],
     "pagination": {"style": "offset", "page_size": 40, "total_path": "$.total"}},
    {"name": "by_cursor", "path": "/cursor", "records_path": "$.results", "primary_keys": ["id"],
     "pagination": {"style": "cursor", "next_token_path": "$.meta.next_cursor", "page_size": 25}},
    {"name": "by_page", "path": "/pages", "primary_keys": ["id"], "pagination": {"style": "page", "page_size": 20}},
    {"name": "by_link", "path": "/link", "primary_keys": ["id"], "pagination": {"style": "link", "page_size": 30}},
]


@pytest.fixture
def api() -> Iterator[FakeApi]:
    with FakeApi() as server:
        yield server


def rest(tmp_path: Path, api: FakeApi, streams: list[dict[str, Any]], *args: str, **kwargs: Any) -> Result:
    cfg = {"api_url": api.url + "/api", "streams": streams, **KEY, **FAST, **kwargs.pop("settings", {})}
    return tap("tap-rest", tmp_path, cfg, *args, **kwargs)


def test_every_pagination_style_fetches_every_record_once(tmp_path: Path, api: FakeApi) -> None:
    result = rest(tmp_path, api, STREAMS, settings={"num_inference_records": 0})
    result.validate()
    for stream in ("by_offset", "by_cursor", "by_page", "by_link"):
        assert [r["id"] for r in result.records(stream)] == list(range(1, 251)), stream
    # one sample page per stream to infer the schema, then the pages of the sync
    assert len(api.requests("/api/offset")) == 1 + 7
    assert len(api.requests("/api/cursor")) == 1 + 10
    assert len(api.requests("/api/pages")) == 1 + 13
    assert len(api.requests("/api/link")) == 1 + 9


def test_schema_is_inferred_from_a_sample(tmp_path: Path, api: FakeApi) -> None:
    result = rest(tmp_path, api, STREAMS[:1], "--discover")
    (entry,) = json.loads(result.stdout)["streams"]
    assert entry["schema"]["properties"] == {
        "id": {"type": ["integer"]},
        "name": {"type": ["string", "null"]},
        "price": {"type": ["number", "null"]},
        "updated_at": {"type": ["string", "null"], "format": "date-time"},
    }
    assert entry["key_properties"] == ["id"]
    assert len(api.requests("/api/offset")) == 2  # 50 records sampled: two pages of 40


def test_a_given_schema_is_used_and_other_fields_are_left_out(tmp_path: Path, api: FakeApi) -> None:
    schema = {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": ["string", "null"]}}}
    result = rest(tmp_path, api, [{**STREAMS[2], "schema": schema}])
    result.validate()
    assert result.schema("by_page")["schema"] == schema
    assert result.records("by_page")[0] == {"id": 1, "name": "item 1"}
    assert len(api.requests("/api/pages")) == 13  # no sampling


def test_incremental_by_replication_param(tmp_path: Path, api: FakeApi) -> None:
    stream = {**STREAMS[0], "replication_key": "updated_at", "replication_param": "updated_since"}
    first = rest(tmp_path, api, [stream], settings={"start_date": "2024-01-01T03:00:00Z"})
    assert [r["id"] for r in first.records("by_offset")] == list(range(180, 251))
    assert first.state == {"bookmarks": {"by_offset": {"replication_key": "updated_at",
                                                       "replication_key_value": "2024-01-01T04:10:00Z"}}}
    api.items.append({"id": 251, "name": "new", "price": 1.0, "updated_at": "2024-01-02T00:00:00Z"})
    second = rest(tmp_path, api, [stream], state=first.state)
    assert [r["id"] for r in second.records("by_offset")] == [250, 251]
    sync_requests = [r for r in api.requests("/api/offset") if r.query.get("offset") == "0"]
    assert [r.query.get("updated_since") for r in sync_requests] == [
        None, "2024-01-01T03:00:00Z", None, "2024-01-01T04:10:00Z"]  # sample, sync; sample, sync
    assert second.state["bookmarks"]["by_offset"]["replication_key_value"] == "2024-01-02T00:00:00Z"


def test_oauth2_token_is_fetched_and_refreshed_before_expiry(tmp_path: Path, api: FakeApi) -> None:
    api.add_repo("octo/hello", issues=250)
    api.token_lifetime = 30  # within the 60 s leeway: a fresh token for every request
    stream = {"name": "issues", "path": "/repos/octo/hello/issues", "primary_keys": ["id"],
              "params": {"state": "all"}, "pagination": {"style": "link", "page_size": 100}, "num_inference_records": 0}
    settings = {"api_url": api.url, "auth_method": "oauth", "access_token_url": api.url + "/oauth/token",
                "client_id": "client-1", "client_secret": "secret-1", "grant_type": "refresh_token",
                "refresh_token": "refresh-1"}
    result = tap("tap-rest", tmp_path, {"streams": [stream], **FAST, **settings})
    assert len(result.records("issues")) == 250
    gets = api.requests("/repos/octo/hello/issues")
    assert len(api.requests("/oauth/token", "POST")) == len(gets) == 4  # sample page + 3 pages
    assert len({r.auth for r in gets}) == 4
    assert "secret-1" not in result.stderr and "refresh-1" not in result.stderr


def test_each_stream_may_have_its_own_auth(tmp_path: Path, api: FakeApi) -> None:
    api.add_repo("octo/hello", issues=120)
    github = {"name": "issues", "path": "/repos/octo/hello/issues", "primary_keys": ["id"],
              "pagination": {"style": "link", "page_size": 100}, "params": {"state": "all"},
              "auth_method": "oauth", "access_token_url": api.url + "/oauth/token"}
    items = {**STREAMS[1], "path": "/api/cursor"}
    settings = {"api_url": api.url, "client_id": "client-1", "client_secret": "secret-1", **KEY}
    result = tap("tap-rest", tmp_path, {"streams": [items, github], **FAST, **settings})
    assert len(result.records("issues")) == 120 and len(result.records("by_cursor")) == 250
    assert {r.auth for r in api.requests("/repos/octo/hello/issues")} == {"Bearer access-1"}
    assert {r.auth for r in api.requests("/api/cursor")} == {None}  # the top-level API key, in its header
    assert len(api.requests("/oauth/token", "POST")) == 1


def test_a_stream_credential_applies_without_naming_the_method(tmp_path: Path, api: FakeApi) -> None:
    """A stream that sets only its own token authenticates with it (the top-level method, its token)."""
    api.add_repo("octo/hello", issues=30)
    github = {"name": "issues", "path": "/repos/octo/hello/issues", "primary_keys": ["id"],
              "pagination": {"style": "link", "page_size": 100}, "params": {"state": "all"}, "bearer_token": TOKEN}
    items = {**STREAMS[1], "path": "/api/cursor"}
    settings = {"api_url": api.url, "auth_method": "bearer_token", "bearer_token": "top-level-token"}
    result = tap("tap-rest", tmp_path, {"streams": [items, github], **FAST, **settings})
    assert len(result.records("issues")) == 30 and len(result.records("by_cursor")) == 250
    assert {r.auth for r in api.requests("/repos/octo/hello/issues")} == {f"Bearer {TOKEN}"}
    assert {r.auth for r in api.requests("/api/cursor")} == {"Bearer top-level-token"}
    assert TOKEN not in result.stderr


def test_bad_api_key_fails_fast_with_one_line(tmp_path: Path, api: FakeApi) -> None:
    result = rest(tmp_path, api, STREAMS[:1], settings={"api_keys": {"X-API-Key": "bad-key-999"}}, ok=False)
    assert result.code == 1
    assert len(result.errors) == 1, result.stderr
    assert "/offset: HTTP 401 invalid api key" in result.errors[0]
    assert "bad-key-999" not in result.stderr
    assert len(api.requests("/api/offset")) == 1


def test_api_key_in_the_query_is_never_logged(tmp_path: Path, api: FakeApi) -> None:
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"api_url": api.url + "/api", "streams": STREAMS[:1], **KEY,
                               "api_keys": {"api_key": "k-123"}, "api_key_location": "query"}))
    proc = run([exe("tap-rest"), "--config", str(cfg)], env={**os.environ, "SLUICE_LOG_LEVEL": "DEBUG"})
    assert proc.returncode == 0, proc.stderr.decode()
    assert b"api_key=********" in proc.stderr  # urllib3's debug line, scrubbed
    assert b"k-123" not in proc.stderr
    assert api.requests("/api/offset")[0].query["api_key"] == "k-123"


def test_slow_endpoint_times_out_and_retries_are_counted(tmp_path: Path, api: FakeApi) -> None:
    api.slow_seconds = 1.0
    stream = {"name": "slow", "path": "/slow", "primary_keys": ["id"], "schema": {"properties": {"id": {}}}}
    result = tap("tap-rest", tmp_path, {"api_url": api.url, "streams": [stream], "timeout": 0.1, "max_retries": 2,
                                        **FAST}, ok=False)
    assert result.code == 1
    assert len(result.errors) == 1 and "/slow: timed out (ReadTimeout)" in result.errors[0]
    assert len(api.requests("/slow")) == 3
    assert result.stderr.count("retry ") == 2


def test_test_flag(tmp_path: Path, api: FakeApi) -> None:
    good = rest(tmp_path, api, STREAMS[:1], "--test")
    assert "'by_offset' answered with 40 records" in good.stderr
    api.fail("/api/offset", 403)
    bad = rest(tmp_path, api, STREAMS[:1], "--test", ok=False)
    assert bad.code == 1 and len(bad.errors) == 1 and "HTTP 403" in bad.errors[0]


def test_catalog_selects_streams(tmp_path: Path, api: FakeApi) -> None:
    catalog = select(json.loads(rest(tmp_path, api, STREAMS, "--discover").stdout), "by_cursor")
    result = rest(tmp_path, api, STREAMS, catalog=catalog)
    assert {m.get("stream") for m in result.messages if m["type"] == "RECORD"} == {"by_cursor"}


def test_a_wrong_records_path_is_named(tmp_path: Path, api: FakeApi) -> None:
    result = rest(tmp_path, api, [{**STREAMS[0], "records_path": "$.*"}], ok=False)
    assert result.code == 1 and len(result.errors) == 1
    assert "stream 'by_offset': records_path '$.*' matched a list, not an object" in result.errors[0]


def test_keys_must_be_fields_of_the_sample(tmp_path: Path, api: FakeApi) -> None:
    result = rest(tmp_path, api, [{**STREAMS[0], "primary_keys": ["uuid"]}], "--discover", ok=False)
    assert result.code == 2 and len(result.errors) == 1
    assert "stream 'by_offset': no such field in the sampled records: 'uuid' (fields: id, name" in result.errors[0]
    api.items.clear()
    empty = rest(tmp_path, api, STREAMS[:1], "--discover", ok=False)
    assert empty.code == 2 and "returned no records to infer a schema from; set the stream's 'schema'" in empty.stderr


def test_config_errors_exit_2(tmp_path: Path, api: FakeApi) -> None:
    twice = rest(tmp_path, api, [STREAMS[0], STREAMS[0]], ok=False)
    assert twice.code == 2 and "'by_offset' is used twice" in twice.stderr
    bad = rest(tmp_path, api, [{**STREAMS[0], "pagination": {"style": "sideways"}}], ok=False)
    assert bad.code == 2 and "sideways" in bad.stderr
    missing = rest(tmp_path, api, STREAMS[:1], settings={"auth_method": "bearer_token"}, ok=False)
    assert missing.code == 2 and "setting 'bearer_token' is missing" in missing.stderr
