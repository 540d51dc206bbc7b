"""The Airbyte protocol as tap-airbyte reads it: each line of a source's stdout decoded once, by msgspec.

Only what the translation needs is typed; a RECORD's ``data`` and a STATE's whole ``state``
object stay :class:`msgspec.Raw`, the exact bytes the source wrote (a record is copied into its
Singer line without being parsed again; a state is kept opaque and handed back byte for byte).
Unknown fields are skipped, so newer protocol versions decode too.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["AirbyteMessage", "Descriptor", "Record", "StateHeader", "TraceError", "decode_line", "decode_state",
           "stream_id"]

_NOTHING = msgspec.Raw(b"")


class Descriptor(msgspec.Struct, gc=False):
    name: str
    namespace: str | None = None


class Record(msgspec.Struct, gc=False):
    stream: str
    data: msgspec.Raw = _NOTHING
    namespace: str | None = None


class Log(msgspec.Struct, gc=False):
    level: str = "INFO"
    message: str = ""
    stack_trace: str | None = None


class TraceError(msgspec.Struct, gc=False):
    message: str = ""
    internal_message: str | None = None
    failure_type: str | None = None  # system_error, config_error, transient_error
    stream_descriptor: Descriptor | None = None


class StreamStatus(msgspec.Struct, gc=False):
    stream_descriptor: Descriptor
    status: str


class Estimate(msgspec.Struct, gc=False):
    name: str
    namespace: str | None = None
    type: str = "STREAM"
    row_estimate: int | None = None
    byte_estimate: int | None = None


class Trace(msgspec.Struct, gc=False):
    type: str
    error: TraceError | None = None
    stream_status: StreamStatus | None = None
    estimate: Estimate | None = None


class ConnectionStatus(msgspec.Struct, gc=False):
    status: str
    message: str | None = None


class AirbyteMessage(msgspec.Struct, gc=False):
    """One line of a source's stdout: which field is set follows ``type``."""

    type: str
    record: Record | None = None
    state: msgspec.Raw = _NOTHING
    log: Log | None = None
    trace: Trace | None = None
    connectionStatus: ConnectionStatus | None = None  # the protocol's name
    catalog: dict[str, Any] | None = None
    spec: dict[str, Any] | None = None


class _StreamState(msgspec.Struct, gc=False):
    stream_descriptor: Descriptor


class StateHeader(msgspec.Struct, gc=False):
    """What tap-airbyte reads of a STATE: its kind and, for a STREAM state, its stream.

    A state without ``type`` is the legacy form (``{"data": ...}``).
    """

    type: str = "LEGACY"
    stream: _StreamState | None = None
    data: msgspec.Raw = _NOTHING


_LINE = msgspec.json.Decoder(AirbyteMessage)
_STATE = msgspec.json.Decoder(StateHeader)

DecodeError = msgspec.DecodeError


def decode_line(line: bytes) -> AirbyteMessage:
    """One stdout line of the source (raises :class:`msgspec.DecodeError` when it is not a message)."""
    return _LINE.decode(line)


def decode_state(raw: bytes) -> StateHeader:
    return _STATE.decode(raw)


def stream_id(name: str, namespace: str | None) -> str:
    """The Singer stream of an Airbyte stream: its name, prefixed ``namespace-`` when it has a namespace
    (the way singer taps name a table of a schema)."""
    return f"{namespace}-{name}" if namespace else name
