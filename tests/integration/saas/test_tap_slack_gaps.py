"""tap-slack against a Slack that changes or misbehaves mid-run: a thread whose parent is deleted
after the listing, a listing whose cursor comes twice or goes missing, replies posted during the
run on a Slack clock behind or ahead of ours. Nothing may be lost silently."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.integration.http.tapio import Result, select, tap
from tests.integration.saas.slack_server import TOKEN, SlackApi, micros

GENERAL, RANDOM = "C0000001", "C0000002"
FAST = {"backoff_base": 0.01, "backoff_max": 0.05}


@pytest.fixture
def api() -> Iterator[SlackApi]:
    with SlackApi() as server:
        server.add_channel(GENERAL, messages=450, threads=4, replies=3)
        server.add_channel(RANDOM, messages=30, threads=2, replies=9, start=1000)
        yield server


def slack(tmp_path: Path, api: SlackApi, *streams: str, **kwargs: Any) -> Result:
    cfg = {"api_key": TOKEN, "api_url": api.url, **FAST, **kwargs.pop("settings", {})}
    catalog = select(json.loads(tap("tap-slack", tmp_path, cfg, "--discover").stdout), *streams)
    return tap("tap-slack", tmp_path, cfg, catalog=catalog, **kwargs)


def states(result: Result) -> list[dict[str, Any]]:
    return [m["value"] for m in result.messages if m["type"] == "STATE"]


def test_a_thread_whose_parent_is_deleted_is_skipped_and_its_channels_other_threads_are_read(
        tmp_path: Path, api: SlackApi) -> None:
    parents = api.channels[GENERAL].messages[:4]
    gone = parents[3]["ts"]  # the newest parent: its thread is asked for first (history is newest first)
    kept = {r["ts"] for p in parents[:3] for r in api.channels[GENERAL].replies[p["ts"]]}
    api.delete_once_listed(gone)
    result = slack(tmp_path, api, "threads")
    replies = [r["ts"] for r in result.records("threads") if r["channel_id"] == GENERAL]
    assert sorted(replies) == sorted(kept) and len(kept) == 9
    assert len([r for r in result.records("threads") if r["channel_id"] == RANDOM]) == 18
    replies_asked = [r for r in api.requests("conversations.replies") if r.query["channel"] == GENERAL]
    assert [(r.query["ts"], r.error) for r in replies_asked] == [  # the gone thread first, then the others
        (gone, "thread_not_found"), *((p["ts"], None) for p in reversed(parents[:3]))]
    warnings = [line for line in result.stderr.splitlines() if "WARNING" in line]
    assert len(warnings) == 1, result.stderr
    assert f"threads: channel {GENERAL}: thread {gone} skipped: conversations.replies: thread_not_found" in warnings[0]
    newest = max(kept, key=micros)
    partitions = result.state["bookmarks"]["threads"]["partitions"]
    assert {p["context"]["channel_id"]: p["replication_key_value"] for p in partitions}[GENERAL] == newest


def test_other_errors_of_a_thread_still_skip_its_channel(tmp_path: Path, api: SlackApi) -> None:
    api.fail("conversations.replies", (200, "channel_not_found"))
    result = slack(tmp_path, api, "threads")
    assert {r["channel_id"] for r in result.records("threads")} == {RANDOM}
    assert f"threads: channel {GENERAL} skipped: conversations.replies: channel_not_found" in result.stderr


@pytest.mark.parametrize(("stream", "method"), [("messages", "conversations.history"),
                                                ("threads", "conversations.replies"),
                                                ("channels", "conversations.list")])
def test_a_cursor_that_comes_twice_fails_the_run_before_any_state_past_the_unread_pages(
        tmp_path: Path, api: SlackApi, stream: str, method: str) -> None:
    for n in range(3, 12):
        api.add_channel(f"C00000{n:02d}", messages=3)
    api.cursor_loops.add(method)
    result = slack(tmp_path, api, stream, settings={"limit": 4}, ok=False)
    assert result.code == 1 and len(result.errors) == 1, result.stderr
    assert f"stream '{stream}': {method}: unexpected answer: next_cursor" in result.errors[0]
    assert "came twice" in result.errors[0]
    # page 2 answers its own cursor as next_cursor: not asked for a third time, and not taken for the end
    cursors = [r.query.get("cursor") for r in api.requests(method)]
    assert cursors[0] is None and cursors[-1] and cursors.count(cursors[-1]) == 1
    assert f"{cursors[-1]!r} came twice" in result.errors[0]
    assert all(stream not in s.get("bookmarks", {}) for s in states(result))  # no channel was finished


@pytest.mark.parametrize(("stream", "method", "cut"), [("messages", "conversations.history", GENERAL),
                                                       ("threads", "conversations.replies", RANDOM)])
def test_has_more_without_a_cursor_fails_the_run_before_any_state_past_the_unread_pages(
        tmp_path: Path, api: SlackApi, stream: str, method: str, cut: str) -> None:
    api.lost_cursors.add(method)  # GENERAL's 450 messages and RANDOM's threads of 10 take more than a page of 4
    result = slack(tmp_path, api, stream, settings={"limit": 4}, ok=False)
    assert result.code == 1 and len(result.errors) == 1, result.stderr
    assert (f"stream '{stream}': {method}: unexpected answer: has_more is true but next_cursor is empty"
            in result.errors[0])
    assert not [r for r in api.requests(method) if r.query.get("cursor")]  # nothing to follow: not guessed
    marked = [p["context"]["channel_id"] for s in states(result) for p in s.get("bookmarks", {}).get(stream, {}).get(
        "partitions", [])]
    assert cut not in marked  # the channel whose listing was cut keeps its old bookmark (none)


def replies_mid_run(api: SlackApi) -> list[str]:
    """Two threads in GENERAL; when the older is asked for (the newer was read: history is newest
    first), two people reply now on Slack's clock, first in the newer thread, then in the older one.
    The ts of those replies, once posted."""
    api.add_channel(GENERAL, messages=2, threads=2, replies=2)
    older, newer = (m["ts"] for m in api.channels[GENERAL].messages)
    posted: list[str] = []

    def reply(method: str, query: dict[str, str]) -> None:
        if method == "conversations.replies" and query.get("ts") == older and not posted:
            posted.extend([api.reply_now(GENERAL, newer)["ts"], api.reply_now(GENERAL, older)["ts"]])

    api.hooks.append(reply)
    return posted


def thread_mark(result: Result) -> Decimal:
    return Decimal(result.state["bookmarks"]["threads"]["partitions"][0]["replication_key_value"])


def test_a_reply_posted_during_the_run_on_a_slack_clock_behind_ours_comes_next_run(tmp_path: Path) -> None:
    """Slack stamps a reply with its own clock: the run's cut-off (``latest``) is taken on it."""
    with SlackApi() as api:
        api.clock_skew = -120.0  # Slack's clock minus ours: its Date headers and the ts of reply_now
        posted = replies_mid_run(api)
        before = {r["ts"] for thread in api.channels[GENERAL].replies.values() for r in thread}
        first = slack(tmp_path, api, "threads")
        cutoffs = {r.query["latest"] for r in api.requests("conversations.replies")}
        api.clock_skew += 2.0  # two seconds pass on Slack's clock (its Date headers are whole seconds)
        second = slack(tmp_path, api, "threads", state=first.state)
    assert {r["ts"] for r in first.records("threads")} == before and len(before) == 4
    assert sorted(r["ts"] for r in second.records("threads")) == sorted(posted)  # none lost, none twice
    assert len(cutoffs) == 1 and thread_mark(first) < Decimal(cutoffs.pop()) < min(map(Decimal, posted))


def test_with_a_slack_clock_ahead_of_ours_the_cut_off_is_ours(tmp_path: Path) -> None:
    with SlackApi() as api:
        api.clock_skew = 120.0
        posted = replies_mid_run(api)
        first = slack(tmp_path, api, "threads")
        ours = Decimal(f"{time.time():.6f}")
        cutoffs = {r.query["latest"] for r in api.requests("conversations.replies")}
        second = slack(tmp_path, api, "threads", state=first.state)
    assert len(cutoffs) == 1 and Decimal(cutoffs.pop()) < ours  # never later than this machine's clock
    assert len(first.records("threads")) == 4 and second.records("threads") == []  # posted "later" than ours
    assert thread_mark(second) < min(map(Decimal, posted))  # so they come once our clock reaches them
