"""targets/postgres/limits.py: a date-time PostgreSQL refuses (UTC offset past ±15:59) as the same instant in UTC,
and the JSON object keys that collide once NUL is removed. The oracle of the instants is Python's own reading of
the text (``datetime.fromisoformat`` takes offsets up to ±23:59)."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta

import pytest

from targets.postgres.limits import colliding_keys, utc_date_time

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CYCLE = timedelta(days=146097)  # 400 Gregorian years
OUT = re.compile(r"(\d{4,5})-(\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)Z( BC)?")


def _since_epoch(written: str) -> timedelta:
    """The instant of what utc_date_time wrote (a UTC date-time, its year maybe 10000 or BC)."""
    found = OUT.fullmatch(written)
    assert found is not None, written
    year = int(found[1]) if found[3] is None else 1 - int(found[1])  # 1 BC is year 0
    cycles = 1 if year < 5000 else -1  # moved into datetime's years by 400 years
    moved = datetime.fromisoformat(f"{year + 400 * cycles:04d}-{found[2]}+00:00")
    return moved - EPOCH - CYCLE * cycles


def _sent(rng: random.Random) -> str:
    day = datetime(1, 1, 1) + timedelta(days=rng.randrange(3_652_059), seconds=rng.randrange(86400))
    fraction = rng.choice(["", ".5", ".123456", ".1234567891"])
    hours, minutes = rng.randrange(16, 24), rng.randrange(60)
    return f"{day.isoformat()}{fraction}{rng.choice('+-')}{hours:02d}:{minutes:02d}"


def test_an_offset_postgresql_refuses_becomes_the_same_instant_in_utc() -> None:
    rng = random.Random(25)
    edges = ["0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59.999999-23:59", "2024-02-29T00:00:00+16:00",
             "2023-02-28T23:00:00-16:00", "2000-01-01T00:00:00.5-23:59"]
    for sent in edges + [_sent(rng) for _ in range(2000)]:
        written = utc_date_time(sent)
        fraction = re.fullmatch(r".{19}(\.\d+)?[+-]\d\d:\d\d", sent)
        assert fraction is not None
        assert written.endswith(((fraction[1] or "") + "Z", (fraction[1] or "") + "Z BC")), (sent, written)
        assert _since_epoch(written) == datetime.fromisoformat(sent) - EPOCH, (sent, written)


@pytest.mark.parametrize("value", [
    "2024-01-01T00:00:00Z", "2024-01-01T00:00:00.5z", "2024-01-01T00:00:00+15:59", "2024-01-01T00:00:00-15:59",
    "2024-01-01T00:00:00+05:30", "2024-01-01T00:00:00-10:00", "infinity", "2024-01-01 10:00:00 BC", "", "+16:00",
    "2024-02-30T00:00:00+16:00",  # no such day: the database names it
])
def test_other_values_stay_as_written(value: str) -> None:
    assert utc_date_time(value) == value


def test_object_keys_that_collide_without_nul_are_found_at_any_depth() -> None:
    assert colliding_keys({"k": 1, "k\x00": 2}) == ("k", "k\x00")
    assert colliding_keys({"a": [{"x": 1}, {"b": {"\x00q": 1, "q\x00\x00": 2}}]}) == ("\x00q", "q\x00\x00")
    assert colliding_keys({"a\x00b": 1, "ab\x00c": 2, "v": "k\x00"}) is None
    deep: dict[str, object] = {"k": 1, "k\x00": 2}
    for _ in range(5000):  # deeper than Python's recursion limit
        deep = {"n": [deep]}
    assert colliding_keys(deep) == ("k", "k\x00")
