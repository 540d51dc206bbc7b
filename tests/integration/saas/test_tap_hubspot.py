"""tap-hubspot end to end: the real console script against a HubSpot-shaped API on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.integration.http.tapio import Result, select, tap
from tests.integration.saas.hubspot_server import TOKEN, HubSpotApi, iso, millis
from tests.integration.test_stream_maps_connectors import TAP_MAPS, about

CONTACTS, SEARCH = "/crm/v3/objects/contacts", "/crm/v3/objects/contacts/search"
FAST = {"backoff_base": 0.01, "backoff_max": 0.05}


@pytest.fixture
def api() -> Iterator[HubSpotApi]:
    with HubSpotApi() as server:
        server.add("contacts", 250)
        server.add("companies", 30)
        server.add("deals", 12)
        yield server


def hubspot(tmp_path: Path, api: HubSpotApi, *args: str, **kwargs: Any) -> Result:
    cfg = {"access_token": TOKEN, "api_url": api.url, **FAST, **kwargs.pop("settings", {})}
    return tap("tap-hubspot", tmp_path, cfg, *args, **kwargs)


def exact(result: Result, stream: str) -> list[dict[str, Any]]:
    """The records as written, numbers read back as Decimal (exactly)."""
    rows = [json.loads(line, parse_float=Decimal) for line in result.stdout.splitlines()]
    return [r["record"] for r in rows if r["type"] == "RECORD" and r["stream"] == stream]


def searched_from(api: HubSpotApi, path: str = SEARCH) -> list[tuple[str, str | None]]:
    """(the lower bound's operator and value, after) of each search request with filters (not the
    listing's one look at the newest modified date)."""
    out = []
    for r in api.requests(path):
        if "filterGroups" not in r.body:
            continue
        lower = r.body["filterGroups"][0]["filters"][0]
        out.append((f"{lower['operator']} {lower['value']}", r.body.get("after")))
    return out


def test_full_sync_every_record_once_with_typed_properties(tmp_path: Path, api: HubSpotApi) -> None:
    result = hubspot(tmp_path, api)
    result.validate()
    for stream, count in {"contacts": 250, "companies": 30, "deals": 12, "owners": 5}.items():
        records = result.records(stream)
        assert len(records) == count == len({r["id"] for r in records}), stream
    # paging.next.after, limit 100: three pages for 250 contacts, every property asked for
    pages = api.requests(CONTACTS)
    assert [r.query.get("after") for r in pages] == [None, "100", "200"]
    assert all(r.query["limit"] == "100" for r in pages)
    assert pages[0].query["properties"].split(",")[:3] == ["email", "firstname", "lastname"]
    contact = exact(result, "contacts")[6]  # contact 7
    assert contact["properties"]["annualrevenue"] == Decimal("7.07")
    assert contact["properties"]["hs_email_optout"] is True and contact["properties"]["hs_object_id"] == 7
    assert contact["properties"]["date_of_birth"] == "1990-05-17"
    assert exact(result, "contacts")[2]["properties"]["date_of_birth"] is None
    deals = exact(result, "deals")
    assert deals[0]["properties"]["amount"] == Decimal("1234567890.123456789")  # not rounded through a float
    assert deals[0]["properties"]["closedate"] == iso(1)  # epoch millis -> ISO 8601
    assert deals[1]["properties"]["closedate"] == iso(2)
    assert result.records("companies")[4]["properties"]["is_public"] is None  # "" is no value
    schema = result.schema("contacts")["schema"]["properties"]["properties"]["properties"]
    assert schema["annualrevenue"]["type"] == ["number", "null"]
    assert schema["hs_email_optout"]["type"] == ["boolean", "null"]
    assert schema["lastmodifieddate"] == {"type": ["string", "null"], "format": "date-time",
                                          "description": "Last Modified Date"}
    assert schema["date_of_birth"]["format"] == "date" and schema["lifecyclestage"]["type"] == ["string", "null"]
    assert result.schema("contacts")["key_properties"] == ["id"]
    assert result.records("owners")[0]["teams"] == [{"id": "7", "name": "Sales", "primary": True}]
    bookmarks = result.state["bookmarks"]
    assert bookmarks["contacts"] == {"replication_key": "updatedAt", "replication_key_value": iso(250)}
    assert bookmarks["deals"]["replication_key_value"] == iso(12) and "owners" not in bookmarks
    # no bookmark, no start_date: the listing, not the search API, but for one look at the newest
    # modified date before it (the bookmark may not pass it)
    assert [r.body for r in api.requests(SEARCH)] == [
        {"properties": ["lastmodifieddate"], "limit": 1,
         "sorts": [{"propertyName": "lastmodifieddate", "direction": "DESCENDING"}]}]
    assert TOKEN not in result.stderr


def test_incremental_run_fetches_only_what_changed(tmp_path: Path, api: HubSpotApi) -> None:
    first = hubspot(tmp_path, api)
    api.touch("contacts", [5, 6], minute=500)
    api.touch("deals", [3], minute=600)
    second = hubspot(tmp_path, api, state=first.state)
    second.validate()
    # the search API from the bookmark (GTE: the contact at the bookmark comes again), ascending
    assert sorted(int(r["id"]) for r in second.records("contacts")) == [5, 6, 250]
    assert [r["id"] for r in second.records("deals")] == ["12", "3"]
    assert [r["id"] for r in second.records("companies")] == ["30"]
    assert searched_from(api) == [(f"GTE {millis(250)}", None)]
    body = api.requests(SEARCH)[-1].body
    assert body["sorts"] == [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}]
    assert body["filterGroups"][0]["filters"][0]["propertyName"] == "lastmodifieddate"
    deal_search = api.requests("/crm/v3/objects/deals/search")[-1].body
    assert deal_search["filterGroups"][0]["filters"][0]["propertyName"] == "hs_lastmodifieddate"
    assert len(api.requests(CONTACTS)) == 3  # the listing only in the first run
    assert second.state["bookmarks"]["contacts"]["replication_key_value"] == iso(500)
    assert second.state["bookmarks"]["deals"]["replication_key_value"] == iso(600)


def test_search_pages_from_the_last_modified_date_never_by_offset(tmp_path: Path) -> None:
    with HubSpotApi() as api:
        api.add("contacts", 10_250, per_minute=3)  # three contacts per minute: ties at every page's edge
        catalog = select(json.loads(hubspot(tmp_path, api, "--discover").stdout), "contacts")
        result = hubspot(tmp_path, api, catalog=catalog, settings={"start_date": "2024-01-01T00:00:00Z"})
        ids = [int(r["id"]) for r in result.records("contacts")]
        assert ids == list(range(1, 10_251)), "a record lost or doubled"
        searches = searched_from(api)
        assert {r.status for r in api.requests(SEARCH)} == {200}  # never past the 10,000-result window
        assert all(after is None for _, after in searches)  # each page a new search, no offset
        # page 1 ends with contact 100 (minute 33, with 99): page 2 starts at minute 33, skipping 99 and 100
        assert searches[:2] == [(f"GTE {millis(0)}", None), (f"GTE {millis(33)}", None)]
        assert len(searches) == 104  # 100 a page, less the one or two ids emitted at the page's first date
        assert result.state["bookmarks"]["contacts"]["replication_key_value"] == iso(10_250 // 3)


def test_more_records_at_one_modified_date_than_a_page_are_paged_by_id(tmp_path: Path) -> None:
    with HubSpotApi() as api:
        api.add("companies", 10_001, per_minute=20_000)  # every company modified at minute 0
        api.add("deals", 12)
        catalog = select(json.loads(hubspot(tmp_path, api, "--discover").stdout), "companies")
        result = hubspot(tmp_path, api, catalog=catalog, settings={"start_date": iso(0)})
        ids = [int(r["id"]) for r in result.records("companies")]
        assert sorted(ids) == list(range(1, 10_002)) and len(ids) == 10_001, "a record lost or doubled"
        bodies = [r.body for r in api.requests("/crm/v3/objects/companies/search")]
        assert {r.status for r in api.requests()} == {200}
        by_id = [b for b in bodies if b["sorts"][0]["propertyName"] == "hs_object_id"]
        at_zero = [("GTE", millis(0)), ("LTE", millis(0))]
        assert [(f["operator"], f["value"]) for f in by_id[0]["filterGroups"][0]["filters"]] == at_zero
        assert [(f["operator"], f["value"]) for f in by_id[1]["filterGroups"][0]["filters"]][2] == ("GT", "100")
        # after the last company at minute 0: the search goes on after it (GT), and finds nothing more
        assert bodies[-1]["filterGroups"][0]["filters"][0] == {"propertyName": "hs_lastmodifieddate",
                                                                 "operator": "GT", "value": millis(0)}
        assert result.state["bookmarks"]["companies"]["replication_key_value"] == iso(0)


def test_start_and_end_date_bound_the_search(tmp_path: Path, api: HubSpotApi) -> None:
    catalog = select(json.loads(hubspot(tmp_path, api, "--discover").stdout), "contacts")
    result = hubspot(tmp_path, api, catalog=catalog, settings={"start_date": iso(240), "end_date": iso(244)})
    assert [r["id"] for r in result.records("contacts")] == ["240", "241", "242", "243", "244"]
    filters = api.requests(SEARCH)[0].body["filterGroups"][0]["filters"]
    assert [(f["operator"], f["value"]) for f in filters] == [("GTE", millis(240)), ("LTE", millis(244))]
    listed = hubspot(tmp_path, api, catalog=catalog, settings={"end_date": iso(3)})  # no start: the listing
    assert [r["id"] for r in listed.records("contacts")] == ["1", "2", "3"]
    assert listed.state["bookmarks"]["contacts"]["replication_key_value"] == iso(3)


def test_rate_limits_and_server_errors_are_retried_once_each(tmp_path: Path, api: HubSpotApi) -> None:
    api.fail(CONTACTS, 429, 502)
    api.fail("/crm/v3/owners", 503)
    result = hubspot(tmp_path, api)
    assert len(result.records("contacts")) == 250 == len({r["id"] for r in result.records("contacts")})
    assert [r.status for r in api.requests(CONTACTS)] == [429, 502, 200, 200, 200]
    assert [r.status for r in api.requests("/crm/v3/owners")] == [503, 200]
    assert "RATE_LIMITS: You have reached your ten_secondly_rolling limit." in result.stderr
    assert result.stderr.count("retry ") == 3


def test_the_rate_limit_headers_are_respected(tmp_path: Path) -> None:
    with HubSpotApi(rate_limit=4, interval_ms=200) as api:
        api.add("contacts", 1_000)
        catalog = select(json.loads(hubspot(tmp_path, api, "--discover").stdout), "contacts")
        result = hubspot(tmp_path, api, catalog=catalog)
        assert len(result.records("contacts")) == 1_000
        assert {r.status for r in api.requests()} == {200}  # the tap waited before it was refused
        assert "rate limit: 0 requests left" in result.stderr


def test_the_daily_limit_fails_with_one_line(tmp_path: Path, api: HubSpotApi) -> None:
    api.fail(CONTACTS, 429, policy="DAILY")
    result = hubspot(tmp_path, api, settings={"max_wait": 60, "max_retries": 1}, ok=False)
    assert result.code == 1 and len(result.errors) == 1, result.stderr
    assert "more than max_wait" in result.errors[0]
    assert [r.status for r in api.requests(CONTACTS)] == [429]


def test_bad_token_fails_fast_with_one_line(tmp_path: Path, api: HubSpotApi) -> None:
    result = hubspot(tmp_path, api, settings={"access_token": "pat-na1-wrong"}, ok=False)
    assert result.code == 1 and len(result.errors) == 1, result.stderr
    line = result.errors[0]
    assert "/crm/v3/properties/{objectType}: HTTP 401 INVALID_AUTHENTICATION: Authentication credentials" in line
    assert "correlationId 3c5b4a7e-0000-4000-8000-00000000cafe" in line
    assert "pat-na1-wrong" not in result.stderr and len(api.requests()) == 1
    assert b'"RECORD"' not in result.stdout


def test_test_flag_checks_the_token_with_one_call(tmp_path: Path, api: HubSpotApi) -> None:
    good = hubspot(tmp_path, api, "--test")
    assert "token accepted; contacts are readable" in good.stderr and good.stdout == b""
    assert [(r.path, r.query) for r in api.requests()] == [(CONTACTS, {"limit": "1"})]
    bad = hubspot(tmp_path, api, "--test", settings={"access_token": "nope-nope"}, ok=False)
    assert bad.code == 1 and len(bad.errors) == 1 and "INVALID_AUTHENTICATION" in bad.errors[0]


def test_oauth_refresh_token_instead_of_an_access_token(tmp_path: Path, api: HubSpotApi) -> None:
    oauth = {"client_id": "app-id", "client_secret": "app-secret", "refresh_token": "refresh-me-123"}
    cfg = {"api_url": api.url, **FAST, **oauth}
    result = tap("tap-hubspot", tmp_path, cfg, catalog=select(
        json.loads(tap("tap-hubspot", tmp_path, cfg, "--discover").stdout), "owners"))
    assert len(result.records("owners")) == 5
    assert [r.path for r in api.requests()].count("/oauth/v1/token") == 2  # once per process
    assert "app-secret" not in result.stderr and TOKEN not in result.stderr


def test_config_errors_exit_2(tmp_path: Path, api: HubSpotApi) -> None:
    result = hubspot(tmp_path, api, settings={"access_token": "", "limit": 500}, ok=False)
    assert result.code == 2 and "limit" in result.stderr
    missing = hubspot(tmp_path, api, settings={"access_token": ""}, ok=False)
    assert missing.code == 2
    assert "give access_token, or client_id, client_secret and refresh_token" in missing.stderr


def test_a_bad_property_value_names_stream_record_and_field(tmp_path: Path, api: HubSpotApi) -> None:
    api.objects["deals"]["5"]["properties"]["amount"] = "n/a"
    catalog = select(json.loads(hubspot(tmp_path, api, "--discover").stdout), "contacts", "deals")
    result = hubspot(tmp_path, api, catalog=catalog, ok=False)
    assert result.code == 1 and len(result.errors) == 1, result.stderr
    assert "stream 'deals': record 5: field 'properties.amount': 'n/a' is not a valid number" in result.errors[0]
    # what came before is kept: the contacts' STATE was written
    states = [m for m in result.messages if m["type"] == "STATE"]
    assert states[-1]["value"]["bookmarks"]["contacts"]["replication_key_value"] == iso(250)


def test_tap_hubspot_applies_maps_and_flattens_nested_objects(tmp_path: Path, api: HubSpotApi) -> None:
    maps = {"contacts": {"__filter__": "id != '2'", "email": "properties['email'].upper()"},
            "companies": None, "deals": None, "owners": None}
    result = hubspot(tmp_path, api, settings={"stream_maps": maps, **TAP_MAPS})
    result.validate()
    assert {m["stream"] for m in result.messages if m["type"] in ("SCHEMA", "RECORD")} == {"contacts"}
    first, second = result.records("contacts")[:2]
    assert first["email"] == "PERSON1@EXAMPLE.COM" and first["properties__firstname"] == "First1"
    assert second["id"] == "3"
    assert {"stream-maps", "schema-flattening"} <= about("tap-hubspot")


def test_a_run_stopped_in_the_middle_resumes_from_its_last_state(tmp_path: Path) -> None:
    with HubSpotApi() as api:
        api.add("contacts", 10_250, per_minute=3)
        catalog = select(json.loads(hubspot(tmp_path, api, "--discover").stdout), "contacts")
        api.fail(SEARCH, *([0] * 102), 400)  # the 103rd page (of 104): a fatal answer
        start = {"start_date": "2024-01-01T00:00:00Z"}
        first = hubspot(tmp_path, api, catalog=catalog, settings=start, ok=False)
        assert first.code == 1 and "HTTP 400" in first.errors[0]
        states = [i for i, m in enumerate(first.messages) if m["type"] == "STATE"]
        kept = [m["record"] for m in first.messages[:states[-1]] if m["type"] == "RECORD"]
        state = first.messages[states[-1]]["value"]
        assert len(kept) == 10_000  # the STATE after 10,000 records
        # the bookmark moves after a whole page: the STATE in the middle of page 102 holds page 101's last date
        bookmark = state["bookmarks"]["contacts"]["replication_key_value"]
        minute = next(m for m in range(3_400) if iso(m) == bookmark)
        assert bookmark <= kept[-1]["updatedAt"] and minute > 3_200
        second = hubspot(tmp_path, api, catalog=catalog, settings=start, state=state)
        again = [int(r["id"]) for r in second.records("contacts")]
        assert sorted({int(r["id"]) for r in kept} | set(again)) == list(range(1, 10_251)), "a record was lost"
        assert again == [n for n in range(1, 10_251) if n // 3 >= minute]  # from the bookmark's date (GTE), once each


def test_a_page_read_ahead_that_fails_stops_the_run_with_one_line(tmp_path: Path, api: HubSpotApi) -> None:
    api.fail(CONTACTS, 0, 0, 403)  # the third page, requested while the second one is written
    catalog = select(json.loads(hubspot(tmp_path, api, "--discover").stdout), "contacts")
    result = hubspot(tmp_path, api, catalog=catalog, ok=False)
    assert result.code == 1 and len(result.errors) == 1, result.stderr
    assert "/crm/v3/objects/{objectType}: HTTP 403 INTERNAL_ERROR: internal error" in result.errors[0]
    assert [r.status for r in api.requests(CONTACTS)] == [200, 200, 403]
    assert all("contacts" not in m["value"].get("bookmarks", {}) for m in result.messages if m["type"] == "STATE")
