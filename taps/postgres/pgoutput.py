"""Decoding of pgoutput messages (logical replication protocol version 1).

Only what a tap needs: Begin (commit LSN and time), Commit (end LSN), Relation (the
columns), Insert, Update, Delete and Truncate. Column values stay in their text form
(``None`` for NULL, :data:`UNCHANGED` for an unchanged TOASTed value); values.py
converts them. See the PostgreSQL manual, "Logical Replication Message Formats".
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from protocol import FatalSourceError

__all__ = ["UNCHANGED", "Begin", "Change", "Commit", "Relation", "Truncate", "decode", "lsn_from_text", "lsn_to_text"]

UNCHANGED = object()
_EPOCH_2000 = datetime(2000, 1, 1, tzinfo=UTC)
_I16, _I32, _I64, _Q = struct.Struct(">h"), struct.Struct(">i"), struct.Struct(">q"), struct.Struct(">Q")


@dataclass(slots=True)
class Begin:
    commit_lsn: int  # the commit record's LSN
    committed_at: str


@dataclass(slots=True)
class Commit:
    end_lsn: int  # just past the commit record


@dataclass(slots=True)
class Relation:
    """A table's columns as they were when the changes that follow were logged (names, type oids):
    its current definition may differ since (binding.py)."""

    relid: int
    schema: str
    name: str
    columns: list[str]
    type_oids: list[int] = field(default_factory=list)


@dataclass(slots=True)
class Change:
    action: str  # "I", "U" or "D"
    relid: int
    old: list[Any] | None  # the old key (or old row) of an update that changed it, or of a delete
    new: list[Any] | None
    #: old is the whole old row ('O': REPLICA IDENTITY FULL); otherwise only its identity columns ('K')
    #: hold values, the others are NULL whatever the row held
    old_full: bool = False


@dataclass(slots=True)
class Truncate:
    relids: list[int]


def lsn_from_text(text: str) -> int:
    high, low = text.split("/")
    return (int(high, 16) << 32) | int(low, 16)


def lsn_to_text(lsn: int) -> str:
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def _cstring(data: bytes, pos: int) -> tuple[str, int]:
    end = data.index(b"\0", pos)
    return data[pos:end].decode("utf-8"), end + 1


def _tuple(data: bytes, pos: int) -> tuple[list[Any], int]:
    (count,) = _I16.unpack_from(data, pos)
    pos += 2
    values: list[Any] = []
    for _ in range(count):
        kind = data[pos]
        pos += 1
        if kind == 0x74:  # 't': text
            (size,) = _I32.unpack_from(data, pos)
            pos += 4
            values.append(data[pos:pos + size].decode("utf-8"))
            pos += size
        elif kind == 0x6E:  # 'n': null
            values.append(None)
        elif kind == 0x75:  # 'u': unchanged TOAST value
            values.append(UNCHANGED)
        else:
            raise FatalSourceError(f"pgoutput: unexpected tuple column kind {chr(kind)!r}")
    return values, pos


def decode(data: bytes) -> Begin | Commit | Relation | Change | Truncate | None:
    """One pgoutput message; None for the kinds a tap ignores (types, origins, messages)."""
    tag = data[0]
    if tag == 0x42:  # B
        commit_lsn = _Q.unpack_from(data, 1)[0]
        micros = _I64.unpack_from(data, 9)[0]
        return Begin(commit_lsn, (_EPOCH_2000 + timedelta(microseconds=micros)).isoformat())
    if tag == 0x43:  # C
        return Commit(_Q.unpack_from(data, 10)[0])
    if tag in (0x49, 0x55, 0x44):  # I U D
        relid = _I32.unpack_from(data, 1)[0]
        pos = 5
        old = new = None
        old_full = data[pos] == 0x4F  # O: the whole old row; K: its identity columns only
        if data[pos] in (0x4B, 0x4F):  # K or O
            old, pos = _tuple(data, pos + 1)
        if pos < len(data) and data[pos] == 0x4E:  # N
            new, pos = _tuple(data, pos + 1)
        return Change(chr(tag), relid, old, new, old_full and old is not None)
    if tag == 0x52:  # R
        relid = _I32.unpack_from(data, 1)[0]
        schema, pos = _cstring(data, 5)
        name, pos = _cstring(data, pos)
        pos += 1  # replica identity
        (count,) = _I16.unpack_from(data, pos)
        pos += 2
        columns, oids = [], []
        for _ in range(count):
            column, pos = _cstring(data, pos + 1)  # after the flags byte
            columns.append(column)
            oids.append(_I32.unpack_from(data, pos)[0] & 0xFFFFFFFF)  # an oid is unsigned
            pos += 8  # type oid, type modifier
        return Relation(relid, schema, name, columns, oids)
    if tag == 0x54:  # T
        (count,) = _I32.unpack_from(data, 1)
        return Truncate([_I32.unpack_from(data, 6 + 4 * i)[0] for i in range(count)])
    return None
