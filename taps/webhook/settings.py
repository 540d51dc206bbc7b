"""tap-webhook's settings, shared by the receiver (``tap-webhook serve``) and the tap that drains
the spool, so a project keeps one config file for both.

``SETTINGS`` is the JSON Schema (what ``--about`` publishes and the config is validated against);
:class:`WebhookSettings` is the one frozen object both sides read, built once from the validated
config. Defaults are stated once, here. Nothing in this module needs the ``webhooks`` extra.

    spool:   where deliveries are stored: SQLite (WAL, fsync'd) by default, or PostgreSQL
    server:  the receiver's address, body limit, group-commit window and shutdown grace
    sources: one entry per endpoint ``POST /hooks/<name>``: provider, secrets, kept headers, ...
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from protocol import ConfigError
from taps.webhook.providers import DEFAULT_CONTENT_TYPES, PROVIDERS

__all__ = ["DEFAULT_KEEP_HEADERS", "SETTINGS", "ServerSettings", "SourceSettings", "SpoolSettings", "WebhookSettings"]

#: Headers copied into records when ``keep_headers`` is not set (lower case).
DEFAULT_KEEP_HEADERS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "github": ("x-github-event", "x-github-delivery", "x-github-hook-id"),
    "gitlab": ("x-gitlab-event", "x-gitlab-event-uuid", "x-gitlab-instance"),
    "stripe": (),
    "slack": ("x-slack-retry-num", "x-slack-retry-reason"),
    "shopify": ("x-shopify-topic", "x-shopify-shop-domain", "x-shopify-event-id", "x-shopify-webhook-id",
                "x-shopify-api-version"),
    "hmac": (),
})

_SOURCE_NAME = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$")

_SOURCE: dict[str, Any] = {
    "type": "object",
    "required": ["provider", "secrets"],
    "properties": {
        "provider": {"enum": list(PROVIDERS),
                     "description": "How deliveries are signed: github, gitlab, stripe, slack, shopify, or hmac "
                                    "(a generic HMAC scheme set by the settings below)."},
        "secrets": {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1},
                    "secret": True, "writeOnly": True,
                    "description": "The signing secrets (GitLab: the secret token). Several may be active at "
                                   "once for rotation; a delivery signed with any of them is accepted."},
        "tolerance_seconds": {"type": "integer", "minimum": 1, "default": 300,
                              "description": "Stripe, Slack and timestamped HMAC: a signature older or newer "
                                             "than this is rejected (401)."},
        "content_types": {"type": ["array", "null"], "items": {"type": "string"}, "default": None,
                          "description": "Accepted media types (415 otherwise). Default: what the provider "
                                         "sends (JSON; GitHub and Slack also form-encoded)."},
        "keep_headers": {"type": ["array", "null"], "items": {"type": "string"}, "default": None,
                         "description": "Request headers copied into each record (case-insensitive). Default: "
                                        "the provider's event and delivery headers."},
        "streams": {"enum": ["source", "event_type"], "default": "source",
                    "description": "tap-webhook's streams: one per source, or one per source and event type "
                                   "('<source>__<event type>'; another source named '<source>__...' is refused: "
                                   "it would share a stream)."},
        "id_header": {"type": ["string", "null"], "default": None,
                      "description": "Generic HMAC: the header holding the delivery id. Without it (and for "
                                     "providers that send no id) the id is the SHA-256 of the body."},
        "header": {"type": "string", "default": "X-Signature",
                   "description": "Generic HMAC: the header carrying the signature."},
        "algorithm": {"enum": ["sha256", "sha1", "sha512"], "default": "sha256",
                      "description": "Generic HMAC: the hash function."},
        "encoding": {"enum": ["hex", "base64"], "default": "hex",
                     "description": "Generic HMAC: how the signature is written."},
        "prefix": {"type": "string", "default": "",
                   "description": "Generic HMAC: text before the signature in its header, such as 'sha256='."},
        "timestamp_header": {"type": ["string", "null"], "default": None,
                             "description": "Generic HMAC: the header carrying a unix timestamp that is signed "
                                            "too, checked against tolerance_seconds."},
        "signed_payload": {"type": ["string", "null"], "default": None,
                           "description": "Generic HMAC: what is signed, a template over {body}, {timestamp} and "
                                          "{id}. Default '{body}', or '{timestamp}.{body}' when timestamp_header "
                                          "is set."},
        "event_header": {"type": ["string", "null"], "default": None,
                         "description": "Generic HMAC: the header holding the event type."},
    },
}

_SPOOL: dict[str, Any] = {
    "type": "object",
    "properties": {
        "backend": {"enum": ["sqlite", "postgres"], "default": "sqlite",
                    "description": "Where deliveries are stored: a SQLite file (WAL mode, fsync'd before each "
                                   "acknowledgement) or a PostgreSQL table."},
        "path": {"type": "string", "default": "webhooks.db",
                 "description": "SQLite: the spool file (relative to the working directory)."},
        "dsn": {"type": "string", "secret": True, "writeOnly": True,
                "description": "PostgreSQL: the connection string (postgresql://user:password@host/db)."},
        "table": {"type": "string", "default": "sluice_webhook_deliveries",
                  "description": "PostgreSQL: the spool table, optionally schema-qualified."},
        "dedupe_days": {"type": "number", "minimum": 0, "default": 7,
                        "description": "How long the ids of deliveries tap-webhook has loaded and pruned from "
                                       "the spool are kept, so that a provider's retry of one within that time "
                                       "is answered duplicate and not stored again (Stripe retries for 3 days). "
                                       "0 keeps none."},
        "reader_idle_days": {"type": "number", "exclusiveMinimum": 0, "default": 30,
                             "description": "A pipeline reading the spool (tap-webhook, known by the reader id "
                                            "in its state) holds back pruning until it has read what others "
                                            "loaded; after this long without a run it no longer does, and if it "
                                            "runs again behind what was pruned it fails (exit 2)."},
    },
}

_SERVER: dict[str, Any] = {
    "type": "object",
    "properties": {
        "host": {"type": "string", "default": "127.0.0.1", "description": "Address the receiver listens on."},
        "port": {"type": "integer", "minimum": 0, "maximum": 65535, "default": 8787,
                 "description": "Port the receiver listens on (0: any free port, logged at start)."},
        "max_body_bytes": {"type": "integer", "minimum": 1, "default": 1_048_576,
                           "description": "Larger request bodies are refused with 413 and not stored."},
        "commit_window_ms": {"type": "number", "minimum": 0, "maximum": 1000, "default": 2,
                             "description": "Group commit: the longest a delivery waits for others to share its "
                                            "commit (and fsync). The wait ends early once every request in "
                                            "flight has joined. 0 commits as soon as the spool is free."},
        "shutdown_grace_seconds": {"type": "number", "minimum": 0, "default": 30,
                                   "description": "On SIGTERM or SIGINT, how long requests in flight may take to "
                                                  "finish before the receiver stops."},
    },
}

SETTINGS: dict[str, Any] = {
    "type": "object",
    "required": ["sources"],
    "properties": {
        "spool": {**_SPOOL, "default": {}, "description": "The spool the receiver writes and tap-webhook reads."},
        "server": {**_SERVER, "default": {}, "description": "The receiver (tap-webhook serve)."},
        "sources": {"type": "object", "minProperties": 1, "propertyNames": {"pattern": _SOURCE_NAME},
                    "additionalProperties": _SOURCE,
                    "description": "The webhook sources by name; each is served at POST /hooks/<name>."},
    },
}


def _filled(schema: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """``given`` with the schema's defaults for unset keys, and without the keys the schema does not declare.

    An undeclared key (a typo such as ``dedup_days``) is the kit's to judge, not this parser's:
    :func:`protocol.load_config` already warned about it at every depth, or refused the config
    under ``strict_settings`` (docs/unknown-settings.md). Raising here too made every typo fatal
    despite the warning saying it is ignored."""
    props = schema["properties"]
    out = {key: prop.get("default") for key, prop in props.items()}
    out.update({key: value for key, value in given.items() if value is not None and key in props})
    return out


@dataclass(frozen=True)
class SpoolSettings:
    backend: str  # "sqlite" | "postgres"
    path: str  # SQLite file
    dsn: str | None  # PostgreSQL
    table: str  # PostgreSQL table (validated identifier, optionally schema.table)
    dedupe_days: float  # tombstones of pruned deliveries are kept this long
    reader_idle_days: float  # a reader not seen this long no longer holds back pruning

    @classmethod
    def from_config(cls, raw: Mapping[str, Any]) -> SpoolSettings:
        values = _filled(_SPOOL, raw)
        if values["backend"] == "postgres" and not values["dsn"]:
            raise ConfigError("invalid config", ["setting 'spool.dsn' is required when spool.backend is 'postgres'"])
        if not _IDENTIFIER.match(values["table"]):
            raise ConfigError("invalid config", [f"setting 'spool.table': {values['table']!r} is not a table name "
                                                 "(letters, digits, _; optionally schema.table)"])
        return cls(**values)


@dataclass(frozen=True)
class ServerSettings:
    host: str
    port: int
    max_body_bytes: int
    commit_window_ms: float
    shutdown_grace_seconds: float

    @classmethod
    def from_config(cls, raw: Mapping[str, Any]) -> ServerSettings:
        return cls(**_filled(_SERVER, raw))


@dataclass(frozen=True)
class SourceSettings:
    name: str
    provider: str
    content_types: frozenset[str]  # media types, lower case
    keep_headers: tuple[str, ...]  # lower case, each once
    streams: str  # "source" | "event_type"
    options: Mapping[str, Any] = field(repr=False)  # the source's set values and defaults: what verifier_for reads

    @classmethod
    def from_config(cls, name: str, raw: Mapping[str, Any]) -> SourceSettings:
        values = _filled(_SOURCE, raw)
        provider = values["provider"]
        types = values["content_types"] or DEFAULT_CONTENT_TYPES[provider]
        keep = values["keep_headers"] if values["keep_headers"] is not None else DEFAULT_KEEP_HEADERS[provider]
        return cls(name=name, provider=provider,
                   content_types=frozenset(t.split(";")[0].strip().lower() for t in types),
                   keep_headers=tuple(dict.fromkeys(h.strip().lower() for h in keep)),
                   streams=values["streams"],
                   options=MappingProxyType({k: v for k, v in values.items() if v is not None}))


@dataclass(frozen=True)
class WebhookSettings:
    spool: SpoolSettings
    server: ServerSettings
    sources: Mapping[str, SourceSettings]  # by name, in config order

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> WebhookSettings:
        sources = config.get("sources") or {}
        if not sources:
            raise ConfigError("invalid config", ["setting 'sources': at least one source is required"])
        built = {name: SourceSettings.from_config(name, raw) for name, raw in sources.items()}
        # a source streaming by event type names its streams "<source>__<event type>": another source
        # named so would share a stream with it, and deliveries of the two with one id one key
        clashes = [f"setting 'sources': source {other!r} would write into the streams of source {name!r}, which "
                   f"are named '{name}__<event type>' (streams: event_type): rename one of them"
                   for name, source in built.items() if source.streams == "event_type"
                   for other in built if other != name and other.casefold().startswith(name.casefold() + "__")]
        if clashes:
            raise ConfigError("invalid config", clashes)
        return cls(spool=SpoolSettings.from_config(config.get("spool") or {}),
                   server=ServerSettings.from_config(config.get("server") or {}),
                   sources=MappingProxyType(built))
