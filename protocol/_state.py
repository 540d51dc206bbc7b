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
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, TypeVar

from protocol._errors import ConfigError
from protocol._instants import utc_instant

if TYPE_CHECKING:  # the bookmark kinds are imported where a tap reads them: the runner needs state_value only
    from protocol._bookmarks import BookmarkKind

__all__ = ["Bookmarks", "Order", "bookmark_order", "state_value"]

#: a replication-key value as the thing its type compares by (an instant, a number); ValueError when it is none
Order = Callable[[Any], Any]

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

    def advance(self, stream: str, replication_key: str, value: Any, order: Order | None = None) -> None:
        """Move a stream's replication bookmark forward (never backward); ``order`` (from
        :func:`bookmark_order`) compares the values by the key's type, else they compare as they are."""
        current = self.get(stream, "replication_key_value")
        if current is None:
            newer = True
        elif value is None:
            newer = False
        elif order is None:
            newer = _greater(value, current)
        else:
            newer = order(value) > _saved_rank(stream, current, order)
        if newer:
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


def bookmark_order(prop: Mapping[str, Any] | None) -> Order | None:
    """How a replication key's values compare, by its schema property: a ``date-time`` string as
    instants (``08:00:00-05:00`` is after ``10:00:00Z``), an integer or a number as numbers (``"10"``
    is after ``"9"``), a string without format as text. None: the schema says no one type (values
    compare as they are, mixed types as text)."""
    if not prop:
        return None
    kinds = prop.get("type")
    types = {kinds} if isinstance(kinds, str) else set(kinds or ())
    types.discard("null")
    if types == {"string"}:
        return _instant if prop.get("format") == "date-time" else str
    if types and types <= {"integer", "number"}:
        return _number
    return None


def _instant(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a date-time")
    return utc_instant(value)


def _number(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    try:
        number = Decimal(value) if isinstance(value, int | Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None
    if not number.is_finite():
        raise ValueError(f"{value!r} is not a number")
    return number


def _saved_rank(stream: str, value: Any, order: Order) -> Any:
    """A saved bookmark as ``order`` ranks it; a ConfigError naming the stream when it is not of the key's type."""
    try:
        return order(value)
    except ValueError as exc:
        raise ConfigError(f"state: stream '{stream}': replication_key_value {value!r} is not of the replication "
                          f"key's type in the schema ({exc})") from exc
