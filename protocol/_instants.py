"""Times compared as instants: a bookmark may be any ISO 8601 text of its time.

RFC 3339 allows many texts for one instant (``Z`` or ``+00:00``, an offset, milliseconds or not),
and a bookmark set by hand, or imported from another tap's state, need not be in the API's own
form: compared as text, it sorts wrongly and drops records (tap-gitlab, tap-github and tap-jira
did). The taps parse both sides with :func:`utc_instant`; a saved value that is no time stops the
run (:func:`saved_instant`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from protocol._errors import ConfigError

__all__ = ["saved_instant", "utc_instant"]


def utc_instant(value: str) -> datetime:
    """``value`` as an aware UTC datetime (no precision lost; no zone: UTC). Raises ValueError when
    it is not ISO 8601."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def saved_instant(stream: str, value: Any, where: str = "") -> datetime:
    """A saved bookmark's instant (``where``: the partition, as text); a ConfigError naming the
    stream and the value when it is no date-time."""
    try:
        return utc_instant(str(value))
    except ValueError as exc:
        raise ConfigError(f"state: stream '{stream}'{' ' + where if where else ''}: replication_key_value "
                          f"{value!r} is not an ISO 8601 date-time") from exc
