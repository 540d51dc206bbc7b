"""The buffered Singer writer. It is handed its stream; it never reaches for sys.stdout.

Control messages (SCHEMA, STATE, ACTIVATE_VERSION, BATCH) are encoded by the message types
themselves (:mod:`protocol._messages`); only the RECORD paths build their lines by hand, for speed.
"""

from __future__ import annotations

import os
from typing import IO, Any

from protocol._errors import DownstreamClosed
from protocol._jsoncodec import dumps
from protocol._messages import ActivateVersionMessage, Message, SchemaMessage, StateMessage

__all__ = ["MessageWriter"]


class MessageWriter:
    """Write Singer lines to a binary stream, buffered.

    The buffer is flushed when it passes ``buffer_bytes``, on every STATE (so a STATE
    never sits behind the records it covers) and on :meth:`close`. A closed pipe
    downstream raises :class:`DownstreamClosed`, then and at every later flush; the
    stream's descriptor is pointed at /dev/null, so what the stream object still buffers
    and its own close raise nothing more.

    :meth:`write_state` skips a checkpoint equal to the last STATE it wrote, records since
    or not: a STATE that did not move the resume point does not cover the records before it
    (a rerun from it sends them again), and a target that committed them under it would hold
    them twice after a crash. So checkpoints and stream ends may each ask for one freely.
    The run's last STATE (``final=True``) is skipped only when it would repeat the line just
    written: the output ends with one STATE after everything, and a tap that finished
    cleanly may have its tail committed under it (the runner commits that tail anyway).
    """

    def __init__(self, stream: IO[bytes], *, buffer_bytes: int = 256 * 1024) -> None:
        self._stream = stream
        self._limit = buffer_bytes
        self._parts: list[bytes] = []
        self._size = 0
        self._record_prefix: dict[str, bytes] = {}
        self._last_state: bytes | None = None
        self._written = 0  # bytes handed to the stream; with ``_size``, every byte written so far
        self._state_end = -1  # that total right after the last STATE written
        self.closed = False

    def _add(self, data: bytes) -> None:
        self._parts.append(data)
        self._size += len(data)
        if self._size >= self._limit:
            self.flush()

    def _new_prefix(self, stream: str) -> bytes:
        prefix = self._record_prefix[stream] = b'{"type":"RECORD","stream":' + dumps(stream) + b',"record":'
        return prefix

    def write_record(
        self,
        stream: str,
        record: dict[str, Any],
        *,
        version: int | None = None,
        time_extracted: str | None = None,
    ) -> None:
        prefix = self._record_prefix.get(stream) or self._new_prefix(stream)
        tail = b"}\n"
        if version is not None or time_extracted is not None:
            extra: dict[str, Any] = {}
            if version is not None:
                extra["version"] = version
            if time_extracted is not None:
                extra["time_extracted"] = time_extracted
            tail = b"," + dumps(extra)[1:] + b"\n"
        data = prefix + dumps(record) + tail
        self._parts.append(data)
        self._size += len(data)
        if self._size >= self._limit:
            self.flush()

    def write_records_json(self, stream: str, rows: bytes, *, version: int | None = None) -> None:
        """Many RECORDs at once: ``rows`` holds one compact JSON object per line, each line
        ending in a newline, and no raw newline elsewhere (JSON escapes it). The envelopes
        are added in bulk (one ``bytes.replace``), not row by row."""
        if not rows:
            return
        prefix = self._record_prefix.get(stream) or self._new_prefix(stream)
        tail = b"}\n" if version is None else b',"version":' + str(int(version)).encode() + b"}\n"
        data = prefix + rows[:-1].replace(b"\n", tail + prefix) + tail
        self._parts.append(data)
        self._size += len(data)
        if self._size >= self._limit:
            self.flush()

    def write_message(self, message: Message) -> None:
        """A control message, encoded by its own type. A STATE goes through :meth:`write_state`."""
        if isinstance(message, StateMessage):
            self.write_state(message.value)
        else:
            self._add(message.encode())

    def write_schema(
        self,
        stream: str,
        schema: dict[str, Any],
        key_properties: list[str] | None = None,
        bookmark_properties: list[str] | None = None,
    ) -> None:
        self.write_message(SchemaMessage(stream, schema, key_properties, bookmark_properties))

    def write_state(self, value: dict[str, Any], *, final: bool = False) -> None:
        """A STATE line, flushed with everything before it.

        Nothing when ``value`` is the last one written; with ``final`` (the end of a run that
        finished) nothing only when nothing at all was written since that STATE.
        """
        line = StateMessage(value).encode()
        if line != self._last_state or (final and self._written + self._size != self._state_end):
            self._last_state = line
            self._add(line)
            self._state_end = self._written + self._size
        self.flush()

    def resume_from(self, value: dict[str, Any]) -> None:
        """The state the run starts from: a checkpoint equal to it moved nothing and is skipped
        like a repeat (the run's final STATE is still written). Writes nothing."""
        self._last_state = StateMessage(value).encode()

    def write_state_value(self, value: dict[str, Any]) -> None:
        """A target's output: the bare state value on one line (what Meltano stores), flushed."""
        self._add(dumps(value) + b"\n")
        self.flush()

    def write_activate_version(self, stream: str, version: int) -> None:
        self.write_message(ActivateVersionMessage(stream, version))

    def flush(self) -> None:
        if not self._parts:
            return
        if self.closed:
            self._parts.clear()
            raise DownstreamClosed("the program reading our output closed the pipe")
        data = b"".join(self._parts)
        self._parts.clear()
        self._size = 0
        self._written += len(data)
        try:
            self._stream.write(data)
            self._stream.flush()
        except BrokenPipeError as exc:
            self.closed = True
            _discard(self._stream)
            raise DownstreamClosed("the program reading our output closed the pipe") from exc

    def close(self) -> None:
        self.flush()


def _discard(stream: IO[bytes]) -> None:
    """Point a broken pipe's descriptor at /dev/null: the stream object's leftovers go nowhere."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # no descriptor (an in-memory stream)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)
