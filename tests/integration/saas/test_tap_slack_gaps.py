"""tap-slack against a Slack that changes or misbehaves mid-run: a thread whose parent is deleted
after the listing, a listing whose cursor comes twice. Nothing may be lost silently."""

from __future__ import annotations

import json
from collections.abc import Iterator
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
