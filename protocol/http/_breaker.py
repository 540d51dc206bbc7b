"""A circuit breaker per host: stop hammering a host that keeps failing.

    closed --N consecutive failures--> open --cool-down--> half-open --success--> closed
                                         ^                     |
                                         +------failure--------+

While open, requests fail at once with :class:`CircuitOpenError` (no request is sent), whose
message leads with the last failure (its cause); after the cool-down one trial request is let
through (half-open).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from protocol.http._errors import CircuitOpenError

__all__ = ["CLOSED", "HALF_OPEN", "OPEN", "Breakers", "CircuitBreaker"]

log = logging.getLogger("sluice.http")

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


class CircuitBreaker:
    def __init__(self, host: str, failures: int = 5, cool_down: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.host = host
        self.threshold = max(1, failures)
        self.cool_down = cool_down
        self._clock = clock
        self.state = CLOSED
        self.failures = 0
        self.last_failure: str | None = None
        self._opened_at = 0.0

    def before(self) -> None:
        """Raise :class:`CircuitOpenError` when no request may go to the host now."""
        if self.state == CLOSED:
            return
        if self.state == OPEN:
            left = self._opened_at + self.cool_down - self._clock()
            if left > 0:
                cause = f"{self.last_failure}; " if self.last_failure else ""
                raise CircuitOpenError(
                    f"{cause}circuit open for {self.host} after {self.failures} consecutive failures; "
                    f"next try in {left:.1f}s", retry_after=left)
            self.state = HALF_OPEN
            log.info("circuit half-open for %s: one trial request", self.host)

    def success(self) -> None:
        if self.state != CLOSED:
            log.info("circuit closed for %s", self.host)
        self.state = CLOSED
        self.failures = 0
        self.last_failure = None

    def failure(self, cause: str | None = None) -> None:
        """Count a failure; ``cause`` (one line) leads the message of a refusal while open."""
        self.failures += 1
        self.last_failure = cause or self.last_failure
        if self.state == HALF_OPEN or (self.state == CLOSED and self.failures >= self.threshold):
            if self.state == CLOSED:
                log.warning("circuit open for %s after %d consecutive failures", self.host, self.failures)
            self.state = OPEN
            self._opened_at = self._clock()


class Breakers:
    """One breaker per host, created on first use."""

    def __init__(self, failures: int = 5, cool_down: float = 30.0) -> None:
        self.failures = failures
        self.cool_down = cool_down
        self._by_host: dict[str, CircuitBreaker] = {}

    def for_host(self, host: str) -> CircuitBreaker:
        breaker = self._by_host.get(host)
        if breaker is None:
            breaker = self._by_host[host] = CircuitBreaker(host, self.failures, self.cool_down)
        return breaker
