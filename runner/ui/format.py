"""How the dashboard writes numbers, durations and times (the Jinja filters, also used by the charts)."""

from __future__ import annotations

import shlex
import time
from typing import Any

from protocol import dumps_pretty

__all__ = ["FILTERS", "count", "pretty_json", "seconds", "utc"]


def count(n: int | float | None) -> str:
    """``1,234``; ``-`` for no value."""
    return "-" if n is None else f"{n:,}"


def seconds(s: float | None) -> str:
    """``0.42 s``, ``12 s``, ``3 min 04 s``, ``2 h 05 min``; ``-`` for no value."""
    if s is None:
        return "-"
    if s < 10:
        return f"{s:.2f} s"
    if s < 60:
        return f"{s:.0f} s"
    whole = round(s)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def utc(ts: float | None) -> str:
    """A store time as ``2026-12-05 03:10:22Z``; ``-`` for none."""
    return "-" if ts is None else time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(ts))


def iso(ts: float | None) -> str:
    """A store time for a ``<time datetime=...>`` attribute."""
    return "" if ts is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def pretty_json(value: Any) -> str:
    """A stored state as indented JSON (escaped by the template like any text)."""
    return dumps_pretty(value, other=str, sort_keys=True)  # numbers exact and as numbers


def rate(r: float | None) -> str:
    """Records per second."""
    return "-" if r is None else f"{r:,.0f}/s" if r >= 10 else f"{r:.1f}/s"


def shell(argv: list[str]) -> str:
    """A command as a shell would take it (its secrets were redacted when it was stored)."""
    return shlex.join(str(a) for a in argv)


FILTERS = {"shell": shell, "count": count, "seconds": seconds, "utc": utc, "iso": iso, "pretty_json": pretty_json,
           "rate": rate}
