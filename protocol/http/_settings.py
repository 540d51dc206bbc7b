"""The HTTP kit's settings: their schema (merged into every HTTP tap's settings schema) and the
frozen :class:`HttpSettings` an :class:`~protocol.http.HttpClient` is built from.

Defaults are stated once, in :data:`HTTP_SETTINGS`; the dataclass takes its defaults from
there, and :meth:`HttpSettings.from_config` reads a validated config against the tap's own
schema (which may give ``user_agent`` its own default, see :func:`http_settings`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from protocol._settings import build_settings, setting
from protocol.http._retry import RetryPolicy

__all__ = ["HTTP_SETTINGS", "HttpSettings", "http_settings"]


def _entry(kind: str | Sequence[str], bound: str, default: Any, description: str) -> dict[str, Any]:
    """One setting's schema; ``bound`` is ``">0"`` (above zero), ``">=N"`` (at least N) or ``""``."""
    entry: dict[str, Any] = {"type": kind}
    if bound:
        entry["exclusiveMinimum" if bound == ">0" else "minimum"] = int(bound.lstrip(">="))
    if default is not None:
        entry["default"] = default
    entry["description"] = description
    return entry


#: settings every HTTP tap accepts (merged into its settings schema): type, lower bound, default, description
HTTP_SETTINGS: dict[str, Any] = {name: _entry(*spec) for name, spec in {
    "timeout": ("number", ">0", 300, "Seconds to wait for the server to answer (read timeout)."),
    "connect_timeout": ("number", ">0", 10, "Seconds to wait for a connection."),
    "max_retries": ("integer", ">=0", 5,
                    "Retries of a transient failure (timeout, reset, 5xx, 429); 4xx never retried."),
    "backoff_base": ("number", ">=0", 1, "First retry wait in seconds; doubles per retry, fully jittered."),
    "backoff_max": ("number", ">=0", 60, "Longest retry wait in seconds."),
    "requests_per_minute": (["number", "null"], ">0", None, "Client-side rate limit (token bucket); unset: no limit."),
    "burst": ("integer", ">=1", 1, "Requests the token bucket lets through at once (with requests_per_minute)."),
    "rate_limit_buffer": ("integer", ">=0", 0, "Wait for the rate-limit reset when this many requests or fewer "
                          "remain (X-RateLimit-Remaining / RateLimit-Remaining headers)."),
    "max_wait": ("number", ">=0", 3600,
                 "Longest server-requested wait (Retry-After, rate-limit reset) honoured, in seconds."),
    "breaker_failures": ("integer", ">=1", 5, "Consecutive failures that open a host's circuit breaker."),
    "breaker_cool_down": ("number", ">=0", 30, "Seconds an open circuit waits before one trial request."),
    "user_agent": ("string", "", "sluice", "User-Agent header value."),
}.items()}

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
