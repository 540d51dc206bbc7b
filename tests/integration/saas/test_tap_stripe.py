"""tap-stripe end to end: the real console script against a Stripe-shaped server on loopback."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.http.tapio import Result, select, tap
from tests.integration.saas.stripe_server import ACCOUNT, KEY, StripeApi

FAST = {"backoff_base": 0.01, "backoff_max": 0.05}
COUNTS = {"customers": 250, "charges": 30, "invoices": 5, "subscriptions": 4, "products": 3, "prices": 3,
          "payment_intents": 7}
CUSTOMERS = "/v1/customers"


@pytest.fixture
def api() -> Iterator[StripeApi]:
    with StripeApi() as server:
        server.base = server.populate(seconds_ago=600, **COUNTS)  # type: ignore[attr-defined]
        yield server


def stripe(tmp_path: Path, api: StripeApi, *args: str, streams: tuple[str, ...] = (), **kwargs: Any) -> Result:
    settings = kwargs.pop("settings", {})
    cfg = {"client_secret": KEY, "api_url": api.url, "start_date": _iso(api.base - 5),  # type: ignore[attr-defined]
           **FAST, **settings}
    cfg = {k: v for k, v in cfg.items() if v is not None}
    if streams:
        discovered = json.loads(tap("tap-stripe", tmp_path, cfg, "--discover").stdout)
        kwargs["catalog"] = select(discovered, *streams)
    return tap("tap-stripe", tmp_path, cfg, *args, **kwargs)


def _iso(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _next_second(after: int) -> None:
    """Wait until the clock is past ``after`` (a run's end is the second it started)."""
    while time.time() < after + 1.01:
        time.sleep(0.05)


def test_full_sync_every_record_once_in_the_default_variants_shapes(tmp_path: Path, api: StripeApi) -> None:
    result = stripe(tmp_path, api, settings={"stripe_version": "2023-10-16", "account_id": ACCOUNT})
    result.validate()
    for stream, count in {**COUNTS, "events": sum(COUNTS.values())}.items():
        records = result.records(stream)
        assert len(records) == count == len({r["id"] for r in records}), stream
    # newest first, 100 a page, starting_after the last id of the page before
    pages = api.requests(CUSTOMERS)
    assert [r.query.get("starting_after") for r in pages] == [None, "cus_00000000000151", "cus_00000000000051"]
    assert all(r.query["limit"] == "100" for r in pages)
    assert {r.headers["stripe-version"] for r in api.requests()} == {"2023-10-16"}
    assert {r.headers["stripe-account"] for r in api.requests()} == {ACCOUNT}
    assert {r.headers["authorization"] for r in api.requests()} == {f"Bearer {KEY}"}
    customer = next(r for r in result.records("customers") if r["id"] == "cus_00000000000007")
    created = api.base + 3  # type: ignore[attr-defined]
    assert customer["created"] == customer["updated"] == time.strftime("%Y-%m-%dT%H:%M:%S.000000Z",
                                                                        time.gmtime(created))
    assert customer["metadata"] == {"order": "7"} and customer["updated_by_event_type"] is None
    charge = result.records("charges")[0]
    assert isinstance(charge["amount"], int) and charge["amount"] == 1030
    invoice = next(r for r in result.records("invoices") if r["id"] == "in_00000000000002")
    assert invoice["lines"] == ["il_00000000000200", "il_00000000000201"]
    assert invoice["status_transitions"]["paid_at"] == _iso(api.base + 1 + 120).replace("Z", ".000000Z")  # type: ignore[attr-defined]
    assert result.records("subscriptions")[0]["items"][0].startswith("si_")
    assert result.schema("customers")["key_properties"] == ["id"]
    assert api.requests("/v1/subscriptions")[0].query["status"] == "all"
    # singer-io's state: unix seconds under the replication key (invoices: "date"), updates per stream
    bookmarks = result.state["bookmarks"]
    end = bookmarks["customers"]["created"]
    assert isinstance(end, int) and bookmarks["invoices"] == {"date": end}
    assert bookmarks["customers_events"] == {"updates_created": end}
    assert KEY not in result.stderr


def test_incremental_run_gets_new_objects_and_updates_once(tmp_path: Path, api: StripeApi) -> None:
    first = stripe(tmp_path, api, settings={"lookback_window": 0})
    end = first.state["bookmarks"]["customers"]["created"]
    _next_second(end)
    now = int(time.time())
    api.update("customers", 5, now - 1, name="Renamed once")
    api.update("customers", 5, now, name="Renamed twice")  # the newest event wins
    api.update("customers", 6, now, email="six@example.com")
    api.update("subscriptions", 2, now, quantity=3)  # customer.subscription.updated: not a customer
    api.create("customers", 251, now)
    new = api.create("customers", 252, now)
    api.update("customers", 252, now, name="New and changed")  # listed now: not again from its event
    _next_second(now)
    second = stripe(tmp_path, api, state=first.state, settings={"lookback_window": 0})
    second.validate()
    customers = {r["id"]: r for r in second.records("customers")}
    assert sorted(customers) == ["cus_00000000000005", "cus_00000000000006", "cus_00000000000251",
                                 new["id"]]
    assert len(second.records("customers")) == 4
    assert customers["cus_00000000000005"]["name"] == "Renamed twice"
    assert customers["cus_00000000000005"]["updated_by_event_type"] == "customer.updated"
    assert customers["cus_00000000000005"]["updated"] == _iso(now).replace("Z", ".000000Z")
    assert customers[new["id"]]["name"] == "New and changed" and customers[new["id"]]["updated_by_event_type"] is None
    assert [r["quantity"] for r in second.records("subscriptions")] == [3]
    assert second.records("charges") == [] and second.records("invoices") == []
    # the second run asks from the first run's end, lists and events alike
    assert api.requests(CUSTOMERS)[-1].query["created[gte]"] == str(end)
    events = [r.query for r in api.requests("/v1/events") if r.query.get("type") == "customer.*"]
    assert [q["created[gte]"] for q in events] == [str(end)]
    # the events stream: the seven new events only (lookback_window 0)
    assert len(second.records("events")) == 7


def test_an_object_created_during_a_run_is_read_by_the_next_run_once(tmp_path: Path, api: StripeApi) -> None:
    api.on_request(CUSTOMERS, 2, lambda: api.create("customers", 300, int(time.time())))  # while paging
    first = stripe(tmp_path, api, streams=("customers",))
    assert len(first.records("customers")) == 250 == len({r["id"] for r in first.records("customers")})
    _next_second(api.by_id["cus_00000000000300"]["created"])  # created at or after the first run's end
    second = stripe(tmp_path, api, streams=("customers",), state=first.state)
    assert [r["id"] for r in second.records("customers")] == ["cus_00000000000300"]
    third = stripe(tmp_path, api, streams=("customers",), state=second.state)
    assert third.records("customers") == []


def test_an_object_stamped_by_a_clock_behind_ours_is_read_by_the_next_run(tmp_path: Path, api: StripeApi) -> None:
    """Stripe stamps ``created`` with its clock. Ours 5 s ahead: a customer created while the first run
    paged got ``created`` before that run's end (its ``now``), past the page that would have held it;
    the next run listed from that end, and neither run read it (found by an outside probe). The end
    stored for the next run is read on Stripe's clock (its Date headers), so the next run reads it."""
    api.skew = -5

    def create() -> None:
        api.create("customers", 300, int(time.time()) + api.skew)
    api.on_request(CUSTOMERS, 2, create)
    first = stripe(tmp_path, api, streams=("customers",))
    assert "cus_00000000000300" not in {r["id"] for r in first.records("customers")}
    _next_second(int(time.time()))
    second = stripe(tmp_path, api, streams=("customers",), state=first.state)
    assert "cus_00000000000300" in {r["id"] for r in second.records("customers")}
    assert first.state["bookmarks"]["customers"]["created"] <= api.by_id["cus_00000000000300"]["created"]


def test_lookback_window_reads_recent_events_again(tmp_path: Path, api: StripeApi) -> None:
    first = stripe(tmp_path, api, streams=("events",))
    end = first.state["bookmarks"]["events"]["created"]
    lookback = end - (api.base + 100)  # type: ignore[attr-defined]
    again = stripe(tmp_path, api, streams=("events",), state=first.state, settings={"lookback_window": lookback})
    assert api.requests("/v1/events")[-1].query["created[gte]"] == str(end - lookback)
    recent = {e["id"] for e in api.objects["events"] if e["created"] >= end - lookback}
    assert {r["id"] for r in again.records("events")} == recent
    assert 0 < len(recent) < len(first.records("events"))


def test_windows_and_a_resumed_run_going_on_from_the_cursor(tmp_path: Path, api: StripeApi) -> None:
    window = {"date_window_size": 120 / 86400}  # two minutes: customers 1..229 in the first, 230..250 next
    start = api.base - 5  # type: ignore[attr-defined]
    # page 1 of the first window passes, page 2 answers 500 with Stripe-Should-Retry: false (no retry)
    api.fail(CUSTOMERS, None, (500, {"Stripe-Should-Retry": "false"}))
    cut = stripe(tmp_path, api, streams=("customers",), settings=window, ok=False)
    assert cut.code == 1 and len(cut.errors) == 1, cut.stderr
    assert "/v1/customers: HTTP 500 api_error: An unknown error occurred" in cut.errors[0]
    assert len(api.requests(CUSTOMERS)) == 2 and "retry" not in cut.stderr
    assert len(cut.records("customers")) == 100
    assert cut.state["bookmarks"]["customers"] == {"created": start, "window_end": start + 120,
                                                   "starting_after": "cus_00000000000130"}
    api.log.clear()
    resumed = stripe(tmp_path, api, streams=("customers",), settings=window, state=cut.state)
    ids = [r["id"] for r in cut.records("customers") + resumed.records("customers")]
    assert len(ids) == 250 == len(set(ids))  # every customer once across the two runs
    queries = [r.query for r in api.requests(CUSTOMERS)]
    assert (queries[0]["starting_after"], queries[0]["created[gte]"], queries[0]["created[lt]"]) == (
        "cus_00000000000130", str(start), str(start + 120))
    assert [int(q["created[gte]"]) for q in queries[2:5]] == [start + 120, start + 240, start + 360]
    end = int(queries[-1]["created[lt]"])  # the run's end; stored on Stripe's clock, read to the second
    assert end - 1 <= resumed.state["bookmarks"]["customers"]["created"] <= end
    assert "window_end" not in resumed.state["bookmarks"]["customers"]


def test_stripe_should_retry_and_rate_limits(tmp_path: Path, api: StripeApi) -> None:
    rate_limited = {"error": {"type": "invalid_request_error", "code": "rate_limit",
                              "message": "Too many requests hit the API too quickly."}}
    lock = {"error": {"type": "invalid_request_error", "code": "lock_timeout",
                      "message": "This object cannot be accessed right now because another API request or "
                                 "Stripe process is currently accessing it."}}
    api.fail(CUSTOMERS, (429, {"Retry-After": "0"}, rate_limited), (500, {"Stripe-Should-Retry": "true"}),
             (409, {}, lock), (400, {"Stripe-Should-Retry": "true"}, lock))
    result = stripe(tmp_path, api, streams=("customers",))
    assert [r.status for r in api.requests(CUSTOMERS)] == [429, 500, 409, 400, 200, 200, 200]
    assert len(result.records("customers")) == 250 == len({r["id"] for r in result.records("customers")})
    assert result.stderr.count("retry ") == 4
    assert "HTTP 429 invalid_request_error (rate_limit): Too many requests" in result.stderr


@pytest.mark.parametrize(("status", "body", "line"), [
    (402, {"error": {"type": "card_error", "code": "card_declined", "message": "Your card was declined."}},
     "/v1/customers: HTTP 402 card_error (card_declined): Your card was declined."),
    (400, {"error": {"type": "invalid_request_error", "code": "parameter_unknown",
                     "message": "Received unknown parameter: foo"}},
     "/v1/customers: HTTP 400 invalid_request_error (parameter_unknown): Received unknown parameter: foo"),
    (503, {"error": {"type": "api_error", "message": "Service unavailable"}},
     "/v1/customers: HTTP 503 api_error: Service unavailable; gave up after 2 attempts"),
])
def test_stripe_errors_are_one_clear_line(tmp_path: Path, api: StripeApi, status: int, body: Any,
                                          line: str) -> None:
    api.fail(CUSTOMERS, *[(status, {}, body)] * 2)
    result = stripe(tmp_path, api, streams=("customers",), settings={"max_retries": 1}, ok=False)
    assert result.code == 1 and len(result.errors) == 1, result.stderr
    assert result.errors[0].endswith(line)
    assert b'"RECORD"' not in result.stdout


def test_a_key_an_error_body_quotes_past_the_cut_is_not_shown_in_part(tmp_path: Path, api: StripeApi) -> None:
    """An answer that is not Stripe's error object is shown as its first 300 characters: cut before it
    was redacted, a key the cut split was no longer found and its first characters were shown."""
    api.fail(CUSTOMERS, (400, {}, "x" * 280 + " key " + KEY))
    result = stripe(tmp_path, api, streams=("customers",), ok=False)
    assert result.code == 1 and len(result.errors) == 1, result.stderr
    assert KEY[:8] not in result.stderr and "key ****" in result.errors[0]


def test_bad_key_fails_fast_with_one_line(tmp_path: Path, api: StripeApi) -> None:
    wrong = "sk_test_wrongwrongwrong1234"
    result = stripe(tmp_path, api, settings={"client_secret": wrong}, ok=False)
    assert result.code == 1 and len(result.errors) == 1, result.stderr
    assert "/v1/customers: HTTP 401 invalid_request_error: Invalid API Key provided" in result.errors[0]
    assert wrong not in result.stderr and len(api.requests()) == 1
    assert b'"RECORD"' not in result.stdout


def test_test_flag_reads_the_account(tmp_path: Path, api: StripeApi) -> None:
    good = stripe(tmp_path, api, "--test", settings={"account_id": ACCOUNT})
    assert f"key accepted; account {ACCOUNT} (Acme) is readable" in good.stderr and good.stdout == b""
    assert [r.path for r in api.requests()] == [f"/v1/accounts/{ACCOUNT}"]
    bad = stripe(tmp_path, api, "--test", settings={"client_secret": "sk_test_nope_nope_nope"}, ok=False)
    assert bad.code == 1 and "HTTP 401" in bad.errors[0] and "sk_test_nope_nope_nope" not in bad.stderr


def test_api_key_is_another_name_for_the_secret_and_one_is_required(tmp_path: Path, api: StripeApi) -> None:
    result = stripe(tmp_path, api, streams=("products",), settings={"client_secret": None, "api_key": KEY})
    assert len(result.records("products")) == 3
    missing = stripe(tmp_path, api, settings={"client_secret": None}, ok=False)
    assert missing.code == 2 and "client_secret" in missing.stderr


def test_an_events_bookmark_older_than_stripe_keeps_events_is_warned_about(tmp_path: Path, api: StripeApi) -> None:
    old = api.base - 31 * 86400  # type: ignore[attr-defined]
    state = {"bookmarks": {"products": {"created": api.base - 5},  # type: ignore[attr-defined]
                           "products_events": {"updates_created": old}}}
    result = stripe(tmp_path, api, streams=("products",), state=state)
    assert "products: the last run ended" in result.stderr and "keeps events for 30 days" in result.stderr
    assert len(result.records("products")) == 3
    assert api.requests("/v1/events")[0].query["created[gte]"] == str(old)


BOOM = (400, {}, {"error": {"type": "invalid_request_error", "message": "boom"}})


def _cut_first_run(tmp_path: Path, api: StripeApi) -> Result:
    """A first run that fails on page 2 of customers, after emitting page 1 (customers 151..250)."""
    api.fail(CUSTOMERS, None, BOOM)
    cut = stripe(tmp_path, api, streams=("customers",), ok=False)
    assert cut.code == 1 and len(cut.records("customers")) == 100, cut.stderr
    assert cut.state["bookmarks"]["customers"]["starting_after"] == "cus_00000000000151"
    return cut


def test_a_resumed_first_run_reads_the_changes_since_the_interrupted_run_started(tmp_path: Path,
                                                                                 api: StripeApi) -> None:
    cut = _cut_first_run(tmp_path, api)
    started = cut.state["bookmarks"]["customers"]["window_end"]  # the first run's end of windows: its start
    _next_second(started)
    now = int(time.time())
    api.update("customers", 250, now, email="changed@example.com")  # emitted by the cut run, changed since
    _next_second(now)
    resumed = stripe(tmp_path, api, streams=("customers",), state=cut.state)
    records = resumed.records("customers")
    assert len(records) == 151 and len({r["id"] for r in cut.records("customers") + records}) == 250
    changed = [r for r in records if r["id"] == "cus_00000000000250"]
    assert [(r["email"], r["updated_by_event_type"]) for r in changed] == [("changed@example.com",
                                                                            "customer.updated")]
    # the cut run's checkpoint carried its start; the resumed run read the events since then
    assert cut.state["bookmarks"]["customers_events"] == {"updates_created": started}
    assert [r.query["created[gte]"] for r in api.requests("/v1/events")] == [str(started)]
    assert resumed.state["bookmarks"]["customers_events"]["updates_created"] >= now  # its end, on Stripe's clock


def test_a_state_without_the_events_bookmark_reads_every_event_stripe_keeps(tmp_path: Path,
                                                                            api: StripeApi) -> None:
    # as an interrupted first run of an older version left it: page 1 (customers 151..250) emitted
    start, cut_at = api.base - 5, int(time.time())  # type: ignore[attr-defined]
    state = {"bookmarks": {"customers": {"created": start, "window_end": cut_at,
                                         "starting_after": "cus_00000000000151"}}}
    _next_second(cut_at)
    now = int(time.time())
    api.update("customers", 250, now, email="changed@example.com")
    _next_second(now)
    resumed = stripe(tmp_path, api, streams=("customers",), state=state)
    records = {r["id"]: r for r in resumed.records("customers")}  # the page already emitted comes again
    assert len(records) == 250 and records["cus_00000000000250"]["email"] == "changed@example.com"
    assert "customers: the state has a bookmark but no events bookmark" in resumed.stderr
    since = int(api.requests("/v1/events")[0].query["created[gte]"])
    assert now - 30 * 86400 <= since <= int(time.time()) - 30 * 86400


def test_a_resumed_cursor_deleted_meanwhile_reads_its_window_again(tmp_path: Path, api: StripeApi) -> None:
    cut = _cut_first_run(tmp_path, api)
    start = cut.state["bookmarks"]["customers"]["created"]
    end = cut.state["bookmarks"]["customers"]["window_end"]
    _next_second(end)
    deleted = int(time.time())
    api.delete("customers", 151, deleted)  # the object the state's starting_after names
    _next_second(deleted)  # its customer.deleted event falls before the resumed run's end
    api.log.clear()
    resumed = stripe(tmp_path, api, streams=("customers",), state=cut.state)
    assert "customers: the state's starting_after cus_00000000000151 is gone" in resumed.stderr
    assert "resource_missing" in resumed.stderr and resumed.errors == []
    queries = [r.query for r in api.requests(CUSTOMERS)]
    assert [(q.get("starting_after"), q["created[gte]"], q["created[lt]"]) for q in queries[:2]] == [
        ("cus_00000000000151", str(start), str(end)), (None, str(start), str(end))]
    listed = [r["id"] for r in resumed.records("customers") if r["updated_by_event_type"] is None]
    assert len(listed) == 249 == len(set(listed)) and "cus_00000000000151" not in listed
    again = stripe(tmp_path, api, streams=("customers",), state=resumed.state)
    assert again.records("customers") == [] and "is gone" not in again.stderr
