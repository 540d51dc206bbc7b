"""tap-jira's search window: JQL minutes in the user's zone, the boundary minute, de-duplication by id + updated."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from protocol import Bookmarks
from taps.jira.window import Window, jira_time

BERLIN = ZoneInfo("Europe/Berlin")


def window(value: str | None, ids: list[str], end: datetime | None = None) -> Window:
    state = {"bookmarks": {"issues": {"replication_key": "updated", "replication_key_value": value,
                                      "ids_at_bookmark": ids}}} if value else None
    return Window.open("issues", Bookmarks(state), datetime(2020, 1, 1, tzinfo=UTC), end)


def test_jira_times_become_utc_milliseconds() -> None:
    assert jira_time("2024-01-10T09:00:20.123+0100") == "2024-01-10T08:00:20.123Z"
    assert jira_time("2024-07-10T09:00:20.5-0700") == "2024-07-10T16:00:20.500Z"
    assert jira_time(None) is None


def test_the_minute_is_floored_in_the_users_zone_and_duplicates_dropped() -> None:
    w = window("2024-01-10T08:23:20.123Z", ["10250"])
    assert w.jql("project = A", BERLIN) == '(project = A) AND updated >= "2024-01-10 09:23" ORDER BY updated ASC'
    assert not w.accept("10249", "2024-01-10T08:23:00.123Z")  # older, same minute
    assert not w.accept("10250", "2024-01-10T08:23:20.123Z")  # at the bookmark, seen
    assert w.accept("10251", "2024-01-10T08:23:20.123Z")  # at the bookmark, new
    assert w.accept("10005", "2024-01-10T11:00:00.000Z")
    bookmarks = Bookmarks({"bookmarks": {"issues": {"replication_key_value": "2024-01-10T08:23:20.123Z",
                                                    "ids_at_bookmark": ["10250"]}}})
    w.save(bookmarks, "updated")
    assert bookmarks.get("issues", "replication_key_value") == "2024-01-10T11:00:00.000Z"
    assert bookmarks.get("issues", "ids_at_bookmark") == ["10005"]


def test_ids_at_an_unmoved_bookmark_accumulate() -> None:
    w = window("2024-01-10T08:23:20.123Z", ["10250"])
    assert w.accept("10251", "2024-01-10T08:23:20.123Z")
    bookmarks = Bookmarks({"bookmarks": {"issues": {"replication_key_value": "2024-01-10T08:23:20.123Z",
                                                    "ids_at_bookmark": ["10250"]}}})
    w.save(bookmarks, "updated")
    assert bookmarks.get("issues", "ids_at_bookmark") == ["10250", "10251"]


def test_a_wall_time_the_zone_has_twice_reads_an_hour_more() -> None:
    # 2024-10-27 00:30 UTC is 02:30 CEST in Berlin; 01:30 UTC is 02:30 CET: the same wall time
    first = window("2024-10-27T00:30:00.000Z", [])
    assert 'updated >= "2024-10-27 01:30"' in first.jql("", BERLIN)  # an hour earlier: both readings covered
    plain = window("2024-10-27T03:30:00.000Z", [])
    assert 'updated >= "2024-10-27 04:30"' in plain.jql("", BERLIN)
    ended = window(None, [], end=datetime(2024, 10, 27, 1, 30, tzinfo=UTC))  # 02:30 CET, the second one
    assert 'updated < "2024-10-27 03:31"' in ended.jql("", BERLIN)  # an hour later: both readings covered
