"""tap-hubspot against data that changes while it reads: no change may be lost, now or in the next run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.integration.http.tapio import Result, select, tap
from tests.integration.saas.hubspot_server import TOKEN, HubSpotApi, iso

CONTACTS, SEARCH = "/crm/v3/objects/contacts", "/crm/v3/objects/contacts/search"
FAST = {"backoff_base": 0.01, "backoff_max": 0.05}


@pytest.fixture
def api() -> Iterator[HubSpotApi]:
    with HubSpotApi() as server:
        yield server


def contacts(tmp_path: Path, api: HubSpotApi, **kwargs: Any) -> Result:
    """A run of the contacts stream alone."""
    cfg = {"access_token": TOKEN, "api_url": api.url, **FAST, **kwargs.pop("settings", {})}
    catalog = select(json.loads(tap("tap-hubspot", tmp_path, cfg, "--discover").stdout), "contacts")
    return tap("tap-hubspot", tmp_path, cfg, catalog=catalog, **kwargs)


def versions(result: Result) -> list[tuple[int, str]]:
    return [(int(r["id"]), r["updatedAt"]) for r in result.records("contacts")]


def test_a_change_during_the_listing_reaches_the_next_run(tmp_path: Path, api: HubSpotApi) -> None:
    api.add("contacts", 250)

    def edit() -> None:  # while page 2 is asked for: contact 5 (read on page 1), then contact 250 (page 3)
        api.touch("contacts", [5], 1000)
        api.touch("contacts", [250], 1001)

    api.before(CONTACTS, 2, edit)
    first = contacts(tmp_path, api)
    assert (5, iso(5)) in versions(first) and (250, iso(1001)) in versions(first)
    # not the newest date listed (contact 250's): the newest there was when the listing began
    assert first.state["bookmarks"]["contacts"]["replication_key_value"] == iso(250)
    second = contacts(tmp_path, api, state=first.state)
    assert versions(second) == [(5, iso(1000)), (250, iso(1001))]


@pytest.mark.parametrize("skew", [timedelta(0), timedelta(minutes=-10)])
def test_the_listing_bookmark_keeps_to_the_servers_clock(tmp_path: Path, skew: timedelta) -> None:
    """The search index has not caught up (no newest date to go by): the bookmark may not pass the
    listing's start, by the server's clock (its Date header), which runs behind this machine's."""
    with HubSpotApi(skew=skew) as api:
        api.add("contacts", 250)
        api.search_lag = timedelta(days=100_000)

        def edit() -> None:  # while page 2 is asked for: contact 5 (read), then 250 (not yet), stamped now
            api.touch("contacts", [5], at=api.now())
            api.touch("contacts", [250], at=api.now() + timedelta(seconds=1))

        api.before(CONTACTS, 2, edit)
        first = contacts(tmp_path, api)
        changed = dict(versions(first))[250]
        assert changed > iso(250) and len(first.records("contacts")) == 250
        assert first.state["bookmarks"]["contacts"]["replication_key_value"] < changed
        api.search_lag = None
        second = contacts(tmp_path, api, state=first.state)
        assert [n for n, _ in versions(second)] == [5, 250], "contact 5's change was lost"


def test_a_change_during_the_search_skips_no_record(tmp_path: Path, api: HubSpotApi) -> None:
    api.add("contacts", 250)
    api.before(SEARCH, 2, lambda: api.touch("contacts", [5], 1000))  # contact 5 (page 1) moves to the end
    result = contacts(tmp_path, api, settings={"start_date": iso(0)})
    got = versions(result)
    assert sorted({n for n, _ in got}) == list(range(1, 251)), "a record was skipped"
    assert got[-1] == (5, iso(1000)) and len(got) == 251  # contact 5 at both its versions, nothing else twice
    assert result.state["bookmarks"]["contacts"]["replication_key_value"] == iso(1000)


def test_a_change_while_paging_one_modified_date_skips_no_record(tmp_path: Path, api: HubSpotApi) -> None:
    api.add("contacts", 250, per_minute=1_000)  # all modified at minute 0: more than a page at one date
    api.before(SEARCH, 2, lambda: api.touch("contacts", [5], 1000))
    result = contacts(tmp_path, api, settings={"start_date": iso(0)})
    got = versions(result)
    assert sorted({n for n, _ in got}) == list(range(1, 251)), "a record was skipped"
    assert got[-1] == (5, iso(1000)) and len(got) == 251
    assert all("after" not in r.body for r in api.requests(SEARCH))


def test_a_repeated_listing_cursor_fails_with_one_line(tmp_path: Path, api: HubSpotApi) -> None:
    api.add("contacts", 250)
    api.stuck_after = "100"  # page 2 names itself as the next page
    result = contacts(tmp_path, api, ok=False)
    assert result.code == 1 and len(result.errors) == 1, result.stderr
    assert ("stream 'contacts': /crm/v3/objects/{objectType}: paging.next.after '100' came twice; "
            "paging would not end") in result.errors[0]
    assert all("contacts" not in m["value"].get("bookmarks", {}) for m in result.messages if m["type"] == "STATE")
