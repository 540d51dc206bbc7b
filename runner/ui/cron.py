"""When a cron schedule (``schedule:`` of sluice.yml) next fires, for the dashboard's "next due".

Five fields (minute, hour, day of month, month, day of week) with ``*``, ``a-b``, ``/step``,
lists and names (``jan``, ``mon``), or ``@hourly``, ``@daily``/``@midnight``, ``@weekly``,
``@monthly``, ``@yearly``/``@annually``; ``@reboot`` has no next time. As cron does, the day
of month and the day of week are either-or when both are restricted, and times are local.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

__all__ = ["next_due", "schedule_problem"]

_MACROS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@weekly": "0 0 * * 0",
           "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *"}
_MONTHS = {name: i for i, name in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)}
_DAYS = {name: i for i, name in enumerate("sun mon tue wed thu fri sat".split())}
_NONE: dict[str, int] = {}
_FIELDS = ((0, 59, _NONE), (0, 23, _NONE), (1, 31, _NONE), (1, 12, _MONTHS), (0, 7, _DAYS))  # low, high, names
_MAX_STEPS = 20_000  # enough to cross years of non-matching days; a schedule that never fires gives None


def _value(text: str, names: dict[str, int]) -> int:
    return names[text.lower()] if text.lower() in names else int(text)


def _field(text: str, low: int, high: int, names: dict[str, int]) -> tuple[set[int], bool]:
    """The values a field allows, and whether it is restricted (not ``*``)."""
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if body == "*":
            start, end = low, high
        elif "-" in body:
            first, last = body.split("-", 1)
            start, end = _value(first, names), _value(last, names)
        else:
            start = _value(body, names)
            end = high if step_text else start
        if step < 1 or start < low or end > high or start > end:
            raise ValueError(part)
        values.update(range(start, end + 1, step))
    return values, not text.startswith("*")


@functools.lru_cache(maxsize=256)
def _parse(schedule: str) -> tuple[list[int], list[int], set[int], set[int], set[int], bool] | None:
    """Minutes and hours (sorted), days of month, months, days of week (0 is Sunday), and whether the
    two kinds of day are either-or; None for a schedule without a next time or not understood."""
    text = _MACROS.get(schedule.strip().lower(), schedule.strip())
    parts = text.split()
    if len(parts) != 5:
        return None
    try:
        (minutes, _), (hours, _), (mdays, mday_set), (months, _), (wdays, wday_set) = (
            _field(part, low, high, names) for part, (low, high, names) in zip(parts, _FIELDS, strict=True))
    except (ValueError, KeyError):
        return None
    return sorted(minutes), sorted(hours), mdays, months, {d % 7 for d in wdays}, mday_set and wday_set


def schedule_problem(schedule: str) -> str | None:
    """Why cron would not take ``schedule`` as written (a value out of its field's range, an unknown
    name); None when it would. ``@reboot`` is taken (it has no next time)."""
    if schedule.strip().lower() == "@reboot" or _parse(schedule) is not None:
        return None
    return (f"{schedule!r} is not a cron schedule: five fields (minute 0-59, hour 0-23, day 1-31, month 1-12 "
            "or jan-dec, weekday 0-7 or sun-sat) with *, a-b, /step and lists, or @hourly, @daily, @weekly, "
            "@monthly, @yearly, @reboot")


def next_due(schedule: str | None, after: float) -> float | None:
    """The first time (epoch seconds) after ``after`` that ``schedule`` fires; None without one."""
    parsed = _parse(schedule) if schedule else None
    if parsed is None:
        return None
    minutes, hours, mdays, months, wdays, either = parsed

    def day_ok(t: datetime) -> bool:
        by_mday, by_wday = t.day in mdays, (t.weekday() + 1) % 7 in wdays
        return (by_mday or by_wday) if either else (by_mday and by_wday)

    t = datetime.fromtimestamp(after).replace(second=0, microsecond=0) + timedelta(minutes=1)
    for _ in range(_MAX_STEPS):
        if t.month not in months:
            t = (t.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
        elif not day_ok(t):
            t = t.replace(hour=0, minute=0) + timedelta(days=1)
        elif t.hour not in hours:
            later = [h for h in hours if h > t.hour]
            t = t.replace(hour=later[0], minute=0) if later else t.replace(hour=0, minute=0) + timedelta(days=1)
        elif t.minute not in minutes:
            later = [m for m in minutes if m > t.minute]
            t = t.replace(minute=later[0]) if later else t.replace(minute=0) + timedelta(hours=1)
        else:
            return t.timestamp()
    return None
