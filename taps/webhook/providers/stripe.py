"""Stripe: ``Stripe-Signature: t=<unix time>,v1=<hex>[,v1=<hex>...][,v0=...]``.

Each ``v1`` is the hex HMAC-SHA256 of ``<t>.<body>`` under the endpoint's signing secret; Stripe
sends several while a secret is being rolled, and any one matching any configured secret is enough.
``v0`` (test-mode) and unknown schemes are ignored. ``t`` must be within ``tolerance_seconds``
(300) of the receiver's clock. The delivery id is the event's ``id`` (``evt_...``, kept across
Stripe's retries) and the event type its ``type``, both read from the signed JSON body.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from taps.webhook.providers._base import Rejected, Settings, Verified, decode_hex, header, hmac_matches, within_window

__all__ = ["StripeVerifier"]


class StripeVerifier:
    def __init__(self, name: str, source: Mapping[str, Any]) -> None:
        settings = Settings(name, source)
        self.secrets = settings.secrets()
        self.tolerance = settings.tolerance()
        settings.done()

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> Verified:
        value = header(headers, "stripe-signature")
        if value is None:
            raise Rejected("unsigned", "no Stripe-Signature header")
        timestamps: list[str] = []
        signatures: list[bytes] = []
        for item in value.split(","):
            key, _, text = item.strip().partition("=")
            if key == "t":
                timestamps.append(text)
            elif key == "v1" and (digest := decode_hex(text)) is not None:
                signatures.append(digest)
        if len(timestamps) != 1 or not (timestamps[0].isascii() and timestamps[0].isdigit()):  # signed as sent
            raise Rejected("bad_signature", "Stripe-Signature has no single t= timestamp")
        if not signatures:
            raise Rejected("unsigned", "Stripe-Signature has no v1 signature")
        if not hmac_matches(self.secrets, "sha256", timestamps[0].encode() + b"." + body, signatures):
            raise Rejected("bad_signature", "no v1 signature in Stripe-Signature matches a configured secret")
        within_window(timestamps[0], now, self.tolerance, "Stripe-Signature t=")
        try:
            event = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise Rejected("bad_body", "the body is not a JSON event") from None
        if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not event["id"]:
            raise Rejected("bad_body", "the body is not a Stripe event (no 'id')")
        kind = event.get("type")
        return Verified(event["id"], kind if isinstance(kind, str) else None)
