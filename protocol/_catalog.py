"""Singer catalogs: streams, breadcrumb metadata and the selection rules of the spec.

Selection, for a breadcrumb (``()`` is the stream, ``("properties", "id")`` a field):
1. a field whose parent is not selected is not selected;
2. ``inclusion: unsupported`` is never selected, ``inclusion: automatic`` always is;
3. otherwise an explicit ``selected`` wins, then ``selected-by-default``;
4. otherwise a field follows its parent, and a stream is not selected.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from protocol._errors import ConfigError

__all__ = ["Breadcrumb", "Catalog", "CatalogEntry", "Metadata"]

Breadcrumb = tuple[str, ...]

REPLICATION_METHODS = ("FULL_TABLE", "INCREMENTAL", "LOG_BASED")


class Metadata:
    """Breadcrumb-keyed metadata of one stream."""

    def __init__(self, entries: dict[Breadcrumb, dict[str, Any]] | None = None) -> None:
        self._entries: dict[Breadcrumb, dict[str, Any]] = entries or {}

    @classmethod
    def from_list(cls, items: Iterable[dict[str, Any]]) -> Metadata:
        entries: dict[Breadcrumb, dict[str, Any]] = {}
        for item in items:
            crumb = tuple(item.get("breadcrumb") or ())
            entries.setdefault(crumb, {}).update(item.get("metadata") or {})
        return cls(entries)

    def to_list(self) -> list[dict[str, Any]]:
        return [
            {"breadcrumb": list(crumb), "metadata": dict(values)}
            for crumb, values in sorted(self._entries.items(), key=lambda kv: (len(kv[0]), kv[0]))
        ]

    def get(self, breadcrumb: Breadcrumb, key: str, default: Any = None) -> Any:
        return self._entries.get(breadcrumb, {}).get(key, default)

    def set(self, breadcrumb: Breadcrumb, key: str, value: Any) -> None:
        self._entries.setdefault(breadcrumb, {})[key] = value

    def breadcrumbs(self) -> Iterator[Breadcrumb]:
        return iter(list(self._entries))

    def is_selected(self, breadcrumb: Breadcrumb = ()) -> bool:
        parent: bool | None = None
        if breadcrumb:
            parent = self.is_selected(breadcrumb[:-2])
            if not parent:
                return False
        entry = self._entries.get(breadcrumb, {})
        inclusion = entry.get("inclusion")
        if inclusion == "unsupported":
            return False
        if inclusion == "automatic":
            return True
        if entry.get("selected") is not None:
            return bool(entry["selected"])
        if entry.get("selected-by-default") is not None:
            return bool(entry["selected-by-default"])
        return bool(parent)


@dataclass
class CatalogEntry:
    tap_stream_id: str
    schema: dict[str, Any]
    stream: str = ""
    metadata: Metadata = field(default_factory=Metadata)
    key_properties: list[str] = field(default_factory=list)
    replication_key: str | None = None
    replication_method: str | None = None

    def __post_init__(self) -> None:
        if not self.stream:
            self.stream = self.tap_stream_id

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CatalogEntry:
        tap_stream_id = data.get("tap_stream_id") or data.get("stream")
        if not isinstance(tap_stream_id, str):
            raise ConfigError("catalog stream has no 'tap_stream_id'")
        schema = data.get("schema")
        if not isinstance(schema, dict):
            raise ConfigError(f"catalog stream '{tap_stream_id}' has no 'schema' object")
        metadata = Metadata.from_list(data.get("metadata") or [])
        if schema.get("selected") is not None and metadata.get((), "selected") is None:
            metadata.set((), "selected", bool(schema["selected"]))  # legacy selection
        keys = data.get("key_properties")
        if keys is None:
            keys = metadata.get((), "table-key-properties") or []
        return cls(
            tap_stream_id=tap_stream_id,
            stream=data.get("stream") or tap_stream_id,
            schema=schema,
            metadata=metadata,
            key_properties=list(keys),
            replication_key=data.get("replication_key") or metadata.get((), "replication-key"),
            replication_method=data.get("replication_method")
            or metadata.get((), "replication-method")
            or metadata.get((), "forced-replication-method"),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "tap_stream_id": self.tap_stream_id,
            "stream": self.stream,
            "schema": self.schema,
            "key_properties": self.key_properties,
            "metadata": self.metadata.to_list(),
        }
        if self.replication_key:
            out["replication_key"] = self.replication_key
        if self.replication_method:
            out["replication_method"] = self.replication_method
        return out

    @property
    def selected(self) -> bool:
        return self.metadata.is_selected(())

    def selected_schema(self) -> dict[str, Any]:
        """The schema with unselected top-level fields removed."""
        schema = copy.deepcopy(self.schema)
        props = schema.get("properties") or {}
        for name in list(props):
            if not self.metadata.is_selected(("properties", name)):
                del props[name]
        if "required" in schema:
            schema["required"] = [r for r in schema["required"] if r in props]
        return schema

    def selected_fields(self) -> list[str]:
        return list((self.selected_schema().get("properties") or {}).keys())

    def select_all(self) -> None:
        self.metadata.set((), "selected", True)


@dataclass
class Catalog:
    streams: list[CatalogEntry] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: Any) -> Catalog:
        if not isinstance(data, dict) or not isinstance(data.get("streams"), list):
            raise ConfigError("catalog must be a JSON object with a 'streams' list")
        return cls([CatalogEntry.from_dict(s) for s in data["streams"]])

    def to_dict(self) -> dict[str, Any]:
        return {"streams": [s.to_dict() for s in self.streams]}

    def get(self, tap_stream_id: str) -> CatalogEntry | None:
        for entry in self.streams:
            if entry.tap_stream_id == tap_stream_id:
                return entry
        return None

    def selected(self) -> list[CatalogEntry]:
        return [s for s in self.streams if s.selected]

    def __iter__(self) -> Iterator[CatalogEntry]:
        return iter(self.streams)
