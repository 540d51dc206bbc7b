"""Slack: ``X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:<timestamp>:<body>">`` with the timestamp
in ``X-Slack-Request-Timestamp``, which must be within ``tolerance_seconds`` (300: Slack's five minutes).

What is stored, by body:

- Events API (JSON): ``url_verification`` is answered with its ``challenge`` and not stored;
  ``event_callback`` is stored under its ``event_id`` (kept across Slack's retries) with the inner
  ``event.type`` as event type; other JSON types under ``event_id`` or the body hash, typed by ``type``.
- Slash commands and interactivity (form-encoded): stored under the body hash, typed by the
  command (``/deploy``) or the interaction payload's ``type`` (``block_actions``, ...).
  Slack's ``ssl_check`` pings are answered with an empty 200 and not stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

import orjson

from taps.webhook.providers._base import (
    Rejected,
    Settings,
    Verified,
    body_id,
    decode_hex,
    header,
    header_bytes,
    hmac_matches,
    within_window,
)

__all__ = ["SlackVerifier"]

PREFIX = "v0="


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class SlackVerifier:
    def __init__(self, name: str, source: Mapping[str, Any]) -> None:
        settings = Settings(name, source)
        self.secrets = settings.secrets()
        self.tolerance = settings.tolerance()
        settings.done()

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> Verified:
        signature = header(headers, "x-slack-signature")
        timestamp = header(headers, "x-slack-request-timestamp")
        if signature is None or timestamp is None:
            raise Rejected("unsigned", "no X-Slack-Signature or X-Slack-Request-Timestamp header")
        digest = decode_hex(signature[len(PREFIX):]) if signature.startswith(PREFIX) else None
        if digest is None:
            raise Rejected("bad_signature", "X-Slack-Signature is not 'v0=' and a hex digest")
        message = b"v0:" + (header_bytes(headers, "x-slack-request-timestamp") or b"") + b":" + body
        if not hmac_matches(self.secrets, "sha256", message, [digest]):
            raise Rejected("bad_signature", "X-Slack-Signature matches no configured secret")
        within_window(timestamp, now, self.tolerance, "X-Slack-Request-Timestamp")
        if body.lstrip()[:1] == b"{":
            return self._event(body)
        return self._form(body)

    def _event(self, body: bytes) -> Verified:
        try:
            event = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise Rejected("bad_body", "the body is not valid JSON") from None
        if not isinstance(event, dict):
            raise Rejected("bad_body", "the body is not a JSON object")
        kind = _text(event.get("type"))
        if kind == "url_verification":
            challenge = _text(event.get("challenge"))
            if challenge is None:
                raise Rejected("bad_body", "url_verification without a challenge")
            return Verified(body_id(body), kind, reply=orjson.dumps({"challenge": challenge}))
        inner = event.get("event")
        if kind == "event_callback" and isinstance(inner, dict):
            kind = _text(inner.get("type")) or kind
        return Verified(_text(event.get("event_id")) or body_id(body), kind)

    def _form(self, body: bytes) -> Verified:
        try:
            fields = parse_qs(body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            raise Rejected("bad_body", "the form body is not UTF-8") from None
        if fields.get("ssl_check") == ["1"]:
            return Verified(body_id(body), "ssl_check", reply=b"", reply_content_type="text/plain")
        kind = None
        if "payload" in fields:
            try:
                payload = orjson.loads(fields["payload"][0])
            except orjson.JSONDecodeError:
                raise Rejected("bad_body", "the interaction payload is not valid JSON") from None
            kind = _text(payload.get("type")) if isinstance(payload, dict) else None
        elif "command" in fields:
            kind = _text(fields["command"][0])
        return Verified(body_id(body), kind)
