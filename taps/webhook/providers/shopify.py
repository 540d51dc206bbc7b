"""Shopify: ``X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256 of the body>`` under the app's client secret.

The delivery id is ``X-Shopify-Event-Id`` (the header Shopify's docs name for spotting duplicates)
qualified by the topic, ``<event id>:<topic>``, so that one event delivered under two topics to the
same source is stored twice, once per topic; else ``X-Shopify-Webhook-Id``; else the body hash.
The event type is ``X-Shopify-Topic`` (``orders/create``, ...). Shopify signs no timestamp.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from taps.webhook.providers._base import Rejected, Settings, Verified, body_id, decode_base64, header, hmac_matches

__all__ = ["ShopifyVerifier"]


class ShopifyVerifier:
    def __init__(self, name: str, source: Mapping[str, Any]) -> None:
        settings = Settings(name, source)
        self.secrets = settings.secrets()
        settings.done()

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> Verified:
        value = header(headers, "x-shopify-hmac-sha256")
        if value is None:
            raise Rejected("unsigned", "no X-Shopify-Hmac-Sha256 header")
        digest = decode_base64(value)
        if digest is None:
            raise Rejected("bad_signature", "X-Shopify-Hmac-Sha256 is not base64")
        if not hmac_matches(self.secrets, "sha256", body, [digest]):
            raise Rejected("bad_signature", "X-Shopify-Hmac-Sha256 matches no configured secret")
        topic = header(headers, "x-shopify-topic")
        event = header(headers, "x-shopify-event-id")
        if event is not None:
            delivery = f"{event}:{topic}" if topic else event
        else:
            delivery = header(headers, "x-shopify-webhook-id") or body_id(body)
        return Verified(delivery, topic)
