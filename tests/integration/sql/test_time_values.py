"""Times of day and date-times as the databases store them: a time's UTC offset is not dropped, and
without record validation no date-time is left to the database to guess at."""

from __future__ import annotations

import os
from datetime import UTC, datetime, time
from typing import Any

import pytest

from tests.conftest import run
from tests.integration.sql.helpers import Dest, error_lines, singer

TIMES = {"type": "SCHEMA", "stream": "t", "key_properties": ["id"], "schema": {"type": "object", "properties": {
    "id": {"type": "integer"}, "t": {"type": ["string", "null"], "format": "time"}}}}
#: as sent -> the UTC time of day a TIME column holds (an oracle written by hand)
OFFSETS = {
    "10:00:00+02:00": time(8), "10:00:00Z": time(10), "10:00:00-07:00": time(17), "10:00:00": time(10),
    "23:30:00.25-02:00": time(1, 30, 0, 250000), "00:15:00+05:30": time(18, 45),
}


def _times(first: int, values: list[str]) -> bytes:
    return singer(TIMES, *({"type": "RECORD", "stream": "t", "record": {"id": first + i, "t": v}}
                           for i, v in enumerate(values)), {"type": "STATE", "value": {"first": first}})


def test_a_time_with_an_offset_keeps_its_instant(dest: Dest) -> None:
    """PostgreSQL and DuckDB store a time with a UTC offset as its UTC time in their TIME column (they
    stored 10:00:00 for 10:00:00+02:00 and 10:00:00-07:00 alike); a time without one as it is. SQLite
    keeps the text as sent. A second run loads into the TIME column the first created."""
    values = list(OFFSETS)
    first = dest.load(_times(0, values[:4]))
    assert first.returncode == 0, first.stderr.decode()
    second = dest.load(_times(4, values[4:]))
    assert second.returncode == 0, second.stderr.decode()
    got = {r["id"]: r["t"] for r in dest.rows("t")}
    if dest.kind == "sqlite":
        assert got == dict(enumerate(values))
        return
    assert dest.columns("t")["t"] in ("time", "time without time zone")
    assert got == {i: OFFSETS[v] for i, v in enumerate(values)}


DATES = {"type": "SCHEMA", "stream": "d", "key_properties": ["id"], "schema": {"type": "object", "properties": {
    "id": {"type": "integer"}, "ts": {"type": ["string", "null"], "format": "date-time"},
    "day": {"type": ["string", "null"], "format": "date"}}}}


def _dates(*pairs: tuple[Any, Any]) -> bytes:
    return singer(DATES, *({"type": "RECORD", "stream": "d", "record": {"id": i, "ts": ts, "day": day}}
                           for i, (ts, day) in enumerate(pairs, 1)), {"type": "STATE", "value": {"n": len(pairs)}})


@pytest.mark.parametrize(("ts", "day", "field"), [
    ("yesterday", "2024-01-02", "ts"), ("epoch", None, "ts"), ("1/2/2024 10:00", None, "ts"), (1704153600, None, "ts"),
    ("2024-01-02T03:04:05Z", "today", "day"), (None, "1/2/2024", "day"),
])
def test_without_validation_a_date_time_the_database_would_guess_at_is_refused(
        dest_factory: Any, ts: Any, day: Any, field: str) -> None:
    """validate_records false: PostgreSQL read "yesterday" as the day before, "epoch" as 1970-01-01 (exit
    0), DuckDB refused naming a line of its CSV file. Both now refuse naming the input line and the
    field, before anything of the batch loads; SQLite stores the text as it is, as it does any value."""
    dest: Dest = dest_factory(validate_records=False)
    result = dest.load(_dates(("2024-01-02T03:04:05+01:00", "2024-01-02"), (ts, day)))
    if dest.kind == "sqlite":
        assert result.returncode == 0, result.stderr.decode()
        assert [(r["ts"], r["day"]) for r in dest.rows("d") if r["id"] == 2] == [(ts, day)]
        return
    assert result.returncode == 1
    (line,) = error_lines(result.stderr)
    what = "an RFC 3339 date-time" if field == "ts" else "an RFC 3339 date (YYYY-MM-DD)"
    assert f"line 3, stream 'd', field '{field}': {ts if field == 'ts' else day!r} is not {what}" in line, line
    assert "d" not in dest.tables() or dest.rows("d") == []


def test_without_validation_rfc3339_and_the_databases_own_values_load(dest_factory: Any) -> None:
    """What the check lets through: RFC 3339 (a lower-case "t" and "z", a blank separator) and the values
    tap-postgres sends for what RFC 3339 cannot hold (±infinity, years past 9999, BC), which the
    databases read as they are."""
    dest: Dest = dest_factory(validate_records=False)
    pairs = [("2024-01-02t03:04:05z", "2024-01-02"), ("2024-01-02 03:04:05.5+01:00", None)]
    if dest.kind == "postgres":
        pairs += [("infinity", "-infinity"), ("10000-01-01T00:00:00+00:00", "0044-03-15 BC")]
    result = dest.load(_dates(*pairs))
    assert result.returncode == 0, result.stderr.decode()
    table = "d" if dest.kind == "sqlite" else f'"{dest.schema}".d'
    assert dest.sql(f"SELECT count(*) FROM {table}") == [(len(pairs),)]


ZONED = {**os.environ, "TZ": "America/New_York", "PGTZ": "America/New_York", "PGDATESTYLE": "SQL, DMY"}
WIDER = {"type": "SCHEMA", "stream": "d", "key_properties": ["id"], "schema": {"type": "object", "properties": {
    "id": {"type": "integer"}, "ts": {"type": ["string", "null"]}, "day": {"type": ["string", "null"]}}}}


def test_the_environments_time_zone_and_date_style_change_nothing(dest: Dest) -> None:
    """A date-time without an offset is UTC on every host: DuckDB took the machine's zone (TZ) and
    PostgreSQL the PGTZ zone, which libpq sends after the target's own TimeZone option (05:00 UTC
    was stored for 00:00). A date-time or date column widened to text reads the same whatever
    PGDATESTYLE says (it was "04/03/2024 10:00:00 UTC" under SQL, DMY)."""
    first = run([dest.exe, "--config", str(dest.config_path)], env=ZONED,
                input=_dates(("2024-01-01T00:00:00", "2024-03-04"), ("2024-03-04T10:00:00Z", "2024-03-04")))
    assert first.returncode == 0, first.stderr.decode()
    stored = [r["ts"] for r in sorted(dest.rows("d"), key=lambda r: r["id"])]
    if dest.kind == "sqlite":  # the text as sent
        assert stored == ["2024-01-01T00:00:00", "2024-03-04T10:00:00Z"]
        return
    assert stored == [datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 3, 4, 10, tzinfo=UTC)]
    if dest.kind == "duckdb":
        return
    wider = singer(WIDER, {"type": "RECORD", "stream": "d", "record": {"id": 3, "ts": "x", "day": "y"}},
                   {"type": "STATE", "value": {}})
    second = run([dest.exe, "--config", str(dest.config_path)], env=ZONED, input=wider)
    assert second.returncode == 0, second.stderr.decode()
    rows = {r["id"]: (r["ts"], r["day"]) for r in dest.rows("d")}
    assert rows == {1: ("2024-01-01T00:00:00+00:00", "2024-03-04"), 2: ("2024-03-04T10:00:00+00:00", "2024-03-04"),
                    3: ("x", "y")}


BEYOND = {"type": "SCHEMA", "stream": "bc", "key_properties": ["id"], "schema": {"type": "object", "properties": {
    "id": {"type": "integer"},
    # as tap-postgres declares a timestamptz and a date column: RFC 3339, or PostgreSQL's text of the rest
    "ts": {"anyOf": [{"type": "string", "format": "date-time"},
                     {"type": "string", "pattern": r"^(-?infinity|\d{5,}-\d\d-\d\dT\S+|\d{4}-\d\d-\d\dT\S+ BC)$"},
                     {"type": "null"}]},
    "d": {"anyOf": [{"type": "string", "format": "date"},
                    {"type": "string", "pattern": r"^(-?infinity|\d{5,}-\d\d-\d\d|\d{4}-\d\d-\d\d BC)$"},
                    {"type": "null"}]}}}}


@pytest.mark.parametrize("fast", [True, False], ids=["fast path", "reference path"])
def test_dates_before_year_one_keep_their_era(dest_factory: Any, fast: bool) -> None:
    """tap-postgres sends PostgreSQL's text of a BC date ("0044-03-15 BC"): DuckDB stored 44 AD
    without a word (its CSV reader stops at the blank), and refused the BC date-time."""
    dest = dest_factory(fast_path=fast)
    done = dest.load(singer(BEYOND, *({"type": "RECORD", "stream": "bc", "record": r} for r in (
        {"id": 1, "ts": "0044-03-15T12:00:00+00:00 BC", "d": "0044-03-15 BC"},
        {"id": 2, "ts": "2024-01-02T03:04:05z", "d": "2024-01-02"})), {"type": "STATE", "value": {}}))
    assert done.returncode == 0, done.stderr.decode()
    if dest.kind == "sqlite":
        return  # text as sent
    era = {"postgres": "SELECT id, to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS BC'), "
                       "to_char(d, 'YYYY-MM-DD BC') FROM bc",
           "duckdb": "SELECT id, CAST(ts AS VARCHAR), CAST(d AS VARCHAR) FROM bc"}[dest.kind]
    want = {"postgres": [(1, "0044-03-15 12:00:00 BC", "0044-03-15 BC"),
                         (2, "2024-01-02 03:04:05 AD", "2024-01-02 AD")],
            "duckdb": [(1, "0044-03-15 (BC) 12:00:00+00", "0044-03-15 (BC)"),
                       (2, "2024-01-02 03:04:05+00", "2024-01-02")]}
    assert sorted(dest.sql(era)) == want[dest.kind]


@pytest.mark.parametrize("target_kind", ["postgres"])
@pytest.mark.parametrize("keys", [["id"], []], ids=["upserted", "appended"])
def test_an_adopted_timestamp_without_time_zone_column_holds_utc(dest_factory: Any, keys: list[str]) -> None:
    """A table made by another loader (MeltanoLabs target-postgres makes `timestamp without time zone`
    columns): a COPY into such a column ignores the text's offset, so 10:00+02:00 and 10:00-07:00 were
    both stored as 10:00. They are stored as their UTC wall-clock times, 08:00 and 17:00."""
    dest = dest_factory(adopt_existing_tables=True)
    dest.execute(f"CREATE TABLE d (id BIGINT {'PRIMARY KEY' if keys else ''}, ts TIMESTAMP WITHOUT TIME ZONE, "
                 "day DATE)")
    schema = {**DATES, "key_properties": keys}
    for first in (1, 3):  # the second run meets the keys of the first: the merge path
        done = dest.load(singer(schema, *({"type": "RECORD", "stream": "d", "record": {"id": i, "ts": ts, "day": None}}
                                          for i, ts in ((first, "2024-01-01T10:00:00+02:00"),
                                                        (first + 1, "2024-01-01T10:00:00-07:00"))),
                                {"type": "STATE", "value": {"n": first}}))
        assert done.returncode == 0, done.stderr.decode()
    rows = sorted(dest.sql("SELECT id, to_char(ts, 'HH24:MI') FROM d"))
    assert rows == [(1, "08:00"), (2, "17:00"), (3, "08:00"), (4, "17:00")]
    assert dest.columns("d")["ts"] == "timestamp without time zone"  # adopted: its type is the user's
