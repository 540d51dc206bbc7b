"""The chunked fast path of the reader: whole chunks of lines decoded and validated at once.

:class:`BatchReader` reads lines some 64 KiB at a time and decodes every line's
envelope in ONE msgspec call. Consecutive RECORDs of one stream whose schema compiles to
a msgspec type (:func:`compile_record_type`) and whose sink takes raw bytes
(``Sink.accepts_raw``) are validated in ONE more call and handed over as a
:class:`RawRun`: the record bytes exactly as received. Everything else -- control
messages, a chunk that does not decode, a run that fails the fast check, a stream
without a fast type -- goes line by line through :meth:`MessageReader.parse_line`, the
reference path, so every accepted stream and every error is exactly what the per-line
reader gives. The fast checks are never looser than the full ones; anything they reject
is simply re-checked by the reference path. Records of a producer writing spaced JSON
(", " and ": ", detected on a run's first record) are made compact with msgspec's
formatter, which keeps every token's text (numbers stay exact).

Off with ``SLUICE_FAST_PATH=0`` or ``"fast_path": false`` in the config (tests compare both).
"""

from __future__ import annotations

import datetime
import os
import re
from collections.abc import Callable, Iterator, Mapping
from itertools import groupby
from operator import attrgetter, itemgetter
from typing import IO, Any

import msgspec

from protocol.messages import Message
from protocol.reader import MessageReader

__all__ = ["CHUNK_BYTES", "BatchReader", "RawRun", "compile_record_type", "fast_path_enabled"]

CHUNK_BYTES = 1 << 16

_NOTHING = msgspec.Raw(b"")


class Envelope(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """One Singer line's envelope. Unknown fields fail the decode (the chunk goes line by line).

    Only ``record`` is left raw: every other value is parsed (and thereby syntax- and
    range-checked) even though control lines are parsed again by the reference path.
    """

    type: str
    stream: str | None = None
    record: msgspec.Raw = _NOTHING
    value: Any = None
    schema: Any = None
    key_properties: Any = None
    bookmark_properties: Any = None
    version: Any = None
    time_extracted: Any = None
    encoding: Any = None
    manifest: Any = None


class RawRun:
    """Consecutive validated RECORDs of one stream, as the exact bytes received.

    ``records`` holds the ``count`` "record" values joined by b"\\n" (no newline at the end);
    the first one was read from line ``first_line``.

    ``values`` holds the decoded records (instances of the stream's
    :func:`compile_record_type`, in order) and ``version`` the "version" of the RECORD
    messages (one run never mixes versions).
    """

    __slots__ = ("count", "first_line", "records", "stream", "values", "version")

    def __init__(self, stream: str, records: bytes | memoryview, count: int, first_line: int,
                 values: list[Any] | None = None, version: int | None = None) -> None:
        self.stream = stream
        self.records = records
        self.count = count
        self.first_line = first_line
        self.values: list[Any] = values if values is not None else []
        self.version = version

    def split(self, head: int) -> tuple[RawRun, RawRun]:
        """The first ``head`` records and the rest (0 < head < count)."""
        parts = bytes(self.records).split(b"\n", head)
        values = self.values
        first = RawRun(self.stream, b"\n".join(parts[:head]), head, self.first_line, values[:head], self.version)
        return first, RawRun(self.stream, parts[head], self.count - head, self.first_line + head, values[head:],
                             self.version)


def fast_path_enabled(config: Mapping[str, Any]) -> bool:
    """Off with ``SLUICE_FAST_PATH=0`` in the environment or ``"fast_path": false`` in the config."""
    return os.environ.get("SLUICE_FAST_PATH", "1") != "0" and config.get("fast_path", True) is not False


# -- schema -> msgspec type ----------------------------------------------------------------

_IGNORED = frozenset(
    {"description", "title", "default", "examples", "$comment", "$schema", "inclusion",
     "selected", "selected-by-default", "additionalProperties"}
)
# additionalProperties is safe to ignore: every compiled object forbids unknown fields,
# which is at least as strict as anything additionalProperties allows.
_KNOWN = _IGNORED | {"type", "properties", "required", "items", "format"}
# "number" is int | float, not float alone (which accepts the same JSON): an integer stays an
# int, so a sink writing the decoded values writes 5 as 5, not 5.0.
_SCALARS: dict[str, tuple[Any, ...]] = {"integer": (int,), "number": (int, float), "boolean": (bool,)}
_FORMATS: dict[str, Any] = {"date-time": datetime.datetime, "date": datetime.date}


class _NoFastPath(Exception):
    pass


def compile_record_type(schema: Mapping[str, Any], key_properties: list[str] | tuple[str, ...] = ()) -> Any:
    """A msgspec type accepting a subset of what ``RecordValidator`` accepts; None if none maps exactly."""
    try:
        return _object_type(schema, "Record", tuple(key_properties), top=True)
    except (_NoFastPath, RecursionError):  # a schema nested too deep for a msgspec type
        return None


def _check_keys(schema: Mapping[str, Any]) -> None:
    for key in schema:
        if key not in _KNOWN and not key.startswith("x-"):
            raise _NoFastPath(key)


def _types(schema: Mapping[str, Any]) -> list[str]:
    raw = schema.get("type")
    types = [raw] if isinstance(raw, str) else raw
    if not isinstance(types, list) or not types or not all(isinstance(t, str) for t in types):
        raise _NoFastPath("type")
    if len(set(types)) != len(types):
        raise _NoFastPath("type")
    return types


def _object_type(schema: Mapping[str, Any], name: str, keys: tuple[str, ...], *, top: bool = False) -> Any:
    _check_keys(schema)
    if top and "type" not in schema:
        types = ["object"]
    else:
        types = _types(schema)
    if top and not set(types) <= {"object", "null"}:
        raise _NoFastPath("type")
    props = schema.get("properties")
    required = schema.get("required", [])
    if not isinstance(props, dict) or not isinstance(required, list):
        raise _NoFastPath("properties")
    if not all(isinstance(r, str) for r in required):
        raise _NoFastPath("required")
    needed = set(required) | set(keys)
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    rename: dict[str, str] = {}
    for i, prop in enumerate([*props, *sorted(needed - set(props))]):
        attr = f"f{i}"
        rename[attr] = prop
        sub = props.get(prop, {})
        if not isinstance(sub, dict):
            raise _NoFastPath(prop)
        kind = _value_type(sub, f"{name}_{i}")
        # an absent optional field decodes as None, like a null (the decoded values are rows)
        fields.append((attr, kind) if prop in needed else (attr, kind, None))
    try:
        return msgspec.defstruct(
            name, fields, kw_only=True, forbid_unknown_fields=True, rename=rename, gc=False
        )
    except (TypeError, ValueError) as exc:  # msgspec refuses some names ('"', '\\', control characters)
        raise _NoFastPath("name") from exc


def _value_type(schema: Mapping[str, Any], name: str) -> Any:
    _check_keys(schema)
    if "type" not in schema:
        if set(schema) & {"properties", "required", "items", "format"}:
            raise _NoFastPath("untyped constraint")
        return Any  # annotations only: any JSON value
    types = _types(schema)
    if "format" in schema and (types != ["string"] and sorted(types) != ["null", "string"]):
        raise _NoFastPath("format")  # a format on a non-string or union: keep the reference path
    if "properties" in schema and "object" not in types:
        raise _NoFastPath("properties")
    if "required" in schema and "properties" not in schema:
        raise _NoFastPath("required")
    if "items" in schema and "array" not in types:
        raise _NoFastPath("items")
    parts: list[Any] = []
    for kind in types:
        if kind == "null":
            parts.append(None)
        elif kind in _SCALARS:
            parts += [t for t in _SCALARS[kind] if t not in parts]
        elif kind == "string":
            fmt = schema.get("format")
            if fmt is not None and fmt not in _FORMATS:
                raise _NoFastPath("format")
            parts.append(_FORMATS[fmt] if fmt is not None else str)
        elif kind == "object":
            if "properties" in schema:
                parts.append(_object_type(schema, name, ()))
            else:
                parts.append(dict[str, Any])
        elif kind == "array":
            items = schema.get("items", {})
            if not isinstance(items, dict):
                raise _NoFastPath("items")
            parts.append(list[_value_type(items, name + "_i")])  # type: ignore[misc]
        else:
            raise _NoFastPath(kind)
    result = parts[0]
    for part in parts[1:]:
        result = result | part
    try:
        msgspec.json.Decoder(result)  # msgspec refuses some unions (two object types, ...)
    except TypeError as exc:
        raise _NoFastPath("union") from exc
    return result


# -- the chunked reader --------------------------------------------------------------------

_LINES = msgspec.json.Decoder(list[Envelope])
_WRAPPED = msgspec.json.Decoder(list[tuple[Envelope]])
_OBJECTS = re.compile(rb"\}[ \t\r]*,[ \t\r]*\{")
_ARRAYS = re.compile(rb"\][ \t\r]*,[ \t\r]*\[")
# A record written with blanks between tokens (json.dumps' default ", " and ": "): such a
# producer's records are reformatted compact (token text, numbers included, unchanged).
_SPACED = re.compile(rb'[,:\[{] |\s[,:\]}]')
_format = msgspec.json.format
_FIRST = itemgetter(0)
_TYPE = attrgetter("type")
_STREAM = attrgetter("stream")
_RECORD = attrgetter("record")
_VERSION = attrgetter("version")


class BatchReader:
    """Iterate typed messages and :class:`RawRun` batches from a binary stream of Singer lines.

    ``accepts(stream)`` says whether the stream's records may be handed over as raw bytes
    (its sink opts in). Shares ``reader``'s schema/validator state and line numbers.
    """

    def __init__(
        self,
        reader: MessageReader,
        source: IO[bytes],
        accepts: Callable[[str], bool],
        chunk_bytes: int = CHUNK_BYTES,
    ) -> None:
        self._reader = reader
        self._source = source
        self._accepts = accepts
        self._chunk = chunk_bytes
        self._decoders: dict[str, tuple[Any, Any, Any]] = {}

    def __iter__(self) -> Iterator[Message | RawRun]:
        # read1: what is available now (a pipe from a slow tap does not stall a whole chunk)
        read = getattr(self._source, "read1", self._source.read)
        limit = self._reader.max_line_bytes
        carry: list[bytes] = []  # the start of a line longer than one read: joined once
        carried = 0
        while True:
            data = read(self._chunk)
            if not data:
                if carry:
                    yield from self._one_by_one([b"".join(carry)])  # the last line has no newline
                break
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                carry.append(data)
                carried += len(data)
                if carried > limit + 1:
                    yield from self._one_by_one([b"".join(carry)])  # raises: line too long
                continue
            if carry:
                carry.append(data)
                cut += carried
                data = b"".join(carry)
            yield from self._block(data, 0, cut)
            tail = data[cut:]
            carry = [tail] if tail else []
            carried = len(tail)

    def _block(self, data: bytes, start: int, cut: int) -> Iterator[Message | RawRun]:
        """The complete lines data[start:cut] (cut is just after a newline; start is 0 or
        just after a newline)."""
        envelopes = None
        if cut - start <= self._reader.max_line_bytes and _utf8(data, start, cut):
            envelopes = self._envelopes(data, start, cut)
        if envelopes is None:
            yield from self._one_by_one(_split(data, start, cut))
        else:
            yield from self._fast(envelopes, data, start, cut)

    @staticmethod
    def _envelopes(data: bytes, start: int, cut: int) -> list[Envelope] | None:
        """Every line's envelope, in one call; None if any line is not exactly one envelope.

        The lines are decoded as ``[line1,line2,...]`` when no line holds "}" "," "{" (with
        optional blanks), which alone could make one line hold two objects; otherwise as
        ``[[line1],[line2],...]``, where only a line holding "]" "," "[" could make a
        sub-array straddle lines (such a chunk goes line by line). With that text absent,
        every top-level separator is one of ours: each element is exactly one line.
        """
        if data.find(b"}", start, cut) >= 0 and _OBJECTS.search(data, start, cut) is not None:
            if data.find(b"]", start, cut) >= 0 and _ARRAYS.search(data, start, cut) is not None:
                return None
            decoder: msgspec.json.Decoder[Any] = _WRAPPED
            separator, opening, closing = b"],[", b"[[", b"]]"
        else:
            separator, opening, closing, decoder = b" ,", b"[", b"]", _LINES
        joined = data.replace(b"\n", separator)
        grow = len(separator) - 1
        newlines = (len(joined) - len(data)) // grow  # none after cut - 1, the last one
        before = data.count(b"\n", 0, start) if start else 0  # newlines before start
        try:
            decoded = decoder.decode(b"".join((
                opening, memoryview(joined)[start + grow * before:cut - 1 + grow * (newlines - 1)], closing
            )))
        except (msgspec.DecodeError, RecursionError):  # msgspec recurses: a deep line goes line by line
            return None
        if len(decoded) != newlines - before:
            return None
        return decoded if decoder is _LINES else list(map(_FIRST, decoded))  # type: ignore[no-any-return]

    def _one_by_one(self, lines: list[bytes]) -> Iterator[Message]:
        reader = self._reader
        parse = reader.parse_line
        n = reader.line_number
        for line in lines:
            n += 1
            reader.line_number = n
            msg = parse(line, n)
            if msg is not None:
                yield msg

    def _fast(self, envelopes: list[Envelope], data: bytes, start: int, cut: int) -> Iterator[Message | RawRun]:
        reader = self._reader
        lines: list[bytes] | None = None
        i = 0
        for kind, stream, version, size in _runs(envelopes):
            j = i + size
            decoder = self._decoder(stream) if kind == "RECORD" and stream is not None else None
            if decoder is not None and stream is not None and (version is None or version.__class__ is int):
                joined = b"\n".join(map(_RECORD, envelopes[i:j]))
                try:
                    values = decoder.decode_lines(joined)
                    ok = len(values) == j - i
                    if ok and _SPACED.search(bytes(envelopes[i].record)) is not None:
                        # a producer writing spaced JSON: written compact, token text unchanged
                        joined = b"\n".join([_format(raw, indent=-1) for raw in map(_RECORD, envelopes[i:j])])
                except (msgspec.DecodeError, RecursionError):  # deep records: the reference path decides
                    ok = False
                if ok:
                    first = reader.line_number + 1
                    reader.line_number += j - i
                    yield RawRun(stream, joined, j - i, first, values, version)
                    i = j
                    continue
            if lines is None or len(lines) < j:
                lines = _split(data, start, cut, j)
            yield from self._one_by_one(lines[i:j])
            i = j

    def _decoder(self, stream: str) -> msgspec.json.Decoder[Any] | None:
        """The stream's record decoder, if the stream has a fast path (schema, type, sink)."""
        reader = self._reader
        message = reader.schemas.get(stream)
        if message is None or not reader.validate_records or not self._accepts(stream):
            return None
        cached = self._decoders.get(stream)
        # the reader hands the same schema object for a SCHEMA sent again: identity is equality
        if cached is not None and cached[0] is message.schema and cached[1] == message.key_properties:
            return cached[2]  # type: ignore[no-any-return]
        kind = compile_record_type(message.schema, message.key_properties)
        decoder = msgspec.json.Decoder(kind) if kind is not None else None
        self._decoders[stream] = (message.schema, message.key_properties, decoder)
        return decoder


def _runs(envelopes: list[Envelope]) -> Iterator[tuple[str, str | None, Any, int]]:
    """(type, stream, version, how many) of each run of consecutive envelopes alike."""
    types = list(map(_TYPE, envelopes))
    streams = list(map(_STREAM, envelopes))
    versions = list(map(_VERSION, envelopes))
    count = len(types)
    if versions.count(None) != count:
        # a version that is not an int (bool included: True == 1) gets a key equal to nothing
        versions = [v if v is None or v.__class__ is int else object() for v in versions]
    if types.count(types[0]) == count and streams.count(streams[0]) == count and (
        versions.count(versions[0]) == count
    ):
        yield types[0], streams[0], versions[0], count  # the usual chunk: records of one stream
        return
    for (kind, stream, version), group in groupby(zip(types, streams, versions, strict=True)):
        yield kind, stream, version, len(list(group))


def _utf8(data: bytes, start: int, cut: int) -> bool:
    """msgspec does not check UTF-8 inside the values it skips; orjson refuses bad UTF-8."""
    if data.isascii():
        return True
    try:
        str(memoryview(data)[start:cut], "utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _split(data: bytes, start: int, cut: int, upto: int = -1) -> list[bytes]:
    """The lines of data[start:cut], newlines kept (cut is just after a newline); at least
    ``upto`` of them, or all."""
    lines = memoryview(data)[start:cut - 1].tobytes().split(b"\n", upto)
    if upto < 0 or len(lines) <= upto:
        return [line + b"\n" for line in lines]
    return [line + b"\n" for line in lines[:upto]]
