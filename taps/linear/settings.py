"""tap-linear's settings: their schema (what ``--about`` publishes and the config is validated
against) and the one frozen object the tap reads them from.

The settings of the variant Meltano Hub lists as the default (renesteeman: ``auth_token``,
``api_url``, ``start_date``, and the SDK's ``stream_maps``, ``stream_map_config``,
``flattening_*``, which every connector has) keep their names and meanings; added:
``access_token`` (OAuth), ``page_size``, ``include_archived``, and the HTTP kit's settings
(timeouts, retries, backoff, breaker, client-side rate limit, ``user_agent``,
``rate_limit_buffer`` on Linear's budgets).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from protocol import ConfigError, build_settings, setting
from protocol.http import HTTP_SETTINGS, HttpSettings, http_settings

__all__ = ["SETTINGS", "LinearSettings", "linear_time"]

SETTINGS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "auth_token": {"type": "string", "secret": True, "writeOnly": True,
                       "description": "Linear personal API key, sent as the Authorization header as it is "
                                      "(no 'Bearer'). Give this or access_token."},
        "access_token": {"type": "string", "secret": True, "writeOnly": True,
                         "description": "Linear OAuth2 access token, sent as 'Authorization: Bearer TOKEN'. "
                                        "Give this or auth_token."},
        "api_url": {"type": "string", "default": "https://api.linear.app/graphql",
                    "description": "The Linear GraphQL endpoint."},
        "start_date": {"type": "string", "format": "date-time",
                       "description": "Sync only records updated after this time, when a stream has no bookmark "
                                      "(unset: everything)."},
        "page_size": {"type": "integer", "minimum": 1, "maximum": 250, "default": 50,
                      "description": "Records per query ('first'); Linear allows up to 250 and returns 50 by "
                                     "default. Larger pages cost more query complexity."},
        "include_archived": {"type": "boolean", "default": False,
                             "description": "Also sync archived records (Linear's includeArchived)."},
        **http_settings("sluice-tap-linear"),
        "rate_limit_buffer": {**HTTP_SETTINGS["rate_limit_buffer"],
                              "description": "Wait for Linear's reset when this many requests or complexity points "
                                             "or fewer remain (X-RateLimit-Requests-Remaining, "
                                             "X-RateLimit-Complexity-Remaining)."},
    },
}


@dataclass(frozen=True)
class LinearSettings:
    auth_token: str | None
    access_token: str | None
    api_url: str
    start_date: str | None  # as Linear writes times (milliseconds, Z)
    page_size: int
    include_archived: bool
    http: HttpSettings

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> LinearSettings:
        if bool(config.get("auth_token")) == bool(config.get("access_token")):
            raise ConfigError("invalid config", ["give exactly one of 'auth_token' (a personal API key) and "
                                                 "'access_token' (an OAuth token)"])
        return build_settings(
            cls, SETTINGS, config,
            start_date=linear_time(setting(SETTINGS, config, "start_date")),
            http=HttpSettings.from_config(config, SETTINGS))


def linear_time(value: Any) -> str | None:
    """A date-time as Linear writes it (``2024-01-01T00:00:00.000Z``), so that strings compare."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(f"setting 'start_date': {value!r} is not an ISO 8601 date-time") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{parsed.microsecond // 1000:03d}Z"
