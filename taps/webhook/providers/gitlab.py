"""GitLab: the shared secret itself in ``X-Gitlab-Token`` (no signature over the body).

The token is compared with each secret's UTF-8 as the bytes sent (byte-exact). The delivery id is
``Idempotency-Key`` (GitLab 17.4+, kept across GitLab's retries), else
``X-Gitlab-Event-UUID``, else the body hash; the event type is ``X-Gitlab-Event`` ("Push Hook", ...).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

from taps.webhook.providers._base import Rejected, Settings, Verified, body_id, header, header_bytes

__all__ = ["GitLabVerifier"]


class GitLabVerifier:
    def __init__(self, name: str, source: Mapping[str, Any]) -> None:
        settings = Settings(name, source)
        self.secrets = settings.secrets()
        settings.done()

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> Verified:
        token = header_bytes(headers, "x-gitlab-token")
        if token is None:
            raise Rejected("unsigned", "no X-Gitlab-Token header")
        # the bytes sent against each secret's UTF-8, every one compared (constant time): a token is
        # never matched through a decoding, so no other byte string is accepted for it
        found = False
        for secret in self.secrets:
            found |= hmac.compare_digest(token, secret)
        if not found:
            raise Rejected("bad_signature", "X-Gitlab-Token matches no configured secret")
        delivery = header(headers, "idempotency-key") or header(headers, "x-gitlab-event-uuid") or body_id(body)
        return Verified(delivery, header(headers, "x-gitlab-event"))
