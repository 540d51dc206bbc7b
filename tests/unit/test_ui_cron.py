"""The dashboard's "next due" of a cron schedule, against a brute-force oracle that tries every minute."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from runner.ui.cron import next_due

_MONTH_NAMES = "jan feb mar apr may jun jul aug sep oct nov dec".split()


def _matcher(expr: str) -> Callable[[datetime], bool]:
    """An independent reading of the five fields: each allowed value listed by hand."""
    minute, hour, mday, month, wday = expr.split()

    def allowed(text: str, low: int, high: int) -> set[int]:
        out: set[int] = set()
        for part in text.split(","):
            body, _, step = part.partition("/")
            if body == "*":
                lo, hi = low, high
            elif "-" in body:
                lo, hi = (int(x) for x in body.split("-"))
            else:
                lo = int(body)
                hi = high if step else lo
            out |= {v for v in range(lo, hi + 1) if (v - lo) % int(step or 1) == 0}
        return out

    month = ",".join(str(_MONTH_NAMES.index(p) + 1) if p in _MONTH_NAMES else p for p in month.split(","))
    days, mdays = {d % 7 for d in allowed(wday, 0, 7)}, allowed(mday, 1, 31)
    minutes, hours, months = allowed(minute, 0, 59), allowed(hour, 0, 23), allowed(month, 1, 12)
    either = mday != "*" and wday != "*"

    def matches(t: datetime) -> bool:
        by_mday, by_wday = t.day in mdays, t.isoweekday() % 7 in days
        day = (by_mday or by_wday) if either else (by_mday and by_wday)
        return t.minute in minutes and t.hour in hours and t.month in months and day

    return matches


def _oracle(expr: str, after: datetime, horizon_days: int = 40) -> datetime | None:
    matches = _matcher(expr)
    t = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    for _ in range(horizon_days * 24 * 60):
        if matches(t):
            return t
        t += timedelta(minutes=1)
    return None


def _random_field(rng: random.Random, low: int, high: int) -> str:
    kind = rng.randrange(5)
    if kind == 0:
        return "*"
    if kind == 1:
        return f"*/{rng.randint(2, 7)}"
    if kind == 2:
        a = rng.randint(low, high)
        return f"{a}-{rng.randint(a, high)}"
    if kind == 3:
        return ",".join(str(v) for v in sorted(rng.sample(range(low, high + 1), 2)))
    return str(rng.randint(low, high))


@pytest.mark.parametrize("seed", range(3))
def test_next_due_agrees_with_trying_every_minute(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(12):
        expr = " ".join([_random_field(rng, 0, 59), _random_field(rng, 0, 23), rng.choice(["*", "*", "1-15", "13"]),
                         rng.choice(["*", "*", "1-12/2"]), rng.choice(["*", "1-5", "0,6", "7"])])
        after = datetime(2026, 1, 1) + timedelta(minutes=rng.randrange(60 * 24 * 300))
        want = _oracle(expr, after)
        if want is None:
            continue
        got = next_due(expr, after.timestamp())
        assert got is not None and datetime.fromtimestamp(got) == want, expr


def test_macros_names_and_schedules_without_a_next_time() -> None:
    after = datetime(2026, 3, 4, 10, 30, 15)  # a Wednesday
    assert datetime.fromtimestamp(next_due("@hourly", after.timestamp()) or 0) == datetime(2026, 3, 4, 11, 0)
    assert datetime.fromtimestamp(next_due("@daily", after.timestamp()) or 0) == datetime(2026, 3, 5, 0, 0)
    assert datetime.fromtimestamp(next_due("@weekly", after.timestamp()) or 0) == datetime(2026, 3, 8, 0, 0)
    assert datetime.fromtimestamp(next_due("@monthly", after.timestamp()) or 0) == datetime(2026, 4, 1, 0, 0)
    assert datetime.fromtimestamp(next_due("@yearly", after.timestamp()) or 0) == datetime(2027, 1, 1, 0, 0)
    assert datetime.fromtimestamp(next_due("0 9 * jan,mar mon", after.timestamp()) or 0) == datetime(2026, 3, 9, 9, 0)
    assert next_due("@reboot", after.timestamp()) is None
    assert next_due(None, after.timestamp()) is None
    assert next_due("0 0 30 2 *", after.timestamp()) is None  # February 30th never comes
    assert next_due("61 * * * *", after.timestamp()) is None
