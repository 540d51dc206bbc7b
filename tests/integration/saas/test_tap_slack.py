"""tap-slack end to end: the real console script against the loopback Slack Web API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.integration.http.tapio import Result, select, tap
from tests.integration.saas.slack_server import ADMIN_TOKEN, BASE_TS, TOKEN, SlackApi, micros
from tests.integration.test_stream_maps_connectors import TAP_MAPS, about, sha

GENERAL, RANDOM, SECRET, OUTSIDE = "C0000001", "C0000002", "G0000003", "C0000004"
FAST = {"backoff_base": 0.01, "backoff_max": 0.05}
MAP_CAPABILITIES = {"stream-maps", "schema-flattening"}


@pytest.fixture
def api() -> Iterator[SlackApi]:
    with SlackApi() as server:
        server.add_channel(GENERAL, messages=450, threads=3, replies=4)
        server.add_channel(RANDOM, messages=30, threads=1, replies=250, start=1000)
        server.add_channel(SECRET, messages=7, kind="private")
        server.add_channel(OUTSIDE, messages=12, member=False)
        yield server


def slack(tmp_path: Path, api: SlackApi, *args: str, streams: tuple[str, ...] = (), **kwargs: Any) -> Result:
    cfg = {"api_key": TOKEN, "api_url": api.url, **FAST, **kwargs.pop("settings", {})}
    if streams:
        kwargs["catalog"] = select(json.loads(tap("tap-slack", tmp_path, cfg, "--discover").stdout), *streams)
    return tap("tap-slack", tmp_path, cfg, *args, **kwargs)


def marks(result: Result, stream: str) -> dict[str, str]:
    return {p["context"]["channel_id"]: p["replication_key_value"]
            for p in result.state["bookmarks"][stream]["partitions"]}


def test_full_sync_every_record_once_with_exact_ts(tmp_path: Path, api: SlackApi) -> None:
    result = slack(tmp_path, api, settings={"channel_types": ["public_channel", "private_channel"]})
    result.validate()
    assert [c["id"] for c in result.records("channels")] == [GENERAL, RANDOM, SECRET, OUTSIDE]
    messages = result.records("messages")
    assert len(messages) == 450 + 30 + 7 == len({(m["channel_id"], m["ts"]) for m in messages})
    assert len(result.records("users")) == 30 and len(result.records("channel_members")) == 4 * 5
    threads = result.records("threads")
    assert len(threads) == 3 * 4 + 250 == len({(t["channel_id"], t["ts"]) for t in threads})
    assert all(t["thread_ts"] != t["ts"] for t in threads)  # parents are messages, not replies
    # ts strings are kept exactly as Slack writes them, and the bookmarks are the newest of each channel
    newest = max(api.channels[GENERAL].messages, key=lambda m: micros(m["ts"]))["ts"]
    assert marks(result, "messages") == {GENERAL: newest, RANDOM: api.channels[RANDOM].messages[-1]["ts"],
                                         SECRET: api.channels[SECRET].messages[-1]["ts"]}
    assert newest == "1704094140.000450" and {"1704067200.000001", "1704067260.000002"} <= {m["ts"] for m in messages}
    assert result.schema("messages")["key_properties"] == ["channel_id", "ts"]
    assert result.schema("messages")["bookmark_properties"] == ["ts"]
    # cursor paging with limit 200: 450 messages in three pages, cursors followed, then an empty one
    history = [r for r in api.requests("conversations.history") if r.query["channel"] == GENERAL]
    assert [("cursor" in r.query, r.query["limit"]) for r in history[:3]] == [(False, "200"), (True, "200"),
                                                                              (True, "200")]
    replies = [r for r in api.requests("conversations.replies") if r.query["channel"] == RANDOM]
    assert len(replies) == 2  # 251 messages (the parent and 250 replies) in two pages
    # the channel the bot is not in: skipped with a warning, once per per-channel stream that reads history
    assert result.stderr.count(f"channel {OUTSIDE} skipped: conversations.history: not_in_channel") == 2
    assert OUTSIDE not in marks(result, "messages")
    assert all(r.auth == f"Bearer {TOKEN}" for r in api.requests())
    assert TOKEN not in result.stderr


def test_incremental_run_fetches_only_what_changed(tmp_path: Path, api: SlackApi) -> None:
    first = slack(tmp_path, api, streams=("messages", "threads"))
    old_marks = marks(first, "messages")
    new = [api.post(GENERAL, 2000), api.post(GENERAL, 2001)]
    reply = api.reply(GENERAL, api.channels[GENERAL].messages[449]["ts"], 449 * 60 + 30)  # a new thread
    api.log.clear()
    second = slack(tmp_path, api, streams=("messages", "threads"), state=first.state)
    assert sorted(m["ts"] for m in second.records("messages")) == [m["ts"] for m in new]
    assert [t["ts"] for t in second.records("threads")] == [reply["ts"]]
    # messages: oldest is the bookmark, exactly; Slack's oldest is exclusive, so nothing comes twice
    history = [r.query for r in api.requests("conversations.history")]
    assert [(q["channel"], q["oldest"]) for q in history[:2]] == [(c, old_marks[c]) for c in (GENERAL, RANDOM)]
    assert marks(second, "messages")[GENERAL] == new[-1]["ts"]
    assert marks(second, "threads")[GENERAL] == reply["ts"]
    assert marks(second, "messages")[RANDOM] == old_marks[RANDOM]
    # threads: only the thread with a new reply is read again
    assert [r.query["ts"] for r in api.requests("conversations.replies")] == [reply["thread_ts"]]


def test_thread_lookback_days_bounds_the_parents_looked_at(tmp_path: Path, api: SlackApi) -> None:
    first = slack(tmp_path, api, streams=("threads",))
    mark = Decimal(marks(first, "threads")[GENERAL])
    parents = api.channels[GENERAL].messages
    recent = api.reply(GENERAL, parents[2]["ts"], 5000)  # a parent within a day of the bookmark
    api.log.clear()
    second = slack(tmp_path, api, streams=("threads",), state=first.state)
    assert [t["ts"] for t in second.records("threads")] == [recent["ts"]]
    oldest = next(r.query["oldest"] for r in api.requests("conversations.history") if r.query["channel"] == GENERAL)
    assert Decimal(oldest) == mark - 86400
    api.log.clear()
    third = slack(tmp_path, api, streams=("threads",), state=first.state, settings={"thread_lookback_days": 0})
    oldest = next(r.query["oldest"] for r in api.requests("conversations.history") if r.query["channel"] == GENERAL)
    assert Decimal(oldest) == mark and third.records("threads") == []  # the parent is older than the bookmark


def test_rate_limits_and_transient_errors_are_retried_and_nothing_is_duplicated(tmp_path: Path,
                                                                                api: SlackApi) -> None:
    api.fail("conversations.history", (429, "ratelimited"), headers={"Retry-After": "1"})
    api.fail("conversations.history", (200, "ratelimited"), (200, "internal_error"))
    api.fail("conversations.replies", (429, "ratelimited"), (503, "service_unavailable"),
             headers={"Retry-After": "0"})
    result = slack(tmp_path, api, streams=("messages", "threads"))
    messages = result.records("messages")
    assert len(messages) == 480 == len({(m["channel_id"], m["ts"]) for m in messages})
    assert len(result.records("threads")) == 262
    assert [(r.status, r.error) for r in api.requests("conversations.history")[:4]] == [
        (429, "ratelimited"), (200, "ratelimited"), (200, "internal_error"), (200, None)]
    assert "conversations.history: Slack asked to wait: waiting 1.00s" in result.stderr
    assert result.stderr.count("retry ") == 5


def test_rate_limit_outlasting_the_retries_fails_with_one_line(tmp_path: Path, api: SlackApi) -> None:
    api.fail("users.list", *[(429, "ratelimited")] * 3, headers={"Retry-After": "0"})
    result = slack(tmp_path, api, streams=("users",), settings={"max_retries": 2}, ok=False)
    assert result.code == 1 and len(result.errors) == 1, result.stderr
    assert "users.list: HTTP 429 ratelimited; gave up after 3 attempts" in result.errors[0]
    assert b'"RECORD"' not in result.stdout


def test_bad_token_fails_fast_with_one_line(tmp_path: Path, api: SlackApi) -> None:
    result = slack(tmp_path, api, settings={"api_key": "xoxb-wrong-token"}, ok=False)
    assert result.code == 1 and len(result.errors) == 1, result.stderr
    assert "conversations.list: Slack rejected the token: invalid_auth" in result.errors[0]
    assert "xoxb-wrong-token" not in result.stderr
    assert len(api.requests()) == 1  # no retries
    assert b'"RECORD"' not in result.stdout


def test_missing_scope_names_the_scope(tmp_path: Path, api: SlackApi) -> None:
    api.fail("users.list", (200, "missing_scope"))
    result = slack(tmp_path, api, streams=("users",), ok=False)
    assert result.code == 1 and len(result.errors) == 1
    assert "users.list: Slack rejected the token: missing_scope" in result.errors[0]


def test_test_flag_checks_the_token(tmp_path: Path, api: SlackApi) -> None:
    good = slack(tmp_path, api, "--test")
    assert "token accepted for Sluice Test (T0SLUICE1) as sluicebot" in good.stderr and good.stdout == b""
    assert [r.method for r in api.requests()] == ["auth.test"]
    bad = slack(tmp_path, api, "--test", settings={"api_key": "xoxb-nope"}, ok=False)
    assert bad.code == 1 and len(bad.errors) == 1
    assert "auth.test: Slack rejected the token: invalid_auth" in bad.errors[0]


def test_auto_join_channels_joins_then_reads(tmp_path: Path, api: SlackApi) -> None:
    result = slack(tmp_path, api, streams=("channels", "messages"), settings={"auto_join_channels": True})
    joins = api.requests("conversations.join")
    assert [(r.query, r.auth) for r in joins] == [({"channel": OUTSIDE}, f"Bearer {TOKEN}")]
    assert len([m for m in result.records("messages") if m["channel_id"] == OUTSIDE]) == 12
    assert next(c for c in result.records("channels") if c["id"] == OUTSIDE)["is_member"] is True
    assert "not_in_channel" not in result.stderr


def test_channel_selection_types_and_start_date(tmp_path: Path, api: SlackApi) -> None:
    start = "2024-01-01T00:05:00Z"  # minute 5: messages 5.. of GENERAL, none of the others is older
    result = slack(tmp_path, api, streams=("channels", "messages"), settings={
        "selected_channels": [GENERAL], "channels": [RANDOM, SECRET], "excluded_channels": [RANDOM],
        "channel_types": ["private_channel", "public_channel"], "start_date": start, "team_id": "T0SLUICE1"})
    assert [c["id"] for c in result.records("channels")] == [GENERAL, SECRET]
    general = [m for m in result.records("messages") if m["channel_id"] == GENERAL]
    assert len(general) == 445 and min(micros(m["ts"]) for m in general) == (BASE_TS + 300) * 1_000_000 + 6
    first = next(r for r in api.requests("conversations.history") if r.query["channel"] == GENERAL)
    assert (first.query["oldest"], first.query["inclusive"]) == (f"{BASE_TS + 300}.000000", "true")
    listing = api.requests("conversations.list")[0]
    assert (listing.query["types"], listing.query["team_id"]) == ("private_channel,public_channel", "T0SLUICE1")
    assert "selected_channels" not in result.stderr  # every channel selected was listed


def test_selected_channels_not_listed_are_named_in_one_warning(tmp_path: Path, api: SlackApi) -> None:
    # SECRET is private (channel_types is public_channel by default); C0TYPO000 does not exist;
    # C0GONE000 is selected and excluded: not read either way, no warning
    result = slack(tmp_path, api, streams=("channels", "messages"), settings={
        "selected_channels": [SECRET, "C0TYPO000", GENERAL], "channels": ["C0GONE000"],
        "excluded_channels": ["C0GONE000"]})
    assert [c["id"] for c in result.records("channels")] == [GENERAL]
    assert {m["channel_id"] for m in result.records("messages")} == {GENERAL}
    warnings = [line for line in result.stderr.splitlines() if "selected_channels" in line]
    assert len(warnings) == 1 and "WARNING" in warnings[0], result.stderr  # once, not once per stream
    assert f"C0TYPO000, {SECRET} not listed by conversations.list with channel_types public_channel" in warnings[0]
    assert "private_channel in channel_types" in warnings[0] and "C0GONE000" not in warnings[0]


def test_start_date_reads_replies_after_it_in_threads_begun_before_it(tmp_path: Path, api: SlackApi) -> None:
    start = BASE_TS + 86400  # 2024-01-02T00:00:00Z; GENERAL's and RANDOM's messages and replies are before it
    first, second = (m["ts"] for m in api.channels[GENERAL].messages[:2])  # threads begun at minutes 0 and 1
    at_start = api.reply(GENERAL, first, 86400, ts=f"{start}.000000")  # "at or after": read
    later = api.reply(GENERAL, first, 86400 + 3600)
    api.reply(GENERAL, second, 86400 - 60)  # before start_date: not read, its thread not asked for
    ancient = api.post(GENERAL, -10)  # before the thread_lookback_days (1) before start_date: not looked at
    api.reply(GENERAL, ancient["ts"], 86400 + 60)
    fresh = api.post(GENERAL, 1440 + 5)  # a thread begun after start_date
    fresh_reply = api.reply(GENERAL, fresh["ts"], 86400 + 400)
    result = slack(tmp_path, api, streams=("threads",), settings={
        "start_date": "2024-01-02T00:00:00Z", "selected_channels": [GENERAL]})
    assert sorted(t["ts"] for t in result.records("threads")) == sorted(
        r["ts"] for r in (at_start, later, fresh_reply))
    history = api.requests("conversations.history")[0].query
    assert (history["oldest"], history["inclusive"]) == (f"{BASE_TS}.000000", "true")  # a day before start_date
    asked = {r.query["ts"]: r.query for r in api.requests("conversations.replies")}
    assert set(asked) == {first, fresh["ts"]}
    assert (asked[first]["oldest"], asked[first]["inclusive"]) == (f"{start}.000000", "true")
    assert marks(result, "threads") == {GENERAL: later["ts"]}
    again = slack(tmp_path, api, streams=("threads",), state=result.state, settings={
        "start_date": "2024-01-02T00:00:00Z", "selected_channels": [GENERAL]})
    assert again.records("threads") == []


def test_resume_reads_only_the_unfinished_channels(tmp_path: Path, api: SlackApi) -> None:
    first = slack(tmp_path, api, streams=("messages",))
    done = first.state["bookmarks"]["messages"]["partitions"][0]
    assert done["context"] == {"channel_id": GENERAL}
    resumed = slack(tmp_path, api, streams=("messages",), state={"bookmarks": {"messages": {"partitions": [done]}}})
    assert {m["channel_id"] for m in resumed.records("messages")} == {RANDOM}
    assert len(resumed.records("messages")) == 30
    assert marks(resumed, "messages") == marks(first, "messages")


def test_admin_streams_only_when_asked(tmp_path: Path, api: SlackApi) -> None:
    plain = json.loads(slack(tmp_path, api, "--discover").stdout)
    assert {s["tap_stream_id"] for s in plain["streams"]} == {"channels", "channel_members", "users", "messages",
                                                               "threads"}
    result = slack(tmp_path, api, streams=("integration_logs",),
                   settings={"include_admin_streams": True, "api_key": ADMIN_TOKEN, "limit": 3})
    logs = result.records("integration_logs")
    assert len(logs) == 7 and logs[0]["change_type"] == "enabled"
    assert [r.query["page"] for r in api.requests("team.integrationLogs")] == ["1", "2", "3"]
    denied = slack(tmp_path, api, streams=("integration_logs",), settings={"include_admin_streams": True}, ok=False)
    assert "team.integrationLogs: Slack rejected the token: not_allowed_token_type" in denied.errors[0]


def test_config_errors_exit_2(tmp_path: Path, api: SlackApi) -> None:
    result = slack(tmp_path, api, settings={"channel_types": ["public_channel", "dm"], "limit": 5000}, ok=False)
    assert result.code == 2
    assert "channel_types" in result.stderr and "limit" in result.stderr


def test_tap_slack_applies_maps_and_flattens_nested_objects(tmp_path: Path, api: SlackApi) -> None:
    maps = {"channels": {"__filter__": "id != 'C0000002'", "name": "sha256(name)"}, "users": None,
            "channel_members": None, "messages": None, "threads": None}
    result = slack(tmp_path, api, settings={"stream_maps": maps, **TAP_MAPS})
    result.validate()
    assert {m["stream"] for m in result.messages if m["type"] in ("SCHEMA", "RECORD")} == {"channels"}
    general = result.records("channels")[0]
    assert general["name"] == sha("chan-c0000001") and general["topic__value"] == "Daily chat"
    assert [c["id"] for c in result.records("channels")] == [GENERAL, OUTSIDE]
    assert MAP_CAPABILITIES <= about("tap-slack")
