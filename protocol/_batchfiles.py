"""The records of a BATCH message, read from the files its manifest lists (JSON lines, or gzip)."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from protocol._errors import ProtocolError
from protocol._jsoncodec import JSONDecodeError, loads
from protocol._messages import BatchMessage

__all__ = ["batch_records"]


def batch_records(msg: BatchMessage, validator: Callable[[dict[str, Any], int], Any] | None,
                  *, decimals: bool = False) -> Iterator[dict[str, Any]]:
    """Every record of the BATCH's files in order, each checked by ``validator`` (when given)
    with the BATCH's line number. A bad format, file or line is a :class:`ProtocolError`.
    ``decimals``: every decimal as a Decimal of its text (protocol/_exactdecode.py)."""
    decode: Callable[[bytes], Any] = loads
    if decimals:
        from protocol._exactdecode import loads_decimals
        decode = loads_decimals
    compression = (msg.encoding.get("compression") or "none").lower()
    fmt = (msg.encoding.get("format") or "jsonl").lower()
    if fmt != "jsonl":
        raise ProtocolError(f"BATCH format {fmt!r} is not supported", line=msg.line, stream=msg.stream,
                            field="encoding")
    for uri in msg.manifest:
        path = Path(unquote(urlparse(uri).path)) if uri.startswith("file:") else Path(uri)
        try:
            opener = gzip.open if compression == "gzip" else open
            with opener(path, "rb") as fh:  # type: ignore[operator]
                for i, raw in enumerate(fh, 1):
                    if not raw.strip():
                        continue
                    try:
                        record = decode(raw)
                    except JSONDecodeError as exc:
                        raise ProtocolError(f"BATCH file {path} line {i}: malformed JSON: {exc}",
                                            line=msg.line, stream=msg.stream) from None
                    if validator is not None:
                        validator(record, msg.line)
                    yield record
        except OSError as exc:
            raise ProtocolError(f"BATCH file {path} cannot be read: {exc.strerror}", line=msg.line,
                                stream=msg.stream) from exc
