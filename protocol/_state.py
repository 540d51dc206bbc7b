"""The bookmarks API: the one place that knows the shape of a Singer STATE value.

The shape follows singer-sdk, so that states move between our taps and theirs::

    {"bookmarks": {"<tap_stream_id>": {"replication_key": "updated_at",
                                       "replication_key_value": "2024-01-01T00:00:00Z",
                                       ...}}}

A stream synced per partition (one bookmark per parent, e.g. per repository) keeps a list::

    {"bookmarks": {"issues": {"partitions": [{"context": {"org": "a", "repo": "b"},
                                              "replication_key": "updated_at",
                                              "replication_key_value": "..."}]}}}

A table stream's bookmark is one of three typed kinds (bookmarks.py), read with
``Bookmarks.read(stream, Kind)`` and written with ``Bookmarks.write(stream, bookmark)``; a
kind owns its keys and leaves the stream's other keys alone (a LOG_BASED stream's snapshot
is a full-table read whose bookmark sits beside the LSN).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # the bookmark kinds are imported where a tap reads them: the runner needs state_value only
    from protocol._bookmarks import BookmarkKind

__all__ = ["Bookmarks", "state_value"]

_MESSAGE_TYPES = frozenset({"SCHEMA", "RECORD", "ACTIVATE_VERSION", "BATCH"})

K = TypeVar("K", bound="BookmarkKind")


def state_value(data: Any) -> dict[str, Any] | None:
    """The state value in a parsed JSON document: a bare state value (the Singer convention:
    singer-python, singer-sdk and Meltano write it so) or a ``{"type": "STATE", "value": ...}``
    message unwrapped. None when it holds no state (not an object, another Singer message,
    or a STATE whose value is not an object)."""
    if not isinstance(data, dict):
        return None
    kind = data.get("type")
    if kind == "STATE":
        value = data.get("value")
        return value if isinstance(value, dict) else None
    if isinstance(kind, str) and kind in _MESSAGE_TYPES:
        return None
    return data


class Bookmarks:
    """Typed access to the bookmarks of a STATE value."""

    def __init__(self, value: dict[str, Any] | None = None) -> None:
        self._value: dict[str, Any] = copy.deepcopy(value) if value else {}
        bookmarks = self._value.get("bookmarks")
        if not isinstance(bookmarks, dict):
            self._value["bookmarks"] = {}

    @property
    def _bookmarks(self) -> dict[str, dict[str, Any]]:
        return self._value["bookmarks"]  # type: ignore[no-any-return]

    def streams(self) -> list[str]:
        return list(self._bookmarks)

    def get(self, stream: str, key: str, default: Any = None) -> Any:
        return self._bookmarks.get(stream, {}).get(key, default)

    def set(self, stream: str, key: str, value: Any) -> None:
        self._bookmarks.setdefault(stream, {})[key] = value

    def clear(self, stream: str, key: str | None = None) -> None:
        if key is None:
            self._bookmarks.pop(stream, None)
        else:
            self._bookmarks.get(stream, {}).pop(key, None)

    def read(self, stream: str, kind: type[K]) -> K:
        """A stream's bookmark of one kind (its empty form when the state holds none)."""
        entry = self._bookmarks.get(stream)
        return kind.from_dict(entry if isinstance(entry, dict) else {})

    def write(self, stream: str, bookmark: BookmarkKind) -> None:
        """Store a bookmark: its keys are set (in place, keeping their order) or removed when unset;
        the stream's other keys stay."""
        entry = self._bookmarks.setdefault(stream, {})
        values = bookmark.to_dict()
        for key in bookmark.KEYS:
            if key in values:
                entry[key] = values[key]
            else:
                entry.pop(key, None)

    def replication_value(self, stream: str) -> Any:
        return self.get(stream, "replication_key_value")

    def advance(self, stream: str, replication_key: str, value: Any) -> None:
        """Move a stream's replication bookmark forward (never backward)."""
        current = self.get(stream, "replication_key_value")
        if current is None or (value is not None and _greater(value, current)):
            self.set(stream, "replication_key", replication_key)
            self.set(stream, "replication_key_value", value)

    # -- partitions (singer-sdk's shape) ---------------------------------------------------

    def get_partition(self, stream: str, context: dict[str, Any]) -> dict[str, Any]:
        """A copy of one partition's bookmark (``{}`` when there is none)."""
        partitions = self._bookmarks.get(stream, {}).get("partitions")
        for item in partitions if isinstance(partitions, list) else []:
            if isinstance(item, dict) and item.get("context") == context:
                return copy.deepcopy(item)
        return {}

    def partition_value(self, stream: str, context: dict[str, Any]) -> Any:
        return self.get_partition(stream, context).get("replication_key_value")

    def set_partition(self, stream: str, context: dict[str, Any], key: str, value: Any) -> None:
        self._partition(stream, context)[key] = value

    def _partition(self, stream: str, context: dict[str, Any]) -> dict[str, Any]:
        entry = self._bookmarks.setdefault(stream, {})
        partitions = entry.get("partitions")
        if not isinstance(partitions, list):
            partitions = entry["partitions"] = []
        for item in partitions:
            if isinstance(item, dict) and item.get("context") == context:
                return item
        item = {"context": dict(context)}
        partitions.append(item)
        return item

    def advance_partition(self, stream: str, context: dict[str, Any], replication_key: str, value: Any) -> None:
        """Move one partition's replication bookmark forward (never backward)."""
        current = self.partition_value(stream, context)
        if value is not None and (current is None or _greater(value, current)):
            item = self._partition(stream, context)
            item["replication_key"] = replication_key
            item["replication_key_value"] = value

    def to_value(self) -> dict[str, Any]:
        return copy.deepcopy(self._value)


def _greater(a: Any, b: Any) -> bool:
    try:
        return bool(a > b)
    except TypeError:
        return str(a) > str(b)
