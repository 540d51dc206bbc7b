"""The strict Singer reader: bytes in, typed messages out, one clear error per bad line."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

import orjson

from protocol._errors import ProtocolError, TruncatedLineError
from protocol._jsoncodec import (
    MAX_DEPTH,
    deep_recursion,
    loads,
    too_deep,
    where_too_deep,
)
from protocol._messages import (
    ActivateVersionMessage,
    BatchMessage,
    Message,
    RecordMessage,
    SchemaMessage,
    StateMessage,
)
from protocol._schema import RecordValidator, check_schema, draft6_bounds

__all__ = ["DEFAULT_MAX_LINE_BYTES", "MessageReader"]

DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024


class MessageReader:
    """Iterate typed messages from a binary stream of Singer lines.

    Strict: a malformed line, a line nested deeper than ``MAX_DEPTH`` levels, an unknown
    message type, a RECORD before its SCHEMA, a missing required message field, a line
    longer than ``max_line_bytes`` and (with ``validate_records``) a record that violates its schema each raise one
    :class:`ProtocolError` naming the line number, the stream and the field.
    """

    def __init__(
        self,
        stream: IO[bytes],
        *,
        validate_records: bool = True,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    ) -> None:
        self._stream = stream
        self._validate = validate_records
        self._max = max_line_bytes
        self.line_number = 0
        self.schemas: dict[str, SchemaMessage] = {}
        self._validators: dict[str, RecordValidator] = {}
        #: streams whose records are read with every decimal as written (stream maps that write one as
        #: text set it: protocol/maps/_exactness.py); the others' decimals are floats where that is exact
        self.exact_streams: set[str] | frozenset[str] = frozenset()

    def __iter__(self) -> Iterator[Message]:
        readline = self._stream.readline
        limit = self._max
        parse = self.parse_line
        n = self.line_number
        while True:
            line = readline(limit + 1)
            if not line:
                break
            n += 1
            self.line_number = n
            msg = parse(line, n)
            if msg is not None:
                yield msg

    def parse_line(self, line: bytes, n: int) -> Message | None:
        """One line (number ``n``) to its typed message; None for a blank line.

        Updates the shared schema/validator state on SCHEMA lines; raises
        :class:`ProtocolError` for a bad line exactly as iteration does.
        """
        limit = self._max
        if len(line) > limit and not (len(line) == limit + 1 and line[-1:] == b"\n"):
            raise ProtocolError(f"line is longer than the limit of {limit} bytes", line=n)
        try:
            obj = loads(line)  # exact where a float would change a number (protocol/_jsoncodec.py)
        except orjson.JSONDecodeError as exc:
            if not line.strip():
                return None
            if not line.endswith(b"\n") and not too_deep(exc):  # the input ended mid-line: cut short, or written wrong
                raise TruncatedLineError(f"malformed JSON: {exc} (the input ends in the middle of this line)",
                                         line=n) from None
            raise _malformed(line, n, exc) from None
        if obj.__class__ is not dict:
            raise ProtocolError("line is not a JSON object", line=n)
        kind = obj.get("type")
        if kind == "RECORD":
            stream = obj.get("stream")
            record = obj.get("record")
            validator = self._validators.get(stream) if stream.__class__ is str else None  # type: ignore[arg-type]
            if validator is None:
                self._bad_record(obj, n)
            elif record.__class__ is not dict:
                raise ProtocolError(
                    "RECORD has no 'record' object", line=n, stream=stream, field="record"
                )
            elif self.exact_streams and stream in self.exact_streams:
                from protocol._exactdecode import loads_decimals
                record = loads_decimals(line)["record"]
            if self._validate:
                validator(record, n)  # type: ignore[misc]
            version = obj.get("version")
            if version is not None and version.__class__ is not int:  # a table version: bool and 1.5 are not
                raise ProtocolError("RECORD 'version' must be an integer", line=n, stream=stream, field="version")
            return RecordMessage(stream, record, version, obj.get("time_extracted"), n)  # type: ignore[arg-type]
        if kind == "STATE":
            if obj.get("value").__class__ is not dict:
                raise ProtocolError("STATE needs a 'value' object", line=n, field="value")
            return StateMessage(obj["value"], n)
        if kind == "SCHEMA":
            return self._schema(obj, n)
        if kind == "ACTIVATE_VERSION":
            return self._activate_version(obj, n)
        if kind == "BATCH":
            return self._batch(obj, n)
        if kind is None:
            raise ProtocolError("message has no 'type'", line=n, field="type")
        raise ProtocolError(f"unknown message type {kind!r}", line=n, field="type")

    def _activate_version(self, obj: dict[str, Any], n: int) -> ActivateVersionMessage:
        stream = self._stream_name(obj, n)
        version = obj.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise ProtocolError("ACTIVATE_VERSION needs an integer 'version'", line=n, stream=stream, field="version")
        return ActivateVersionMessage(stream, version, n)

    def _batch(self, obj: dict[str, Any], n: int) -> BatchMessage:
        stream = self._stream_name(obj, n)
        self._require_schema(stream, "BATCH", n)
        encoding = obj.get("encoding")
        manifest = obj.get("manifest")
        if not isinstance(encoding, dict):
            raise ProtocolError("BATCH has no 'encoding'", line=n, stream=stream, field="encoding")
        if not isinstance(manifest, list):
            raise ProtocolError("BATCH has no 'manifest'", line=n, stream=stream, field="manifest")
        if not all(isinstance(entry, str) and entry for entry in manifest):
            raise ProtocolError("BATCH 'manifest' must list file URIs (strings)", line=n, stream=stream,
                                field="manifest")
        return BatchMessage(stream, encoding, manifest, n)

    @property
    def max_line_bytes(self) -> int:
        return self._max

    @property
    def validate_records(self) -> bool:
        return self._validate

    def validator(self, stream: str) -> RecordValidator:
        return self._validators[stream]

    def _stream_name(self, obj: dict[str, Any], n: int) -> str:
        stream = obj.get("stream")
        if not isinstance(stream, str) or not stream:
            raise ProtocolError(f"{obj.get('type')} has no 'stream' name", line=n, field="stream")
        return stream

    def _require_schema(self, stream: str, kind: str, n: int) -> None:
        if stream not in self.schemas:
            raise ProtocolError(f"{kind} for stream '{stream}' before its SCHEMA", line=n, stream=stream)

    def _bad_record(self, obj: dict[str, Any], n: int) -> None:
        stream = self._stream_name(obj, n)
        self._require_schema(stream, "RECORD", n)

    def _schema(self, obj: dict[str, Any], n: int) -> SchemaMessage:
        stream = self._stream_name(obj, n)
        schema = obj.get("schema")
        if schema is None:
            raise ProtocolError("SCHEMA has no 'schema'", line=n, stream=stream, field="schema")
        schema = draft6_bounds(schema)  # once, here: what every target reads (pipelinewise taps write Draft 4's)
        check_schema(schema, stream=stream, line=n)
        previous = self.schemas.get(stream)
        if previous is not None and previous.schema is not schema:
            with deep_recursion():  # a schema may nest 1,000 levels; == recurses
                if previous.schema == schema:
                    schema = previous.schema  # the same schema again: the same object (compared by identity)
        keys = obj.get("key_properties") or []
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise ProtocolError(
                "'key_properties' must be a list of field names",
                line=n, stream=stream, field="key_properties",
            )
        bookmarks = obj.get("bookmark_properties") or []
        if not isinstance(bookmarks, list):
            raise ProtocolError(
                "'bookmark_properties' must be a list",
                line=n, stream=stream, field="bookmark_properties",
            )
        props = schema["properties"]
        for key in keys:
            if key not in props:
                raise ProtocolError(
                    "key property is not in the schema's properties",
                    line=n, stream=stream, field=key,
                )
        message = SchemaMessage(stream, schema, keys, bookmarks, n)
        try:
            self._validators[stream] = RecordValidator(stream, schema, keys)
        except ProtocolError as exc:
            raise ProtocolError(exc.detail, line=n, stream=stream) from exc
        self.schemas[stream] = message
        return message


def _malformed(line: bytes, n: int, exc: ValueError) -> ProtocolError:
    if too_deep(exc):
        stream, field = where_too_deep(line)
        return ProtocolError(f"nested deeper than {MAX_DEPTH} levels (the limit for a Singer line)",
                             line=n, stream=stream, field=field)
    return ProtocolError(f"malformed JSON: {exc}", line=n)
