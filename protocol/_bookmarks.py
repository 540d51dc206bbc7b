"""Typed bookmarks: the kinds a table stream keeps in its entry of a STATE value.

Each kind reads and writes exactly the keys Singer taps have always used (singer-io's
tap-postgres and tap-mysql, pipelinewise), so states of earlier runs load unchanged::

    FULL_TABLE   {"version": 1700000000000, "last_pk_fetched": {"id": 41}}
                 or, read in key ranges at once,
                 {"version": ..., "key_ranges": [{"after": null, "upto": 500000, "last": 120000},
                                                 {"after": 500000, "upto": null, "last": 610000}]}
                 (a range holds the keys ``after < key <= upto``; ``last`` is the last key written)
    INCREMENTAL  {"replication_key": "updated_at", "replication_key_value": "2024-01-01T00:00:00Z"}
    LOG_BASED    {"lsn": 23744536, "snapshot_done": true}

A kind owns its keys (``KEYS``): ``Bookmarks.write`` sets those present in ``to_dict()`` and
removes the others, and leaves the stream's other keys alone. ``from_dict`` is lenient: a value
of the wrong type reads as unset, as the taps have always treated it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

__all__ = ["BookmarkKind", "FullTableBookmark", "IncrementalBookmark", "KeyRange", "LogBasedBookmark"]

K = TypeVar("K", bound="BookmarkKind")


class BookmarkKind:
    """The base of the bookmark kinds: the keys a kind owns and its two conversions."""

    KEYS: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_dict(cls: type[K], entry: dict[str, Any]) -> K:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: the kind's keys whose value is set."""
        return {key: value for key, value in self._items() if value is not None}

    def _items(self) -> list[tuple[str, Any]]:
        """Each of ``KEYS`` with its JSON value (None: unset)."""
        raise NotImplementedError


@dataclass(frozen=True)
class KeyRange:
    """One range of an integer key read on its own connection: ``after < key <= upto``."""

    after: Any = None
    upto: Any = None
    last: Any = None  # the last key written, where a resumed read continues

    @property
    def start(self) -> Any:
        """The key the read continues after (None: from the start of the range)."""
        return self.last if self.last is not None else self.after

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KeyRange:
        return cls(data.get("after"), data.get("upto"), data.get("last"))

    def to_dict(self) -> dict[str, Any]:
        return {"after": self.after, "upto": self.upto, "last": self.last}


@dataclass(frozen=True)
class FullTableBookmark(BookmarkKind):
    """A full-table read under way: its table version, and where to resume (after the last key
    of one sequential read, or after the last key of each key range)."""

    KEYS: ClassVar[tuple[str, ...]] = ("version", "last_pk_fetched", "key_ranges")

    version: int | None = None
    last_pk: dict[str, Any] | None = None
    key_ranges: tuple[KeyRange, ...] | None = None

    @classmethod
    def from_dict(cls, entry: dict[str, Any]) -> FullTableBookmark:
        version = entry.get("version")
        last_pk = entry.get("last_pk_fetched")
        ranges = entry.get("key_ranges")
        parts = None
        if isinstance(ranges, list) and ranges and all(isinstance(r, dict) for r in ranges):
            parts = tuple(KeyRange.from_dict(r) for r in ranges)
        return cls(version if isinstance(version, int) else None,
                   dict(last_pk) if isinstance(last_pk, dict) else None, parts)

    def _items(self) -> list[tuple[str, Any]]:
        return [("version", self.version),
                ("last_pk_fetched", None if self.last_pk is None else dict(self.last_pk)),
                ("key_ranges", None if self.key_ranges is None else [r.to_dict() for r in self.key_ranges])]


@dataclass(frozen=True)
class IncrementalBookmark(BookmarkKind):
    """The replication key and the greatest value of it read so far."""

    KEYS: ClassVar[tuple[str, ...]] = ("replication_key", "replication_key_value")

    replication_key: str | None = None
    value: Any = None

    def value_for(self, replication_key: str) -> Any:
        """The bookmarked value, if it is one of ``replication_key`` (None otherwise)."""
        return self.value if self.replication_key == replication_key else None

    @classmethod
    def from_dict(cls, entry: dict[str, Any]) -> IncrementalBookmark:
        key = entry.get("replication_key")
        return cls(key if isinstance(key, str) else None, entry.get("replication_key_value"))

    def _items(self) -> list[tuple[str, Any]]:
        return [("replication_key", self.replication_key), ("replication_key_value", self.value)]


@dataclass(frozen=True)
class LogBasedBookmark(BookmarkKind):
    """The log position a stream's changes are read from, and whether its snapshot is taken."""

    KEYS: ClassVar[tuple[str, ...]] = ("lsn", "snapshot_done")

    lsn: int | None = None
    snapshot_done: bool = False

    @classmethod
    def from_dict(cls, entry: dict[str, Any]) -> LogBasedBookmark:
        lsn = entry.get("lsn")
        return cls(lsn if isinstance(lsn, int) else None, bool(entry.get("snapshot_done")))

    def _items(self) -> list[tuple[str, Any]]:
        return [("lsn", self.lsn), ("snapshot_done", True if self.snapshot_done else None)]
