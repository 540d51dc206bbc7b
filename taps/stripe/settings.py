"""tap-stripe's settings: their schema (what ``--about`` publishes and the config is validated
against) and the one frozen object the tap reads them from, built once from the validated config.

Settings follow singer-io tap-stripe (Meltano Hub's default variant): ``client_secret``,
``account_id``, ``start_date``, ``lookback_window``, ``date_window_size``, ``request_timeout``;
plus ``api_key`` (another name for the secret key), ``stripe_version``, ``api_url``, ``limit``,
``event_updates`` and the HTTP kit's settings. Defaults are stated once, here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from protocol import ConfigError, build_settings, setting
from protocol.http import HttpSettings, http_settings

__all__ = ["SETTINGS", "StripeSettings"]

#: the API version singer-io tap-stripe pins
DEFAULT_VERSION = "2020-08-27"

SETTINGS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "client_secret": {"type": "string", "secret": True, "writeOnly": True,
                          "description": "Stripe secret API key (sk_live_... or sk_test_...), sent as a Bearer "
                                         "token."},
        "api_key": {"type": "string", "secret": True, "writeOnly": True,
                    "description": "Another name for client_secret (used when client_secret is not set)."},
        "account_id": {"type": "string",
                       "description": "Stripe account ID (acct_...): sent as the Stripe-Account header, and "
                                      "read by --test."},
        "start_date": {"type": "string", "format": "date-time",
                       "description": "Sync objects created (and events) at or after this time, when there is "
                                      "no bookmark; unset: from the account's beginning."},
        "lookback_window": {"type": "integer", "minimum": 0, "default": 600,
                            "description": "Seconds before the events bookmark that the events stream reads "
                                           "again (events can appear in the API shortly after their created "
                                           "time); those events may come twice."},
        "date_window_size": {"type": "number", "exclusiveMinimum": 0, "default": 30,
                             "description": "Days of 'created' read per window; the bookmark moves at the end "
                                            "of each window."},
        "request_timeout": {"type": ["number", "null"], "exclusiveMinimum": 0,
                            "description": "Seconds to wait for an answer; when set it replaces 'timeout'."},
        "stripe_version": {"type": "string", "default": DEFAULT_VERSION,
                           "description": "Stripe API version sent as the Stripe-Version header on every "
                                          "request."},
        "api_url": {"type": "string", "default": "https://api.stripe.com",
                    "description": "The Stripe API base URL (without /v1)."},
        "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 100,
                  "description": "Objects per page (at most 100)."},
        "event_updates": {"type": "boolean", "default": True,
                          "description": "After the new objects, read the events stream (customer.updated, "
                                         "...) and emit each object changed since the last run, as it is in "
                                         "its newest event."},
        **http_settings("sluice-tap-stripe"),
    },
}


@dataclass(frozen=True)
class StripeSettings:
    secret: str  # client_secret, else api_key
    account_id: str | None
    start: int | None  # start_date as unix seconds
    lookback_window: int
    window_seconds: int  # date_window_size in seconds
    stripe_version: str
    api_url: str  # without a trailing slash, without /v1
    limit: int
    event_updates: bool
    http: HttpSettings

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> StripeSettings:
        secret = config.get("client_secret") or config.get("api_key")
        if not secret:
            raise ConfigError("invalid config", ["set 'client_secret' (or 'api_key'): the Stripe secret key"])
        http = HttpSettings.from_config(config, SETTINGS)
        timeout = config.get("request_timeout")
        if timeout:
            http = dataclasses.replace(http, timeout=float(timeout))
        days = float(setting(SETTINGS, config, "date_window_size"))
        return build_settings(
            cls, SETTINGS, config, secret=str(secret), account_id=config.get("account_id") or None,
            start=_epoch(setting(SETTINGS, config, "start_date")), window_seconds=max(1, int(days * 86400)),
            api_url=str(setting(SETTINGS, config, "api_url")).rstrip("/").removesuffix("/v1"), http=http)


def _epoch(value: Any) -> int | None:
    """``start_date`` as unix seconds (Stripe's ``created`` filter)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(f"setting 'start_date': {value!r} is not an ISO 8601 date-time") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())
