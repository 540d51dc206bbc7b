"""The error of a stream-map expression that fails on a record."""

from __future__ import annotations

from protocol._errors import ProtocolError

__all__ = ["MapExpressionError"]


class MapExpressionError(ProtocolError):
    """A map expression (or ``__filter__``) raised on a record: names the line, the stream, the
    property (the field) and the expression; the run fails (exit 1)."""

    def __init__(self, stream: str, prop: str, expression: str, exc: BaseException, line: int | None) -> None:
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        super().__init__(f"stream map expression {expression!r} failed: {reason}",
                         line=line, stream=stream, field=prop)
