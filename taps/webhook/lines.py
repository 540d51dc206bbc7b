"""The parts of each RECORD line before its body, assembled from the spool's raw columns.

A record is ``{"delivery_id":ID,"event_type":TYPE,"headers":HEADERS,"received_at":"STAMP.123456Z",
"body":BODY}``, byte for byte what the database's own JSON functions write (:meth:`SpoolReader.heads`).
A batch's parts are built a column at a time, without a Python call per row, from what is copied as it
is stored and what the database writes once per value:

- the id is copied between quotes when it is ASCII without control characters, ``"`` or ``\\``: that
  is how SQLite's ``json_quote`` and PostgreSQL's ``to_json`` write such text;
- the event type is quoted by the database, once per type;
- the headers are copied when the backend reads them as the record has them (PostgreSQL: jsonb's text),
  or when they are JSON with no whitespace (what the receiver stores): SQLite's ``json()`` writes such
  text unchanged. Other headers are written by the database, once per distinct value;
- the time: the database rounds it to microseconds; the second is formatted once per second, the
  microseconds with ``%06d``, both as the database's integer arithmetic gives them for times >= 1970.

A batch where anything else holds (an id to escape, a time before 1970, more than a few distinct
headers to render) takes the database's heads for its rows instead: slower, the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from itertools import repeat
from operator import floordiv, mod

from protocol import SourceError
from taps.webhook.bodies import all_json
from taps.webhook.reader import SpoolReader

__all__ = ["Heads"]

_OPEN = b'{"delivery_id":"'
_TYPE = b'","event_type":'
_HEADERS = b',"headers":'
_AT = b',"received_at":"'
_MICROS = b'.%06dZ","body":\x00'  # formatted for a whole batch at once, then split at the NULs
_STAMP = slice(len(_AT), None)  # a second's stamp without the key before it
_SECOND = 1_000_000
_SPACES = (b" ", b"\t", b"\n", b"\r")  # JSON's whitespace
_KEPT = 100_000  # values remembered (seconds, rendered headers); a run's rows mostly share a few
_RENDERED_PER_BATCH = 64  # distinct headers rendered one query each; past that the batch takes the heads


class Heads:
    """What precedes each body in its line, as columns of parts (a row's parts joined give its record
    up to the body). Remembers what the database wrote once for many rows."""

    def __init__(self, reader: SpoolReader) -> None:
        self._reader = reader
        self._types: dict[str | None, bytes] = {}
        self._headers: dict[bytes, bytes] = {}
        self._stamps: dict[int, bytes] = {}

    def columns(self, seqs: Sequence[int], types: Sequence[str | None], ids: Sequence[bytes],
                micros: Sequence[int], headers: Sequence[bytes]) -> list[Iterable[bytes]]:
        """The parts before each row's body, a column per part."""
        if min(micros) < 0 or not _plain(b"".join(ids)):
            return self._from_database(seqs)
        kept = self._kept_headers(headers)
        if kept is None:
            return self._from_database(seqs)
        seconds = list(map(floordiv, micros, repeat(_SECOND)))
        return [repeat(_OPEN), ids, self._quoted(types), kept, self._at(seconds),
                self._micros(micros)]

    def _from_database(self, seqs: Sequence[int]) -> list[Iterable[bytes]]:
        heads = self._reader.heads(seqs[0], seqs[-1])
        try:
            head, seconds, micros = zip(*map(heads.__getitem__, seqs), strict=True)
        except KeyError as exc:
            raise SourceError(f"spool {self._reader.where}: the delivery at position {exc.args[0]} was deleted "
                              "while it was read (another tap-webhook run pruning the spool?)") from exc
        return [head, map(bytes.__getitem__, self._at(seconds), repeat(_STAMP)), micros]

    @staticmethod
    def _micros(micros: Sequence[int]) -> list[bytes]:
        """Each row's ``.123456Z","body":``, from a time >= 1970 in microseconds."""
        return (_MICROS * len(micros) % tuple(map(mod, micros, repeat(_SECOND)))).split(b"\x00")[:-1]

    def _quoted(self, types: Sequence[str | None]) -> list[bytes]:
        """Each row's ``","event_type":TYPE,"headers":``."""
        parts = list(map(self._types.get, types))
        if None in parts:
            for kind in set(types) - self._types.keys():
                self._types[kind] = _TYPE + self._reader.quote(kind) + _HEADERS
            parts = list(map(self._types.__getitem__, types))
        return parts  # type: ignore[return-value]

    def _kept_headers(self, headers: Sequence[bytes]) -> Sequence[bytes] | None:
        """Each row's headers as its record has them; None when too many would take a query each."""
        if self._reader.headers_rendered:
            return headers
        joined = b"".join(headers)
        if not any(space in joined for space in _SPACES) and all_json(headers):
            return headers
        parts = list(map(self._headers.get, headers))
        if None in parts:
            missing = set(headers) - self._headers.keys()
            if len(missing) > _RENDERED_PER_BATCH:
                return None
            if len(self._headers) > _KEPT:
                self._headers.clear()
            for value in missing:
                self._headers[value] = self._reader.render(value)
            parts = list(map(self._headers.__getitem__, headers))
        return parts  # type: ignore[return-value]

    def _at(self, seconds: Sequence[int]) -> list[bytes]:
        """Each unix second as ``,"received_at":"YYYY-MM-DDTHH:MM:SS`` (UTC), formatted once per second."""
        stamps = list(map(self._stamps.get, seconds))
        if None in stamps:
            if len(self._stamps) > _KEPT:
                self._stamps.clear()
            for second in set(seconds) - self._stamps.keys():
                stamp = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
                self._stamps[second] = _AT + stamp.encode()
            stamps = list(map(self._stamps.__getitem__, seconds))
        return stamps  # type: ignore[return-value]


def _plain(ids: bytes) -> bool:
    """ASCII with no control character, quote or backslash: text both databases quote as it is (the
    scan of it as one JSON string refuses control characters)."""
    if not ids.isascii() or b'"' in ids or b"\\" in ids:
        return False
    return all_json([b'"' + ids + b'"'])
