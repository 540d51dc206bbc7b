"""Typed Singer messages. Lines become these objects once, in the reader.

They are also the one serializer of control messages: a SCHEMA, STATE, ACTIVATE_VERSION or
BATCH line leaves through :meth:`encode` (the writer's own methods build these objects).
Only the RECORD hot paths of :class:`protocol._writer.MessageWriter` build their lines by hand,
byte for byte what :meth:`RecordMessage.encode` gives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from protocol import _jsoncodec as jsoncodec

__all__ = [
    "ActivateVersionMessage",
    "BatchMessage",
    "Message",
    "RecordMessage",
    "SchemaMessage",
    "StateMessage",
]


class _Message:
    __slots__ = ()
    type: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def encode(self) -> bytes:
        """This message as one Singer line: compact JSON, newline included."""
        return jsoncodec.dumps(self.to_dict()) + b"\n"


class SchemaMessage(_Message):
    __slots__ = ("bookmark_properties", "key_properties", "line", "schema", "stream")
    type = "SCHEMA"

    def __init__(
        self,
        stream: str,
        schema: dict[str, Any],
        key_properties: list[str] | None = None,
        bookmark_properties: list[str] | None = None,
        line: int = 0,
    ) -> None:
        self.stream = stream
        self.schema = schema
        self.key_properties = list(key_properties or [])
        self.bookmark_properties = list(bookmark_properties or [])
        self.line = line

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "SCHEMA",
            "stream": self.stream,
            "schema": self.schema,
            "key_properties": self.key_properties,
        }
        if self.bookmark_properties:
            out["bookmark_properties"] = self.bookmark_properties
        return out


@dataclass(slots=True, eq=False, repr=False)  # a constructor that keeps its fields
class RecordMessage(_Message):
    type = "RECORD"
    stream: str
    record: dict[str, Any]
    version: int | None = None
    time_extracted: str | None = None
    line: int = 0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "RECORD", "stream": self.stream, "record": self.record}
        if self.version is not None:
            out["version"] = self.version
        if self.time_extracted is not None:
            out["time_extracted"] = self.time_extracted
        return out


@dataclass(slots=True, eq=False, repr=False)  # a constructor that keeps its fields
class StateMessage(_Message):
    type = "STATE"
    value: dict[str, Any]
    line: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"type": "STATE", "value": self.value}


@dataclass(slots=True, eq=False, repr=False)  # a constructor that keeps its fields
class ActivateVersionMessage(_Message):
    type = "ACTIVATE_VERSION"
    stream: str
    version: int
    line: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"type": "ACTIVATE_VERSION", "stream": self.stream, "version": self.version}


class BatchMessage(_Message):
    """A BATCH message: records of one stream stored in files listed by the manifest."""

    __slots__ = ("encoding", "line", "manifest", "stream")
    type = "BATCH"

    def __init__(
        self, stream: str, encoding: dict[str, Any], manifest: list[str], line: int = 0
    ) -> None:
        self.stream = stream
        self.encoding = encoding
        self.manifest = list(manifest)
        self.line = line

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "BATCH",
            "stream": self.stream,
            "encoding": self.encoding,
            "manifest": self.manifest,
        }


Message = SchemaMessage | RecordMessage | StateMessage | ActivateVersionMessage | BatchMessage

