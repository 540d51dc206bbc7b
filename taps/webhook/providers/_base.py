"""What every provider's verifier shares: the result, the rejection, and the careful primitives.

A verifier is built once per source from its settings (all problems reported together, as a
:class:`ConfigError`) and then called for every request with the lower-cased headers, the raw body
bytes and the receiver's clock. It returns :class:`Verified` or raises :class:`Rejected`.

Rules every provider follows here:

- signatures are compared with :func:`hmac.compare_digest`, on decoded bytes, against each
  configured secret in turn (several are active while a secret is being rotated);
- a rejection's message names the reason and the header, never a secret, a signature value,
  any other header value, or a byte of the body (they are attacker-controlled or confidential);
- the signature is checked before the timestamp, so ``expired`` means "signed by the provider,
  but too old" (a replay or a stuck queue) and ``bad_signature`` means "not from the provider".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from protocol import ConfigError, SluiceError

__all__ = [
    "DEFAULT_TOLERANCE_SECONDS",
    "Headers",
    "Reason",
    "Rejected",
    "Settings",
    "Verified",
    "Verifier",
    "body_id",
    "decode_base64",
    "decode_hex",
    "decode_headers",
    "header",
    "header_bytes",
    "hmac_matches",
    "within_window",
]

DEFAULT_TOLERANCE_SECONDS = 300

Reason = Literal["unsigned", "bad_signature", "expired", "bad_body"]


@dataclass(frozen=True, slots=True)
class Verified:
    """A request that passed its source's verification.

    ``delivery_id`` is the provider's id for the delivery (stable across the provider's retries, so
    the spool stores it once) or ``sha256:<hex of the body>`` when the provider sends none.
    ``reply``, when set, is a body to answer with *instead of* storing the request (Slack's
    ``url_verification`` handshake).
    """

    delivery_id: str
    event_type: str | None
    reply: bytes | None = None
    reply_content_type: str = "application/json"


class Rejected(SluiceError):
    """A request that failed verification; the receiver answers 401 (``bad_body``: 400) and stores nothing.

    ``reason`` is one of ``unsigned`` (no signature or token header), ``bad_signature`` (none matches
    any configured secret, or it cannot be decoded), ``expired`` (signed, but its timestamp is outside
    the tolerance window) and ``bad_body`` (signed, but the body is not what the provider sends).
    The message never contains a secret, a header value or body bytes.
    """

    def __init__(self, reason: Reason, detail: str) -> None:
        self.reason: Reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


class Verifier(Protocol):
    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> Verified:
        """Check one request. ``headers`` has lower-case names. Raises :class:`Rejected`."""
        ...


class Headers(dict[str, str]):
    """A request's headers as text (lower-case names), with the bytes each value arrived as in ``raw``.

    Records and delivery ids want text; a signature over a header (GitLab's token, a signed
    timestamp or id) must be checked against the exact bytes sent. No decoding can serve both: a
    value that is not UTF-8 is read as latin-1, and ``é`` then stands for b"\\xe9" or b"\\xc3\\xa9"."""

    raw: dict[str, bytes]


def header_text(value: bytes) -> str:
    """A header value as text: UTF-8 when it is valid UTF-8 (what providers send: ``naïve`` stays
    ``naïve``), else latin-1 (every byte sequence decodes, and ASCII reads the same either way, so
    the ids of headers already spooled, all ASCII so far, do not change)."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def decode_headers(pairs: Iterable[tuple[bytes, bytes]]) -> Headers:
    """The ASGI server's raw ``(name, value)`` pairs (names already lower case) as :class:`Headers`;
    a repeated header keeps its last value. Names are tokens (ASCII): latin-1 reads them as they are."""
    raw = {name.decode("latin-1"): value for name, value in pairs}
    headers = Headers({name: header_text(value) for name, value in raw.items()})
    headers.raw = raw
    return headers


def header(headers: Mapping[str, str], name: str) -> str | None:
    """The header's value with surrounding blanks removed, or None when absent or empty. Blanks are
    HTTP's (space and tab, RFC 9110's OWS): str.strip() would also cut a secret's trailing NBSP or
    NEL (U+00A0, U+0085) and refuse a valid token."""
    value = headers.get(name)
    if value is None:
        return None
    value = value.strip(" \t")
    return value or None


def header_bytes(headers: Mapping[str, str], name: str) -> bytes | None:
    """The header's value as the bytes that were sent (blanks removed as :func:`header` does), for
    what is compared with a secret or signed: byte-exact, whatever the text decoding made of them.
    Headers given as plain text (a caller other than the receiver) stand for their UTF-8."""
    if isinstance(headers, Headers):
        value = headers.raw.get(name)
        if value is None:
            return None
        value = value.strip(b" \t")
        return value or None
    text = header(headers, name)
    return None if text is None else text.encode("utf-8", "surrogateescape")


def body_id(body: bytes) -> str:
    """The delivery id of a provider that sends none: ``sha256:`` and the hex digest of the body."""
    return "sha256:" + hashlib.sha256(body).hexdigest()


def decode_hex(text: str) -> bytes | None:
    """Hex (either case) to bytes; None when it is not hex."""
    try:
        return bytes.fromhex(text)
    except ValueError:
        return None


def decode_base64(text: str) -> bytes | None:
    """Standard base64 (padding required) to bytes; None when it is not base64."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def hmac_matches(secrets: Sequence[bytes], algorithm: str, message: bytes, candidates: Sequence[bytes]) -> bool:
    """True when some candidate equals HMAC(secret, message) for some secret.

    Each comparison is constant-time. The loop stops at the first secret that matches: how long it
    takes tells at most *which* configured secret signed (their order is in the config file), never
    anything about a secret's or a signature's bytes; and the common case, one active secret listed
    first, costs one HMAC.
    """
    for secret in secrets:
        digest = hmac.digest(secret, message, algorithm)
        for candidate in candidates:
            if hmac.compare_digest(candidate, digest):
                return True
    return False


def within_window(timestamp: str, now: float, tolerance: float, name: str) -> None:
    """Raise ``expired`` unless the Unix-seconds ``timestamp`` is within ``tolerance`` of ``now`` (either side).

    Call it only after the signature over the timestamp has been checked. A timestamp that is not
    a number was not produced by the provider: ``bad_signature``.
    """
    try:
        when = float(timestamp)
    except ValueError:
        raise Rejected("bad_signature", f"{name} is not a Unix time") from None
    if not math.isfinite(when):
        raise Rejected("bad_signature", f"{name} is not a Unix time")
    if abs(now - when) > tolerance:
        raise Rejected("expired", f"{name} is more than {tolerance:g} seconds from the receiver's clock")


class Settings:
    """Reads one source's settings, collecting every problem; :meth:`done` raises them together.

    Problems name the setting (``sources.NAME.secrets``), never a secret's value.
    """

    def __init__(self, name: str, source: Mapping[str, Any]) -> None:
        self.name = name
        self.source = source
        self.problems: list[str] = []

    def where(self, key: str) -> str:
        return f"sources.{self.name}.{key}"

    def problem(self, key: str, text: str) -> None:
        self.problems.append(f"{self.where(key)}: {text}")

    def secrets(self) -> tuple[bytes, ...]:
        value = self.source.get("secrets")
        if not isinstance(value, list | tuple) or not value:
            self.problem("secrets", "must be a non-empty list of secrets")
            return ()
        out: list[bytes] = []
        for index, secret in enumerate(value):
            if not isinstance(secret, str) or not secret:
                self.problem(f"secrets[{index}]", "must be a non-empty string")
            else:
                out.append(secret.encode("utf-8"))
        return tuple(out)

    def tolerance(self) -> float:
        value = self.source.get("tolerance_seconds", DEFAULT_TOLERANCE_SECONDS)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
            self.problem("tolerance_seconds", "must be a positive number of seconds")
            return DEFAULT_TOLERANCE_SECONDS
        return float(value)

    def text(self, key: str, default: str | None, check: Callable[[str], str | None] | None = None) -> str | None:
        """An optional string setting; ``check`` returns a problem or None."""
        value = self.source.get(key, default)
        if value is None:
            return None
        if not isinstance(value, str):
            self.problem(key, "must be a string")
            return default
        if check is not None and (trouble := check(value)) is not None:
            self.problem(key, trouble)
            return default
        return value

    def choice(self, key: str, default: str, allowed: Sequence[str]) -> str:
        value = self.source.get(key, default)
        if value not in allowed:
            self.problem(key, "must be one of " + ", ".join(allowed))
            return default
        return str(value)

    def done(self) -> None:
        if self.problems:
            raise ConfigError(f"webhook source '{self.name}': invalid settings", self.problems)


def header_name(value: str) -> str | None:
    """A check for :meth:`Settings.text`: an HTTP header name (a token, no spaces or colons)."""
    if not value or any(c.isspace() or c in ':"(),/;<=>?@[\\]{}' for c in value) or not value.isascii():
        return "must be an HTTP header name"
    return None
