"""tap-webhook's record heads built in Python from the raw columns (taps/webhook/lines.py) against the
oracle: the same heads written by SQLite's JSON functions (``SqliteSpoolReader.heads``, the query the
tap used for every row before), on ids, event types, headers and times varied to reach every branch."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol import SourceError
from taps.webhook.lines import Heads
from taps.webhook.reader import Head, SqliteSpoolReader
from taps.webhook.spool import SCHEMA

_PLAIN_ID = st.from_regex(r"[0-9a-f]{8}-[0-9a-f]{4}-[A-Za-z0-9 ._:~/-]{0,12}", fullmatch=True)
_ANY_ID = st.text(max_size=12)  # quotes, backslashes, control characters, non-ASCII, DEL
_TIMES = st.one_of(st.floats(min_value=1.5e9, max_value=2.1e9), st.floats(min_value=-3e6, max_value=3e6),
                   st.integers(1_764_900_000, 1_764_900_010).map(lambda s: s + 0.9999995),
                   st.integers(1_764_900_000, 1_764_900_010).map(lambda s: s - 1e-7))
_HEADER_MAP = st.dictionaries(st.text(max_size=6), st.text(max_size=8), max_size=3)


@st.composite
def _headers(draw: st.DrawFn) -> str:
    """Headers as a writer may store them: compact (the receiver), spaced (json.dumps), escaped, nested."""
    kept = draw(_HEADER_MAP)
    how = draw(st.sampled_from(["orjson", "json", "ascii", "nested", "pretty"]))
    if how == "orjson":
        return orjson.dumps(kept).decode()
    if how == "json":
        return json.dumps(kept, ensure_ascii=False)
    if how == "ascii":
        return json.dumps(kept, separators=(",", ":"))  # \\uXXXX escapes, no whitespace
    if how == "nested":
        return json.dumps({"h": kept, "n": [1, 2.5e3, -0.0, None, True]}, separators=(",", ":"))
    return json.dumps(kept, indent=1)


_ROW = st.tuples(st.one_of(_PLAIN_ID, _ANY_ID), st.sampled_from(["push", "issues", "Push Hook", "é", None]),
                 _TIMES, _headers())


def _spool(path: Path, rows: list[tuple[str, str | None, float, str]]) -> None:
    with closing(sqlite3.connect(path)) as db:
        db.executescript(SCHEMA)
        db.executemany("INSERT INTO deliveries (source, delivery_id, event_type, received_at, headers, body) "
                       "VALUES ('gh', ?, ?, ?, ?, x'7b7d')",
                       [(f"{i}{delivery}", kind, at, headers) for i, (delivery, kind, at, headers) in enumerate(rows)])
        db.commit()


def _expected(head: Head) -> bytes:
    text, second, tail = head
    return text + datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S").encode() + tail


class _Counting(SqliteSpoolReader):
    """The reader, counting the batches whose heads the database wrote."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.from_database = 0

    def heads(self, first: int, last: int) -> dict[int, Head]:
        self.from_database += 1
        return super().heads(first, last)


def _drain(path: Path, size: int) -> tuple[int, int]:
    """Every batch's built heads compared with SQLite's; (batches, batches SQLite wrote the heads of)."""
    reader = _Counting(str(path))
    heads, batches = Heads(reader), 0
    try:
        for rows in reader.batches(0, reader.horizon(), size):
            seqs, _sources, types, ids, micros, headers, _bodies = zip(*rows, strict=True)
            built = [b"".join(parts) for parts in zip(*heads.columns(seqs, types, ids, micros, headers),
                                                       strict=False)]
            oracle = SqliteSpoolReader.heads(reader, seqs[0], seqs[-1])
            assert built == [_expected(oracle[seq]) for seq in seqs]
            batches += 1
    finally:
        reader.close()
    return batches, reader.from_database


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(_ROW, min_size=1, max_size=24), size=st.integers(1, 9))
def test_built_heads_are_byte_for_byte_what_sqlite_writes(tmp_path_factory: pytest.TempPathFactory,
                                                          rows: list[Any], size: int) -> None:
    path = tmp_path_factory.mktemp("lines") / "spool.db"
    _spool(path, rows)
    _drain(path, size)


def test_plain_batches_are_built_without_the_database_and_odd_ones_by_it(tmp_path: Path) -> None:
    compact = orjson.dumps({"x-github-event": "push", "x-github-hook-id": "292"}).decode()
    plain = [(f"{i:08x}-cc78-11e3", "push", 1_764_900_000 + i / 7, compact) for i in range(20)]
    spaced = [(f"{i:08x}-cc78-11e3", "push", 1_764_900_000 + i / 7, json.dumps({"n": "1"})) for i in range(20)]
    odd = [("a\"b", "push", 1.5e9, compact), ("tab\there", None, 1.5e9, compact), ("é", "push", 1.5e9, compact),
           ("x", "push", -0.25, compact)]
    distinct = [(f"id{i}", "push", 1.5e9, json.dumps({"n": str(i)})) for i in range(70)]  # 70 to render
    for name, rows, size, taken in (("plain", plain, 10, 0), ("spaced", spaced, 10, 0), ("odd", odd, 1, 4),
                                    ("distinct", distinct, 70, 1)):
        path = tmp_path / f"{name}.db"
        _spool(path, rows)
        assert _drain(path, size) == (len(rows) // size, taken), name


def test_headers_sqlite_refuses_fail_the_read_as_before(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    _spool(path, [("a", "push", 1.5e9, '{"a":"b"}'), ("b", "push", 1.5e9, '{"a":')])
    with pytest.raises(SourceError, match="cannot read deliveries"):
        _drain(path, 5)


def test_a_row_deleted_between_the_two_reads_is_named(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    _spool(path, [("a\"b", "push", 1.5e9, "{}"), ("c", "push", 1.5e9, "{}")])
    reader = SqliteSpoolReader(str(path))
    try:
        rows = next(reader.batches(0, reader.horizon(), 5))
        reader.prune(1)  # as a second run would, between the batch and its heads
        seqs, _sources, types, ids, micros, headers, _bodies = zip(*rows, strict=True)
        with pytest.raises(SourceError, match="position 1 was deleted while it was read"):
            Heads(reader).columns(seqs, types, ids, micros, headers)
    finally:
        reader.close()


def test_kinds_come_in_the_order_sqlite_sorts_them(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    kinds = [(s, e) for s in ("gh", "a", "é", "Z", "gh2") for e in (None, "push", "Push", "é", "", "z", "pusH")]
    with closing(sqlite3.connect(path)) as db:
        db.executescript(SCHEMA)
        db.executemany("INSERT INTO deliveries (source, delivery_id, event_type, received_at, headers, body) "
                       "VALUES (?, ?, ?, 0, '{}', x'')", [(s, f"{i}", e) for i, (s, e) in enumerate(kinds * 2)])
        db.commit()
        oracle = db.execute("SELECT DISTINCT source, event_type FROM deliveries ORDER BY source, event_type").fetchall()
    reader = SqliteSpoolReader(str(path))
    try:
        assert reader.kinds() == oracle and len(oracle) == len(kinds)
    finally:
        reader.close()
