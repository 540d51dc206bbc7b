"""Client-side rate limiting: a token bucket, plus the server's own rate-limit headers.

The bucket allows ``burst`` requests at once and refills at ``requests_per_minute``. On
top of it the limiter honours what the server says: ``Retry-After``, and
``X-RateLimit-Remaining`` / ``X-RateLimit-Reset`` (or the IETF ``RateLimit-*`` names, or an
API's own pair given as ``headers``, e.g. Linear's ``X-RateLimit-Requests-*``): when
``buffer`` requests or fewer remain, it waits until the reset time (epoch seconds or
milliseconds, or seconds from now).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from protocol._wording import plural
from protocol.http._errors import WaitTooLong, reset_wait

__all__ = ["HEADER_PAIRS", "RateLimiter"]

#: (remaining, reset) header names read by default
HEADER_PAIRS: tuple[tuple[str, str], ...] = (("X-RateLimit-Remaining", "X-RateLimit-Reset"),
                                             ("RateLimit-Remaining", "RateLimit-Reset"))

log = logging.getLogger("sluice.http")


class RateLimiter:
    def __init__(
        self,
        requests_per_minute: float | None = None,
        burst: int = 1,
        *,
        buffer: int = 0,
        max_wait: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.header_pairs = (*headers, *HEADER_PAIRS)
        self.rate = requests_per_minute / 60.0 if requests_per_minute else None
        self.burst = max(1, int(burst))
        self.buffer = max(0, int(buffer))
        self.max_wait = max_wait
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(self.burst)
        self._stamp = clock()
        self._blocked_until = 0.0
        self._why = ""
        self._lock = threading.Lock()
        self.waited = 0.0

    def block_for(self, seconds: float, why: str) -> None:
        """No request before ``seconds`` from now (a Retry-After, a rate-limit reset, a cool-down)."""
        until = self._clock() + seconds
        if until > self._blocked_until:
            self._blocked_until = until
            self._why = why
            log.log(logging.WARNING if seconds >= 1 else logging.INFO, "%s: waiting %.2fs", why, seconds)

    def acquire(self) -> None:
        """Wait until one request may be sent."""
        with self._lock:
            now = self._clock()
            if self._blocked_until > now:
                if self._blocked_until - now > self.max_wait:
                    raise WaitTooLong(f"{self._why}: the server asks to wait {self._blocked_until - now:.0f}s, "
                                      f"more than max_wait ({self.max_wait:.0f}s)")
                self._pause(self._blocked_until - now)
                now = self._clock()
            if self.rate is None:
                return
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens < 1:
                self._pause((1 - self._tokens) / self.rate)
                self._tokens = 1.0
                self._stamp = self._clock()
            self._tokens -= 1

    def _pause(self, seconds: float) -> None:
        self.waited += seconds
        self._sleep(seconds)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Read the server's rate-limit headers of a response."""
        pair = next(((rem, reset) for rem, reset in self.header_pairs if headers.get(rem)), None)
        if pair is None:
            return
        remaining_name, reset_name = pair
        remaining = headers[remaining_name]
        try:
            left = int(float(remaining))
        except ValueError:
            return
        if left > self.buffer:
            return
        reset = headers.get(reset_name)
        try:
            value = float(reset) if reset is not None else None
        except ValueError:
            value = None
        if value is None:
            return
        wait = reset_wait(value)  # epoch seconds or milliseconds, or seconds from now
        if wait > 0:
            self.block_for(wait + 0.05, f"rate limit: {plural(left, 'request')} left")
