"""The receiver's Prometheus metrics, rendered as text (exposition format 0.0.4) at ``/metrics``.

    sluice_webhook_deliveries_accepted_total{source}        stored now (2xx)
    sluice_webhook_deliveries_duplicate_total{source}       re-deliveries: acknowledged, not stored again
    sluice_webhook_deliveries_rejected_total{source,reason} 401/400/413/415/404, 503 (spool_error), 422
                                                            (unstorable), and clients gone before their body
                                                            arrived (disconnected)
    sluice_webhook_spool_commits_total                      group commits (deliveries / commits = batch size)
    sluice_webhook_spool_depth                              deliveries in the spool, not yet pruned
    sluice_webhook_spool_oldest_age_seconds                 age of the oldest of them (0 when empty)

"Unread" from the receiver's side is "not yet pruned": tap-webhook prunes a delivery when a later
run starts from a state past it, so depth and age cover what the tap has not yet confirmed.
Nothing here ever carries a secret, a header value or a byte of a body: labels are configured
source names (an unknown one is counted as ``source=""``) and fixed reason words.
"""

from __future__ import annotations

import logging
import time
from collections import Counter

from taps.webhook.spool import SpoolStats

__all__ = ["REJECT_REASONS", "Metrics", "RejectionLog"]

#: the ``reason`` label values: the verifiers' reasons, then the receiver's own
REJECT_REASONS = ("unsigned", "bad_signature", "expired", "bad_body", "too_large", "content_type",
                  "unknown_source", "spool_error", "unstorable", "disconnected")


class Metrics:
    def __init__(self, sources: tuple[str, ...]) -> None:
        self.sources = sources
        self.accepted: Counter[str] = Counter()
        self.duplicates: Counter[str] = Counter()
        self.rejected: Counter[tuple[str, str]] = Counter()

    def render(self, stats: SpoolStats | None, commits: int, now: float) -> str:
        lines = ["# HELP sluice_webhook_deliveries_accepted_total Deliveries stored (acknowledged with 2xx).",
                 "# TYPE sluice_webhook_deliveries_accepted_total counter"]
        lines += [f'sluice_webhook_deliveries_accepted_total{{source="{s}"}} {self.accepted[s]}' for s in self.sources]
        lines += ["# HELP sluice_webhook_deliveries_duplicate_total Re-deliveries acknowledged and not stored again.",
                  "# TYPE sluice_webhook_deliveries_duplicate_total counter"]
        lines += [f'sluice_webhook_deliveries_duplicate_total{{source="{s}"}} {self.duplicates[s]}'
                  for s in self.sources]
        lines += ["# HELP sluice_webhook_deliveries_rejected_total Requests refused, and nothing stored, by reason.",
                  "# TYPE sluice_webhook_deliveries_rejected_total counter"]
        keys = {(s, r) for s in self.sources for r in REJECT_REASONS if r != "unknown_source"} | set(self.rejected)
        lines += [f'sluice_webhook_deliveries_rejected_total{{source="{s}",reason="{r}"}} {self.rejected[s, r]}'
                  for s, r in sorted(keys)]
        lines += ["# HELP sluice_webhook_spool_commits_total Group commits of the spool.",
                  "# TYPE sluice_webhook_spool_commits_total counter",
                  f"sluice_webhook_spool_commits_total {commits}"]
        if stats is not None:
            age = max(0.0, now - stats.oldest_received_at) if stats.oldest_received_at is not None else 0.0
            lines += ["# HELP sluice_webhook_spool_depth Deliveries in the spool not yet pruned by tap-webhook.",
                      "# TYPE sluice_webhook_spool_depth gauge",
                      f"sluice_webhook_spool_depth {stats.depth}",
                      "# HELP sluice_webhook_spool_oldest_age_seconds Age of the oldest delivery in the spool.",
                      "# TYPE sluice_webhook_spool_oldest_age_seconds gauge",
                      f"sluice_webhook_spool_oldest_age_seconds {age:.3f}"]
        return "\n".join(lines) + "\n"


class RejectionLog:
    """One warning per (source, reason) at most every ``every`` seconds, with how many were refused
    since the last line: an attacker cannot flood the log, an operator still sees each cause.
    The line names the source, status and reason, never a header value or the body."""

    def __init__(self, log: logging.Logger, every: float = 10.0) -> None:
        self.log = log
        self.every = every
        self._last: dict[tuple[str, str], float] = {}
        self._since: Counter[tuple[str, str]] = Counter()

    def rejected(self, source: str, reason: str, status: int) -> None:
        key = (source, reason)
        self._since[key] += 1
        now = time.monotonic()
        if now - self._last.get(key, -self.every) >= self.every:
            count = self._since.pop(key)
            self._last[key] = now
            self.log.warning("source %r: %d %s (%d such request(s) since the last such line)",
                             source, status, reason, count)
