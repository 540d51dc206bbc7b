"""The HTTP kit's settings: their schema (merged into every HTTP tap's settings schema) and the
frozen :class:`HttpSettings` an :class:`~protocol.http.HttpClient` is built from.

Defaults are stated once, in :data:`HTTP_SETTINGS`; the dataclass takes its defaults from
there, and :meth:`HttpSettings.from_config` reads a validated config against the tap's own
schema (which may give ``user_agent`` its own default, see :func:`http_settings`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from protocol._settings import build_settings, setting
from protocol.http._retry import RetryPolicy

__all__ = ["HTTP_SETTINGS", "HttpSettings", "http_settings"]

#: settings every HTTP tap accepts (merged into its settings schema)
HTTP_SETTINGS: dict[str, Any] = {
    "timeout": {"type": "number", "exclusiveMinimum": 0, "default": 300,
                "description": "Seconds to wait for the server to answer (read timeout)."},
    "connect_timeout": {"type": "number", "exclusiveMinimum": 0, "default": 10,
                        "description": "Seconds to wait for a connection."},
    "max_retries": {"type": "integer", "minimum": 0, "default": 5,
                    "description": "Retries of a transient failure (timeout, reset, 5xx, 429); 4xx never retried."},
    "backoff_base": {"type": "number", "minimum": 0, "default": 1,
                     "description": "First retry wait in seconds; doubles per retry, fully jittered."},
    "backoff_max": {"type": "number", "minimum": 0, "default": 60, "description": "Longest retry wait in seconds."},
    "requests_per_minute": {"type": ["number", "null"], "exclusiveMinimum": 0,
                            "description": "Client-side rate limit (token bucket); unset: no limit."},
    "burst": {"type": "integer", "minimum": 1, "default": 1,
              "description": "Requests the token bucket lets through at once (with requests_per_minute)."},
    "rate_limit_buffer": {"type": "integer", "minimum": 0, "default": 0,
                          "description": "Wait for the rate-limit reset when this many requests or fewer remain "
                                         "(X-RateLimit-Remaining / RateLimit-Remaining headers)."},
    "max_wait": {"type": "number", "minimum": 0, "default": 3600,
                 "description": "Longest server-requested wait (Retry-After, rate-limit reset) honoured, in seconds."},
    "breaker_failures": {"type": "integer", "minimum": 1, "default": 5,
                         "description": "Consecutive failures that open a host's circuit breaker."},
    "breaker_cool_down": {"type": "number", "minimum": 0, "default": 30,
                          "description": "Seconds an open circuit waits before one trial request."},
    "user_agent": {"type": "string", "default": "sluice", "description": "User-Agent header value."},
}

_SCHEMA: dict[str, Any] = {"type": "object", "properties": HTTP_SETTINGS}

#: the settings that make up the retry policy
RETRY_SETTINGS = ("max_retries", "backoff_base", "backoff_max")


def http_settings(user_agent: str) -> dict[str, Any]:
    """:data:`HTTP_SETTINGS` with a tap's own default User-Agent, to merge into its schema."""
    return {**HTTP_SETTINGS, "user_agent": {**HTTP_SETTINGS["user_agent"], "default": user_agent}}


def _default(name: str) -> Any:
    return HTTP_SETTINGS[name].get("default")


def retry_policy(max_retries: int, backoff_base: float, backoff_max: float) -> RetryPolicy:
    """The retry policy of the three retry settings (``max_retries`` retries: one try more)."""
    return RetryPolicy(max_tries=int(max_retries) + 1, base_wait=float(backoff_base), max_wait=float(backoff_max))


def _default_retry() -> RetryPolicy:
    return retry_policy(*(_default(name) for name in RETRY_SETTINGS))


@dataclass(frozen=True)
class HttpSettings:
    """What an :class:`~protocol.http.HttpClient` is built from. Every field is the setting of
    the same name, except ``retry``: the policy of ``max_retries``, ``backoff_base`` and
    ``backoff_max``. Built in code (tests, a tap's fixed choices), unset fields take the
    schema's defaults."""

    timeout: float = _default("timeout")
    connect_timeout: float = _default("connect_timeout")
    retry: RetryPolicy = field(default_factory=_default_retry)
    requests_per_minute: float | None = _default("requests_per_minute")
    burst: int = _default("burst")
    rate_limit_buffer: int = _default("rate_limit_buffer")
    max_wait: float = _default("max_wait")
    breaker_failures: int = _default("breaker_failures")
    breaker_cool_down: float = _default("breaker_cool_down")
    user_agent: str = _default("user_agent")

    @classmethod
    def from_config(cls, config: Mapping[str, Any], schema: Mapping[str, Any] | None = None) -> HttpSettings:
        """The settings of a validated ``config``; unset ones take the defaults of ``schema``
        (the tap's settings schema, which holds :data:`HTTP_SETTINGS`; default: those alone)."""
        schema = _SCHEMA if schema is None else schema
        retry = retry_policy(*(setting(schema, config, name) for name in RETRY_SETTINGS))
        return build_settings(cls, schema, config, retry=retry)
