"""GitLab: the shared secret itself in ``X-Gitlab-Token`` (no signature over the body).

The delivery id is ``Idempotency-Key`` (GitLab 17.4+, kept across GitLab's retries), else
``X-Gitlab-Event-UUID``, else the body hash; the event type is ``X-Gitlab-Event`` ("Push Hook", ...).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

from taps.webhook.providers._base import Rejected, Settings, Verified, body_id, header

__all__ = ["GitLabVerifier"]


class GitLabVerifier:
    def __init__(self, name: str, source: Mapping[str, Any]) -> None:
        settings = Settings(name, source)
        self.secrets = settings.secrets()
        settings.done()

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> Verified:
        token = header(headers, "x-gitlab-token")
        if token is None:
            raise Rejected("unsigned", "no X-Gitlab-Token header")
        # a server hands header bytes over decoded as latin-1: undo that, and also try the text as UTF-8
        candidates = {token.encode("utf-8", "surrogateescape")}
        if not token.isascii() and all(ord(c) < 256 for c in token):
            candidates.add(token.encode("latin-1"))
        found = False
        for given in candidates:
            for secret in self.secrets:
                found |= hmac.compare_digest(given, secret)
        if not found:
            raise Rejected("bad_signature", "X-Gitlab-Token matches no configured secret")
        delivery = header(headers, "idempotency-key") or header(headers, "x-gitlab-event-uuid") or body_id(body)
        return Verified(delivery, header(headers, "x-gitlab-event"))
