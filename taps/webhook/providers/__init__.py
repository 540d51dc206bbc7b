"""Signature verification for webhook sources, one module per provider.

``verifier_for(name, source)`` builds the verifier a source's ``provider`` names from its settings
(raising :class:`protocol.ConfigError` with every problem); the receiver calls its
``verify(headers, body, now)`` for each request, with lower-case header names, and gets a
:class:`Verified` or a :class:`Rejected` (``reason``: ``unsigned``, ``bad_signature``, ``expired``,
``bad_body``). Body-size (413) and content-type (415) checks belong to the receiver, before this.
See taps/webhook/PROVIDERS.md for each provider's scheme and settings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from protocol import ConfigError
from taps.webhook.providers._base import (
    DEFAULT_TOLERANCE_SECONDS,
    Headers,
    Reason,
    Rejected,
    Verified,
    Verifier,
    decode_headers,
)
from taps.webhook.providers.generic import HmacVerifier
from taps.webhook.providers.github import GitHubVerifier
from taps.webhook.providers.gitlab import GitLabVerifier
from taps.webhook.providers.shopify import ShopifyVerifier
from taps.webhook.providers.slack import SlackVerifier
from taps.webhook.providers.stripe import StripeVerifier

__all__ = [
    "DEFAULT_CONTENT_TYPES",
    "DEFAULT_TOLERANCE_SECONDS",
    "PROVIDERS",
    "Headers",
    "REASONS",
    "Reason",
    "Rejected",
    "Verified",
    "Verifier",
    "decode_headers",
    "verifier_for",
]

_BUILDERS: dict[str, Callable[[str, Mapping[str, Any]], Verifier]] = {
    "github": GitHubVerifier,
    "gitlab": GitLabVerifier,
    "stripe": StripeVerifier,
    "slack": SlackVerifier,
    "shopify": ShopifyVerifier,
    "hmac": HmacVerifier,
}

#: the values of a source's ``provider`` setting
PROVIDERS: tuple[str, ...] = tuple(_BUILDERS)

#: every value of :attr:`Rejected.reason` (the receiver's ``rejected{reason}`` metric labels)
REASONS: tuple[Reason, ...] = ("unsigned", "bad_signature", "expired", "bad_body")

#: the media types each provider sends, for a source that does not set ``content_types``
DEFAULT_CONTENT_TYPES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "github": ("application/json", "application/x-www-form-urlencoded"),  # the hook's "content type" choice
    "gitlab": ("application/json",),
    "stripe": ("application/json",),
    "slack": ("application/json", "application/x-www-form-urlencoded"),  # Events API; commands, interactivity
    "shopify": ("application/json",),
    "hmac": ("application/json",),
})


def verifier_for(name: str, source: Mapping[str, Any]) -> Verifier:
    """The verifier of source ``name`` (its settings mapping); ConfigError listing every problem."""
    provider = source.get("provider")
    builder = _BUILDERS.get(provider) if isinstance(provider, str) else None
    if builder is None:
        raise ConfigError(f"webhook source '{name}': invalid settings",
                          [f"sources.{name}.provider: must be one of " + ", ".join(PROVIDERS)])
    return builder(name, source)
