"""tap-rest end to end on what an API answers: credentials that must stay with the API's origin, and
replication-key values compared by their schema type (never as text when the schema says otherwise)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration.http.tapio import Result, tap
from tests.integration.http.test_tap_rest_paging import Api, Reply
from tests.integration.http.test_tap_rest_paging import serve as serve  # the fixture: a loopback API per handler

SECRETS = {"auth_method": "api_key", "api_keys": {"X-API-Key": "KEY-s3cret-1"}, "headers": {"X-Tenant": "T-s3cret-2"}}
FAST = {"max_retries": 1, "backoff_base": 0.01, "backoff_max": 0.02}


def run(tmp_path: Path, api: Api, stream: dict[str, Any], settings: dict[str, Any] | None = None,
        state: dict[str, Any] | None = None) -> Result:
    cfg = {"api_url": api.url, "streams": [{"name": "s", "path": "/items", **stream}], **FAST, **(settings or {})}
    return tap("tap-rest", tmp_path, cfg, state=state, ok=False)


def test_a_redirect_to_another_origin_gets_no_key_and_no_configured_header(tmp_path: Path, serve: Any) -> None:
    """urllib3 drops only Authorization and Cookie on a cross-host redirect: X-API-Key, the config's
    ``headers`` and a stream's ``headers`` (a token, often) reached the other host."""
    other = serve(lambda api, query: (200, {}, [{"id": 2}]))
    api = serve(lambda api, query: (302, {"Location": f"{other.url}/landing"}, {}))
    result = run(tmp_path, api, {"headers": {"X-Auth-Token": "TOK-s3cret-3"}, "primary_keys": ["id"]}, SECRETS)
    assert result.code == 0, result.stderr
    assert result.records("s") == [{"id": 2}]
    assert len(other.headers) == 2  # the landing's requests: the sample and the sync
    for sent in other.headers:
        assert not {"x-api-key", "x-tenant", "x-auth-token", "authorization"} & set(sent), sent
        assert "user-agent" in sent
    assert api.headers[0]["x-auth-token"] == "TOK-s3cret-3" and api.headers[0]["x-api-key"] == "KEY-s3cret-1"


@pytest.mark.parametrize("style", ["link", "cursor"])
def test_a_next_page_on_another_origin_is_an_error_and_is_not_requested(tmp_path: Path, serve: Any,
                                                                        style: str) -> None:
    other = serve(lambda api, query: (200, {}, {"data": [{"id": 2}], "next": None}))
    nxt = f"{other.url}/page2"
    api = serve(lambda api, query: (200, {"Link": f'<{nxt}>; rel="next"'} if style == "link" else {},
                                    {"data": [{"id": 1}], "next": nxt}))
    stream = {"records_path": "$.data[*]", "pagination": {"style": style}, "primary_keys": ["id"],
              "schema": {"type": "object", "properties": {"id": {"type": "integer"}}}}
    result = run(tmp_path, api, stream, SECRETS)
    assert result.code != 0
    assert len(result.errors) == 1, result.stderr
    assert f"stream 's': /items: the next page {nxt} is on another origin than the API's" in result.errors[0]
    assert other.count == 0
    assert "s3cret" not in result.stderr


@pytest.mark.parametrize(("values", "prop", "state", "bookmark"), [
    # instants: 08:00-05:00 is 13:00Z, after 10:00Z (as text it sorted first)
    (["2024-01-01T10:00:00Z", "2024-01-01T08:00:00-05:00"], {"type": ["string", "null"], "format": "date-time"},
     None, "2024-01-01T08:00:00-05:00"),
    (["2024-01-01T12:00:00Z"], {"type": "string", "format": "date-time"}, "2024-01-01T09:00:00-05:00",
     "2024-01-01T09:00:00-05:00"),  # the saved bookmark (14:00Z) is later: it stays, as written
    # numbers: a bookmark saved as text ("9") against integers: as text "11" < "9", the bookmark stuck
    ([10, 11], {"type": ["integer", "null"]}, "9", 11),
    (["9", "10"], {"type": "integer"}, None, "10"),  # the schema says integer: "10" > "9", kept as text
    ([1.5, 12], {"type": "number"}, 2, 12),
    # a string without format compares as text, as the schema says
    (["9", "10"], {"type": "string"}, None, "9"),
])
def test_replication_values_compare_by_their_schema_type(tmp_path: Path, serve: Any, values: list[Any],
                                                         prop: dict[str, Any], state: Any, bookmark: Any) -> None:
    api = serve(lambda api, query: (200, {}, [{"id": i, "v": v} for i, v in enumerate(values)]))
    props = {"id": {"type": "integer"}, "v": prop}
    stream = {"replication_key": "v", "schema": {"type": "object", "properties": props}}
    saved = None if state is None else {"bookmarks": {"s": {"replication_key": "v", "replication_key_value": state}}}
    result = run(tmp_path, api, stream, state=saved)
    assert result.code == 0, result.stderr
    assert result.state["bookmarks"]["s"] == {"replication_key": "v", "replication_key_value": bookmark}


def test_a_value_not_of_the_schema_type_is_an_error(tmp_path: Path, serve: Any) -> None:
    api = serve(lambda api, query: (200, {}, [{"id": 1, "v": "2024-01-01T00:00:00Z"}, {"id": 2, "v": "soon"}]))
    stream = {"replication_key": "v", "schema": {"type": "object", "properties": {
        "id": {"type": "integer"}, "v": {"type": "string", "format": "date-time"}}}}
    result = run(tmp_path, api, stream)
    assert result.code != 0
    assert "stream 's': replication key 'v' value 'soon' is not of its type in the schema" in result.errors[0]


def test_a_bookmark_of_zero_is_sent_not_the_start_date(tmp_path: Path, serve: Any) -> None:
    queries: list[dict[str, str]] = []

    def handler(api: Api, query: dict[str, str]) -> Reply:
        queries.append(query)
        return 200, {}, [{"id": 1, "v": 5}]

    stream = {"replication_key": "v", "replication_param": "since",
              "schema": {"type": "object", "properties": {"id": {"type": "integer"}, "v": {"type": "integer"}}}}
    state = {"bookmarks": {"s": {"replication_key": "v", "replication_key_value": 0}}}
    result = run(tmp_path, serve(handler), stream, {"start_date": "2020-01-01"}, state)
    assert result.code == 0, result.stderr
    assert queries == [{"since": "0"}]
    assert result.state["bookmarks"]["s"]["replication_key_value"] == 5
