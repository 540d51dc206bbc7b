"""File names from stream names and run timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from protocol import ConfigError

__all__ = ["run_time", "safe_name"]

_UNSAFE = str.maketrans({"/": "_", "\\": "_", "\x00": "_"})


def safe_name(stream: str) -> str:
    """A stream name usable as one path component: separators and NUL become '_'.

    Everything else is kept (``test:SpecialChars!in?attributes`` stays as it is), so a
    file is found by its stream name.
    """
    name = stream.translate(_UNSAFE)
    return "_" + name if name in ("", ".", "..") else name


def run_time(timezone: str | None = None) -> datetime:
    """The run's timestamp, taken once: every file of a run carries the same one."""
    if not timezone:
        return datetime.now()
    if timezone.upper() == "UTC":
        return datetime.now(UTC)
    try:
        zone: tzinfo = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError("invalid config", [f"setting 'timestamp_timezone': unknown time zone {timezone!r}"]) from exc
    return datetime.now(zone)
