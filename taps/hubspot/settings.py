"""tap-hubspot's settings: their schema and the frozen object the tap reads them from.

Settings follow MeltanoLabs tap-hubspot (Meltano Hub's default variant): ``access_token``,
``client_id``, ``client_secret``, ``refresh_token``, ``start_date``, ``end_date``; plus
``api_url``, ``limit`` and the HTTP kit's settings. Defaults are stated once, here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from protocol import ConfigError, build_settings, setting
from protocol.http import HttpSettings, http_settings

__all__ = ["SETTINGS", "HubSpotSettings", "iso_millis"]

SETTINGS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "access_token": {"type": "string", "secret": True, "writeOnly": True,
                         "description": "A private app's access token (sent as a Bearer token). Either this or "
                                        "client_id, client_secret and refresh_token."},
        "client_id": {"type": "string", "description": "The OAuth app's client ID (with client_secret and "
                                                       "refresh_token, instead of access_token)."},
        "client_secret": {"type": "string", "secret": True, "writeOnly": True,
                          "description": "The OAuth app's client secret."},
        "refresh_token": {"type": "string", "secret": True, "writeOnly": True,
                          "description": "The OAuth refresh token; exchanged for an access token at "
                                         "{api_url}/oauth/v1/token, and again when it expires."},
        "start_date": {"type": "string", "format": "date-time",
                       "description": "Sync only records modified at or after this time, when there is no "
                                      "bookmark (contacts, companies, deals)."},
        "end_date": {"type": "string", "format": "date-time",
                     "description": "Sync only records modified at or before this time (contacts, companies, "
                                    "deals); unset: up to now."},
        "api_url": {"type": "string", "default": "https://api.hubapi.com",
                    "description": "The HubSpot API base URL."},
        "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 100,
                  "description": "Records per page (HubSpot's maximum, 100)."},
        **http_settings("sluice-tap-hubspot"),
    },
}


@dataclass(frozen=True)
class HubSpotSettings:
    access_token: str | None
    client_id: str | None
    client_secret: str | None
    refresh_token: str | None
    start_date: str | None  # as HubSpot writes times (2024-01-01T00:00:00.000Z), so that strings compare
    end_date: str | None
    api_url: str  # without a trailing slash
    limit: int
    http: HttpSettings

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> HubSpotSettings:
        made = build_settings(
            cls, SETTINGS, config,
            api_url=str(setting(SETTINGS, config, "api_url")).rstrip("/"),
            start_date=_iso(config, "start_date"), end_date=_iso(config, "end_date"),
            http=HttpSettings.from_config(config, SETTINGS))
        oauth = (made.client_id, made.client_secret, made.refresh_token)
        if not made.access_token and not all(oauth):
            raise ConfigError("settings: give access_token, or client_id, client_secret and refresh_token")
        return made


def iso_millis(moment: datetime) -> str:
    """A time as HubSpot writes it: ``2024-01-01T00:00:00.000Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _iso(config: Mapping[str, Any], name: str) -> str | None:
    value = config.get(name)
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(f"setting '{name}': {value!r} is not an ISO 8601 date-time") from exc
    return iso_millis(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))
