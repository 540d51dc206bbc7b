"""target-jsonl's sink: one orjson.dumps per record into memory, written out in chunks."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson

from protocol import ProtocolError, RecordMessage, SchemaMessage, dumps
from targets.files import DurableFile, FileSettings, FileSink
from targets.files.sink import SPILL_BYTES

if TYPE_CHECKING:
    from protocol import RecordRun

__all__ = ["JsonlSink"]

_NEWLINE = orjson.OPT_APPEND_NEWLINE


def _exact(obj: Any) -> Any:
    """orjson's fallback for what it cannot encode natively: Decimals, as their exact text."""
    if obj.__class__ is Decimal and obj.is_finite():
        return orjson.Fragment(str(obj).encode())
    raise TypeError


class JsonlSink(FileSink):
    """Writes each record as one JSON line, exactly as received (schema changes need nothing)."""

    line_based = True
    accepts_runs = True
    run_values = False  # runs are written as their text

    def __init__(self, schema: SchemaMessage, loader: DurableFile, settings: FileSettings) -> None:
        super().__init__(schema, loader, settings)
        # One growing bytearray, not a list of bytes: each orjson output is freed at once,
        # which keeps glibc from growing and trimming its heap (a page fault per record).
        self._buf = bytearray()
        # Raw runs (the fast path) are kept as they come and joined once by take().
        self._parts: list[bytes | memoryview] = []
        self._parts_size = 0

    def add(self, record: dict[str, Any], message: RecordMessage) -> None:
        buf = self._buf
        try:
            buf += orjson.dumps(record, default=_exact, option=_NEWLINE)
        except TypeError:
            buf += self._slow(record, message)
        if len(buf) >= SPILL_BYTES:
            self.spill()

    def add_run(self, run: RecordRun) -> bool:
        """Validated records as received: their bytes are the lines (numbers stay exact)."""
        records = run.records
        parts = self._parts
        if self._buf:
            parts.append(bytes(self._buf))  # records added one by one before: keep the order
            self._buf.clear()
        parts.append(records)
        parts.append(b"\n")
        self._parts_size += len(records) + 1
        if self._parts_size >= SPILL_BYTES:
            self.spill()
        return True

    def _slow(self, record: dict[str, Any], message: RecordMessage) -> bytes:
        try:
            return dumps(record) + b"\n"  # integers beyond 64 bits, tuples, ...
        except TypeError as exc:
            raise ProtocolError(f"record cannot be written as JSON: {exc}", line=message.line,
                                stream=self.stream) from None

    def take(self) -> bytes:
        if self._parts:
            self._parts.append(bytes(self._buf))
            data = b"".join(self._parts)
            self._parts.clear()
            self._parts_size = 0
        else:
            data = bytes(self._buf)
        self._buf.clear()
        return data
