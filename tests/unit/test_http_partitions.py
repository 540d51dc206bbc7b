"""Per-partition bookmarks (singer-sdk's "partitions" shape), added to protocol._state for the HTTP taps."""

from __future__ import annotations

from protocol import Bookmarks

HELLO = {"org": "octo", "repo": "hello"}
WORLD = {"org": "octo", "repo": "world"}


def test_partitions_shape_and_forward_only() -> None:
    b = Bookmarks()
    assert b.partition_value("issues", HELLO) is None
    assert b.to_value() == {"bookmarks": {}}  # reading creates nothing
    b.advance_partition("issues", HELLO, "updated_at", "2024-01-02T00:00:00Z")
    b.advance_partition("issues", WORLD, "updated_at", "2024-01-01T00:00:00Z")
    b.advance_partition("issues", HELLO, "updated_at", "2023-12-31T00:00:00Z")  # backwards: ignored
    b.advance_partition("issues", HELLO, "updated_at", None)
    assert b.to_value() == {"bookmarks": {"issues": {"partitions": [
        {"context": HELLO, "replication_key": "updated_at", "replication_key_value": "2024-01-02T00:00:00Z"},
        {"context": WORLD, "replication_key": "updated_at", "replication_key_value": "2024-01-01T00:00:00Z"},
    ]}}}


def test_partitions_resume_from_a_state_and_copies_are_safe() -> None:
    state = {"bookmarks": {"issues": {"partitions": [{"context": dict(WORLD), "replication_key_value": "x"}]},
                           "users": {"replication_key": "id", "replication_key_value": 5}}}
    b = Bookmarks(state)
    assert b.partition_value("issues", {"repo": "world", "org": "octo"}) == "x"
    b.get_partition("issues", WORLD)["replication_key_value"] = "changed"
    assert b.partition_value("issues", WORLD) == "x"
    b.set_partition("issues", WORLD, "extra", 1)
    assert b.get_partition("issues", WORLD) == {"context": WORLD, "replication_key_value": "x", "extra": 1}
    assert b.replication_value("users") == 5  # stream-level bookmarks are untouched
    assert state["bookmarks"]["issues"]["partitions"][0] == {"context": WORLD, "replication_key_value": "x"}


def test_a_malformed_partitions_value_is_replaced_on_write() -> None:
    b = Bookmarks({"bookmarks": {"issues": {"partitions": "junk"}}})
    assert b.partition_value("issues", HELLO) is None
    b.advance_partition("issues", HELLO, "updated_at", "v")
    assert b.partition_value("issues", HELLO) == "v"
