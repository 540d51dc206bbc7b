"""GitHub: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>``.

The delivery id is ``X-GitHub-Delivery`` (a GUID that GitHub keeps when it redelivers an event),
the event type ``X-GitHub-Event``. The legacy SHA-1 header ``X-Hub-Signature`` is not accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from taps.webhook.providers._base import Rejected, Settings, Verified, body_id, decode_hex, header, hmac_matches

__all__ = ["GitHubVerifier"]

SIGNATURE = "x-hub-signature-256"
PREFIX = "sha256="


class GitHubVerifier:
    def __init__(self, name: str, source: Mapping[str, Any]) -> None:
        settings = Settings(name, source)
        self.secrets = settings.secrets()
        settings.done()

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> Verified:
        signature = header(headers, SIGNATURE)
        if signature is None:
            raise Rejected("unsigned", "no X-Hub-Signature-256 header")
        digest = decode_hex(signature[len(PREFIX):]) if signature.startswith(PREFIX) else None
        if digest is None:
            raise Rejected("bad_signature", "X-Hub-Signature-256 is not 'sha256=' and a hex digest")
        if not hmac_matches(self.secrets, "sha256", body, [digest]):
            raise Rejected("bad_signature", "X-Hub-Signature-256 matches no configured secret")
        return Verified(header(headers, "x-github-delivery") or body_id(body), header(headers, "x-github-event"))
