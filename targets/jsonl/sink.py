"""target-jsonl's sink: one orjson.dumps per record into memory, written out in chunks."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson

from protocol import ProtocolError, RecordMessage, SchemaMessage, dumps
from targets.files import FileSink, FileTarget
from targets.files.sink import SPILL_ROWS

__all__ = ["JsonlSink"]

_NEWLINE = orjson.OPT_APPEND_NEWLINE


def _exact(obj: Any) -> Any:
    """orjson's fallback for what it cannot encode natively: Decimals, as their exact text."""
    if obj.__class__ is Decimal and obj.is_finite():
        return orjson.Fragment(str(obj).encode())
    raise TypeError


class JsonlSink(FileSink):
    """Writes each record as one JSON line, exactly as received (schema changes need nothing)."""

    shared_files = True  # custom_name sends every stream to one file, as andyh1203's target does

    def __init__(self, target: FileTarget, schema: SchemaMessage) -> None:
        super().__init__(target, schema)
        self._parts: list[bytes] = []

    def add(self, record: dict[str, Any], message: RecordMessage) -> None:
        try:
            line = orjson.dumps(record, default=_exact, option=_NEWLINE)
        except TypeError:
            line = self._slow(record, message)
        parts = self._parts
        parts.append(line)
        if len(parts) >= SPILL_ROWS:
            self.spill()

    def _slow(self, record: dict[str, Any], message: RecordMessage) -> bytes:
        try:
            return dumps(record) + b"\n"  # integers beyond 64 bits, tuples, ...
        except TypeError as exc:
            raise ProtocolError(f"record cannot be written as JSON: {exc}", line=message.line,
                                stream=self.stream) from None

    def take(self) -> bytes:
        parts = self._parts
        if not parts:
            return b""
        data = b"".join(parts)
        parts.clear()
        return data
