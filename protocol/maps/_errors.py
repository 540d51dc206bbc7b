"""The errors of a record the stream maps cannot map: the run fails (exit 1), naming where.

    ProtocolError
    └── MapRecordError ............. a record the maps cannot map (line, stream, field)
        ├── MapExpressionError ..... a map expression (or ``__filter__``) raised on it
        └── FlatteningCollisionError two of its values flatten into one column

A tap reads no input lines: it names the record with :meth:`MapRecordError.locate` instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from protocol._errors import ProtocolError

__all__ = ["FlatteningCollisionError", "MapExpressionError", "MapRecordError", "record_named"]


class MapRecordError(ProtocolError):
    """A record the maps cannot map: names the line (in a target or mapper-sluice), the stream,
    the field, and after :meth:`locate` the record (in a tap)."""

    record: str | None = None

    def locate(self, record: str) -> None:
        """Name the record (``record 17 (id=5)``) where no input line names it: a tap's."""
        self.record = record
        parts = [f"line {self.line}"] if self.line is not None else []
        if self.stream is not None and f"'{self.stream}'" not in self.detail:
            parts.append(f"stream '{self.stream}'")
        parts.append(record)
        if self.field is not None:
            parts.append(f"field '{self.field}'")
        self.args = (f"{', '.join(parts)}: {self.detail}",)


class MapExpressionError(MapRecordError):
    """A map expression (or ``__filter__``) raised on a record: names the line, the stream, the
    property (the field) and the expression; the run fails (exit 1)."""

    def __init__(self, stream: str, prop: str, expression: str, exc: BaseException, line: int | None) -> None:
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        super().__init__(f"stream map expression {expression!r} failed: {reason}",
                         line=line, stream=stream, field=prop)


class FlatteningCollisionError(MapRecordError):
    """Flattening a record would write two of its values into one column (``a: {x: 1}`` and
    ``a__x``): one would be lost, so the run fails naming the column and both properties."""

    def __init__(self, stream: str, column: str, paths: list[str], line: int | None) -> None:
        super().__init__(f"flattening writes {' and '.join(repr(p) for p in paths)} into the one column "
                         f"{column!r}; one value would be lost (rename one with a stream map)",
                         line=line, stream=stream, field=column)


def record_named(number: int, record: Mapping[str, Any], keys: Sequence[str]) -> str:
    """A tap's record as an error names it: its number in the stream and its key values (``record 17 (id=5)``)."""
    values = ", ".join(f"{k}={_short(record.get(k))}" for k in keys)
    return f"record {number} ({values})" if values else f"record {number}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
