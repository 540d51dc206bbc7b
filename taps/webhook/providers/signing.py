"""The headers each provider sends with a signed delivery: for tests, benches and local trials.

``sign(provider, secret, body, now=..., ...)`` returns a dict of headers (provider spelling) that
the matching verifier accepts. For ``hmac`` pass the source's settings as ``source``.
"""

from __future__ import annotations

import base64
import hmac
import time
import uuid
from collections.abc import Mapping
from typing import Any

from taps.webhook.providers.generic import parse_template

__all__ = ["sign"]


def _mac(secret: str, message: bytes, algorithm: str = "sha256") -> bytes:
    return hmac.new(secret.encode("utf-8"), message, algorithm).digest()


def sign(
    provider: str,
    secret: str,
    body: bytes,
    *,
    now: float | None = None,
    delivery_id: str | None = None,
    event_type: str | None = None,
    source: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """Headers for ``body`` as ``provider`` would sign it with ``secret`` at time ``now``.

    ``delivery_id`` and ``event_type`` go in the provider's id and event headers where it has them
    (a fresh UUID when ``delivery_id`` is None); Stripe and Slack events carry theirs in the body.
    """
    ts = str(int(time.time() if now is None else now))
    delivery = delivery_id or str(uuid.uuid4())
    if provider == "github":
        headers = {"X-Hub-Signature-256": "sha256=" + _mac(secret, body).hex(), "X-GitHub-Delivery": delivery}
        if event_type:
            headers["X-GitHub-Event"] = event_type
        return headers
    if provider == "gitlab":
        headers = {"X-Gitlab-Token": secret, "Idempotency-Key": delivery}
        if event_type:
            headers["X-Gitlab-Event"] = event_type
        return headers
    if provider == "stripe":
        return {"Stripe-Signature": f"t={ts},v1=" + _mac(secret, ts.encode() + b"." + body).hex()}
    if provider == "slack":
        return {"X-Slack-Request-Timestamp": ts,
                "X-Slack-Signature": "v0=" + _mac(secret, b"v0:" + ts.encode() + b":" + body).hex()}
    if provider == "shopify":
        headers = {"X-Shopify-Hmac-Sha256": base64.b64encode(_mac(secret, body)).decode(),
                   "X-Shopify-Event-Id": delivery}
        if event_type:
            headers["X-Shopify-Topic"] = event_type
        return headers
    if provider == "hmac":
        return _generic(dict(source or {}), secret, body, ts, delivery, event_type)
    raise ValueError(f"unknown provider {provider!r}")


def _generic(source: dict[str, Any], secret: str, body: bytes, ts: str, delivery: str,
             event_type: str | None) -> dict[str, str]:
    ts_header = source.get("timestamp_header")
    id_header = source.get("id_header")
    template = source.get("signed_payload") or ("{timestamp}.{body}" if ts_header else "{body}")
    parts, _ = parse_template(template)
    values = {"body": body, "timestamp": ts.encode(), "id": delivery.encode()}
    message = b"".join(values[p] if isinstance(p, str) else p for p in parts)
    algorithm = source.get("algorithm", "sha256")
    raw = _mac(secret, message, algorithm)
    text = raw.hex() if source.get("encoding", "hex") == "hex" else base64.b64encode(raw).decode()
    headers = {source.get("header", "X-Signature"): source.get("prefix", "") + text}
    if ts_header:
        headers[ts_header] = ts
    if id_header:
        headers[id_header] = delivery
    if event_type and source.get("event_header"):
        headers[source["event_header"]] = event_type
    return headers


