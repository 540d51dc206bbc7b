"""A generic HMAC scheme for any provider that signs its body: ``provider: hmac``.

Settings (all optional but ``secrets``):

- ``header`` (``X-Signature``): the header carrying the signature;
- ``algorithm`` (``sha256``; ``sha1``, ``sha512``) and ``encoding`` (``hex``; ``base64``) of the digest;
- ``prefix`` (none): text before the digest in the header, such as ``sha256=``;
- ``timestamp_header`` (none): a header carrying a Unix time that is part of the signed text and
  must be within ``tolerance_seconds`` (300) of the receiver's clock;
- ``signed_payload``: what is signed, a template over ``{body}`` (the raw bytes), ``{timestamp}``
  (the value of ``timestamp_header``) and ``{id}`` (the value of ``id_header``). Default
  ``{body}``, or ``{timestamp}.{body}`` when ``timestamp_header`` is set;
- ``id_header`` (none): the header holding the delivery id, else the body hash;
- ``event_header`` (none): the header holding the event type.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from taps.webhook.providers._base import (
    Rejected,
    Settings,
    Verified,
    body_id,
    decode_base64,
    decode_hex,
    header,
    header_bytes,
    header_name,
    hmac_matches,
    within_window,
)

__all__ = ["HmacVerifier"]

ALGORITHMS = ("sha256", "sha1", "sha512")
ENCODINGS = ("hex", "base64")
PLACEHOLDER = re.compile(r"\{(\w*)\}")
FIELDS = ("body", "timestamp", "id")


def parse_template(template: str) -> tuple[list[str | bytes], list[str]]:
    """Split ``{timestamp}.{body}`` into literal bytes and field names; the problems found."""
    parts: list[str | bytes] = []
    problems: list[str] = []
    at = 0
    for match in PLACEHOLDER.finditer(template):
        if match.start() > at:
            parts.append(template[at:match.start()].encode("utf-8"))
        field = match.group(1)
        if field not in FIELDS:
            problems.append(f"unknown field {{{field}}}: use {{body}}, {{timestamp}} or {{id}}")
        parts.append(field)
        at = match.end()
    if at < len(template):
        parts.append(template[at:].encode("utf-8"))
    if [p for p in parts if isinstance(p, str)].count("body") != 1:
        problems.append("must contain {body} exactly once")
    return parts, problems


class HmacVerifier:
    def __init__(self, name: str, source: Mapping[str, Any]) -> None:
        settings = Settings(name, source)
        self.secrets = settings.secrets()
        self.tolerance = settings.tolerance()
        self.label = settings.text("header", "X-Signature", header_name) or "X-Signature"
        self.header = self.label.lower()
        self.algorithm = settings.choice("algorithm", "sha256", ALGORITHMS)
        self.encoding = settings.choice("encoding", "hex", ENCODINGS)
        self.prefix = settings.text("prefix", "") or ""
        ts_header = settings.text("timestamp_header", None, header_name)
        self.timestamp_header = ts_header.lower() if ts_header else None
        id_header = settings.text("id_header", None, header_name)
        self.id_header = id_header.lower() if id_header else None
        event_header = settings.text("event_header", None, header_name)
        self.event_header = event_header.lower() if event_header else None
        default = "{timestamp}.{body}" if self.timestamp_header else "{body}"
        template = settings.text("signed_payload", default) or default
        self.parts, problems = parse_template(template)
        for problem in problems:
            settings.problem("signed_payload", problem)
        fields = {p for p in self.parts if isinstance(p, str)}
        if self.timestamp_header and "timestamp" not in fields:
            settings.problem("signed_payload", "must contain {timestamp} when timestamp_header is set "
                             "(an unsigned timestamp proves nothing)")
        if "timestamp" in fields and not self.timestamp_header:
            settings.problem("signed_payload", "uses {timestamp} but timestamp_header is not set")
        if "id" in fields and not self.id_header:
            settings.problem("signed_payload", "uses {id} but id_header is not set")
        self.digest_size = hashlib.new(self.algorithm).digest_size
        settings.done()

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> Verified:
        signature = header(headers, self.header)
        if signature is None:
            raise Rejected("unsigned", f"no {self.label} header")
        values = {"body": body}
        timestamp = None
        if self.timestamp_header:
            timestamp = header(headers, self.timestamp_header)
            if timestamp is None:
                raise Rejected("unsigned", "no timestamp header")
            values["timestamp"] = header_bytes(headers, self.timestamp_header) or b""
        delivery = header(headers, self.id_header) if self.id_header else None
        if self.id_header:
            if delivery is None and any(p == "id" for p in self.parts):
                raise Rejected("unsigned", "no delivery id header")
            values["id"] = header_bytes(headers, self.id_header) or b""  # signed as sent
        if not signature.startswith(self.prefix):
            raise Rejected("bad_signature", f"{self.label} does not start with the configured prefix")
        text = signature[len(self.prefix):]
        digest = decode_hex(text) if self.encoding == "hex" else decode_base64(text)
        if digest is None or len(digest) != self.digest_size:
            raise Rejected("bad_signature", f"{self.label} is not a {self.encoding} {self.algorithm} digest")
        message = b"".join(values[p] if isinstance(p, str) else p for p in self.parts)
        if not hmac_matches(self.secrets, self.algorithm, message, [digest]):
            raise Rejected("bad_signature", f"{self.label} matches no configured secret")
        if timestamp is not None:
            within_window(timestamp, now, self.tolerance, "the timestamp")
        event = header(headers, self.event_header) if self.event_header else None
        return Verified(delivery or body_id(body), event)
