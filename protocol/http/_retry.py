"""Retries with exponential backoff and full jitter (the ``backoff`` package).

Only :class:`~protocol._errors.RetryableSourceError` is retried: timeouts, connection
resets, 5xx, 429, an open circuit. Every other error, and 401/403/4xx in particular,
fails on the first try. A failure that outlasts every try says so after its cause
("cannot reach HOST: connection refused; gave up after 6 attempts"). A server-given wait
(Retry-After, a rate-limit reset, a breaker cool-down) is handed to the rate limiter, so
the next try waits at least that long.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import backoff

from protocol._errors import RetryableSourceError
from protocol.http._errors import CircuitOpenError, WaitTooLong

__all__ = ["RetryPolicy"]

log = logging.getLogger("sluice.http")

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """``max_tries`` attempts in all; waits grow ``base_wait * 2**n`` up to ``max_wait``, fully jittered."""

    max_tries: int = 5
    base_wait: float = 1.0
    max_wait: float = 60.0
    jitter: bool = True

    def call(self, attempt: Callable[[], T], on_retry: Callable[[RetryableSourceError], None] | None = None) -> T:
        """``attempt()`` until it succeeds; a transient failure that outlasts every try is raised
        with "; gave up after N attempts" added to its message (its cause stays first)."""
        tries = 0

        def counted() -> T:
            nonlocal tries
            tries += 1
            return attempt()

        try:
            return _runner(self)(counted, on_retry)  # type: ignore[no-any-return]
        except RetryableSourceError as exc:
            if tries > 1 and not isinstance(exc, WaitTooLong):
                exc.args = (f"{_cause_first(exc)}; gave up after {tries} attempts", *exc.args[1:])
            raise


def _cause_first(exc: RetryableSourceError) -> str:
    """The message of the last failure, without an open circuit's "next try in" (there is none)."""
    text = str(exc)
    if isinstance(exc, CircuitOpenError):
        text = text.rpartition("; next try in ")[0] or text
    return text


def _invoke(attempt: Callable[[], T], on_retry: Callable[[RetryableSourceError], None] | None) -> T:
    return attempt()


@functools.lru_cache(maxsize=32)
def _runner(policy: RetryPolicy) -> Callable[..., Any]:
    """``_invoke`` wrapped in the policy's backoff, built once per policy (not once per request)."""

    def backing_off(details: Any) -> None:
        exc = details.get("exception")
        log.warning("retry %d/%d in %.2fs: %s", details["tries"], policy.max_tries - 1, details["wait"], exc)
        on_retry = details["args"][1]
        if on_retry is not None and isinstance(exc, RetryableSourceError):
            on_retry(exc)

    return backoff.on_exception(  # type: ignore[no-any-return]
        backoff.expo,
        RetryableSourceError,
        max_tries=max(1, policy.max_tries),
        jitter=backoff.full_jitter if policy.jitter else None,
        on_backoff=backing_off,
        giveup=lambda exc: isinstance(exc, WaitTooLong),
        logger=None,
        factor=policy.base_wait,
        max_value=policy.max_wait,
    )(_invoke)
