"""The records of a BATCH message, read from the files its manifest lists (JSON lines, or gzip).

A manifest entry is a ``file:`` URI (``file:///path``, ``file://localhost/path``, ``file:/path``)
or a plain path. singer-sdk writes a URI's path as it is, not percent-encoded, so a ``#``, a ``?``
or a ``%41`` in a file's name is part of the name: the path is read as written, and only when no
such file exists, percent-decoded (RFC 8089's form). Another scheme (``s3://``, ``http://``) or a
``file:`` URI naming another host is refused: only local files are read.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from protocol._errors import ProtocolError
from protocol._jsoncodec import JSONDecodeError, loads
from protocol._messages import BatchMessage

__all__ = ["batch_records", "batch_path"]

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_COMPRESSIONS = ("none", "gzip")
# what a truncated or invalid gzip file raises besides OSError
_UNREADABLE = (OSError, EOFError, zlib.error)


def batch_records(msg: BatchMessage, validator: Callable[[dict[str, Any], int], Any] | None,
                  *, decimals: bool = False) -> Iterator[dict[str, Any]]:
    """Every record of the BATCH's files in order, each checked by ``validator`` (when given)
    with the BATCH's line number. A bad format, file or line is a :class:`ProtocolError` naming the
    file and its line. ``decimals``: every decimal as a Decimal of its text (protocol/_exactdecode.py)."""
    decode: Callable[[bytes], Any] = loads
    if decimals:
        from protocol._exactdecode import loads_decimals
        decode = loads_decimals
    compression = str(msg.encoding.get("compression") or "none").lower()
    fmt = str(msg.encoding.get("format") or "jsonl").lower()
    if fmt != "jsonl":
        raise ProtocolError(f"BATCH format {fmt!r} is not supported", line=msg.line, stream=msg.stream,
                            field="encoding")
    if compression not in _COMPRESSIONS:
        raise ProtocolError(f"BATCH compression {compression!r} is not supported (none, gzip)", line=msg.line,
                            stream=msg.stream, field="encoding")
    for uri in msg.manifest:
        path = batch_path(uri, msg)
        try:
            opener = gzip.open if compression == "gzip" else open
            with opener(path, "rb") as fh:  # type: ignore[operator]
                for i, raw in enumerate(fh, 1):
                    if raw.strip():
                        yield _record(raw, decode, validator, msg, f"BATCH file {path} line {i}")
        except _UNREADABLE as exc:
            why = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise ProtocolError(f"BATCH file {path} cannot be read: {why}", line=msg.line,
                                stream=msg.stream) from exc


def _record(raw: bytes, decode: Callable[[bytes], Any], validator: Callable[[dict[str, Any], int], Any] | None,
            msg: BatchMessage, where: str) -> Any:
    try:
        record = decode(raw)
    except JSONDecodeError as exc:
        raise ProtocolError(f"{where}: malformed JSON: {exc}", line=msg.line, stream=msg.stream) from None
    if validator is not None:
        try:
            validator(record, msg.line)
        except ProtocolError as exc:  # the BATCH's line alone would not say which record
            raise ProtocolError(f"{where}: {exc.detail}", line=exc.line, stream=exc.stream,
                                field=exc.field) from None
    return record


def batch_path(uri: str, msg: BatchMessage) -> Path:
    """The local file a manifest entry names; a :class:`ProtocolError` for what is not one."""
    if uri.lower().startswith("file:"):
        rest = uri[5:]
        if rest.startswith("//"):
            host, _, path = rest[2:].partition("/")
            if host.lower() not in ("", "localhost"):
                raise ProtocolError(f"BATCH manifest entry {uri!r} names the host {host!r}: only local files are "
                                    "read", line=msg.line, stream=msg.stream, field="manifest")
            rest = "/" + path
        literal = Path(rest)
        decoded = Path(unquote(rest))
        return decoded if decoded != literal and not literal.exists() and decoded.exists() else literal
    if _SCHEME.match(uri):
        raise ProtocolError(f"BATCH manifest entry {uri!r}: only local files (file:// URIs or paths) are read",
                            line=msg.line, stream=msg.stream, field="manifest")
    return Path(uri)
