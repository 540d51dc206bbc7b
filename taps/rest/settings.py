"""tap-rest's settings: their schema (what ``--about`` publishes and the config is validated
against) and the frozen objects the tap reads them from, built once from the validated config:
:class:`RestSettings` for the whole config, a :class:`StreamSettings` per ``streams`` entry
(with the top-level defaults applied) and an :class:`AuthSettings` for each set of credentials.

Defaults are stated once, in the schemas; a ``streams`` entry's unset ``records_path``,
``pagination`` and ``num_inference_records`` are the top-level ones.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from protocol import ConfigError, build_settings, setting
from protocol.http import PAGINATION_SCHEMA, HttpSettings, PaginationSettings, http_settings

__all__ = ["AUTH_METHODS", "AUTH_SETTINGS", "SETTINGS", "STREAM_SCHEMA", "AuthSettings", "RestSettings",
           "StreamSettings"]

AUTH_METHODS = ["no_auth", "api_key", "bearer_token", "basic", "oauth"]

_STR_MAP = {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}}
_SECRET = {"type": "string", "secret": True, "writeOnly": True}

AUTH_SETTINGS: dict[str, Any] = {
    "auth_method": {"enum": AUTH_METHODS, "default": "no_auth", "description": "How to authenticate."},
    "api_keys": {"type": "object", "additionalProperties": {"type": "string"}, "secret": True,
                 "description": "api_key: one {name: value} pair."},
    "api_key_location": {"enum": ["header", "query"], "default": "header",
                         "description": "api_key: send the key as a header or a query parameter."},
    "bearer_token": {**_SECRET, "description": "bearer_token: the token."},
    "username": {"type": "string", "description": "basic: the user name."},
    "password": {**_SECRET, "description": "basic: the password."},
    "access_token_url": {"type": "string", "description": "oauth: the token endpoint."},
    "client_id": {"type": "string", "description": "oauth: the client id."},
    "client_secret": {**_SECRET, "description": "oauth: the client secret."},
    "grant_type": {"enum": ["client_credentials", "refresh_token"], "default": "client_credentials",
                   "description": "oauth: the grant."},
    "refresh_token": {**_SECRET, "description": "oauth refresh_token grant: the refresh token."},
    "scope": {"type": "string", "description": "oauth: the scopes requested."},
}
_AUTH_SCHEMA: dict[str, Any] = {"type": "object", "properties": AUTH_SETTINGS}

#: the credentials each method needs
_NEEDS: dict[str, tuple[str, ...]] = {
    "no_auth": (), "api_key": ("api_keys",), "bearer_token": ("bearer_token",), "basic": ("username", "password"),
    "oauth": ("access_token_url", "client_id", "client_secret"),
}

STREAM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name", "path"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "description": "The stream name."},
        "path": {"type": "string", "description": "The endpoint path under api_url (or a full URL)."},
        "records_path": {"type": "string", "description": "JSONPath of the records in a response (default: the "
                                                          "top-level records_path)."},
        "primary_keys": {"type": "array", "items": {"type": "string"}, "default": [],
                         "description": "Key properties."},
        "replication_key": {"type": "string", "description": "The field that orders changes (incremental sync)."},
        "replication_param": {"type": "string",
                              "description": "Query parameter that carries the bookmark (or start_date); needs "
                                             "replication_key."},
        "params": {**_STR_MAP, "description": "Query parameters of this stream (over the top-level params)."},
        "headers": {**_STR_MAP, "description": "Extra headers of this stream."},
        "pagination": {**PAGINATION_SCHEMA, "description": "This stream's pagination (default: the top-level "
                                                           "pagination)."},
        "schema": {"type": "object", "description": "The stream's JSON Schema; inferred from a sample when unset."},
        "num_inference_records": {"type": "integer", "minimum": 0,
                                  "description": "Records sampled to infer (default: the top-level setting)."},
        **AUTH_SETTINGS,
    },
    "additionalProperties": False,
}

SETTINGS: dict[str, Any] = {
    "type": "object",
    "required": ["api_url", "streams"],
    "properties": {
        "api_url": {"type": "string", "pattern": "^https?://", "description": "The API's base URL."},
        "streams": {"type": "array", "minItems": 1, "items": STREAM_SCHEMA,
                    "description": "The streams. An entry that sets any auth setting authenticates with its "
                                   "own settings over the top-level ones."},
        "params": {**_STR_MAP, "description": "Query parameters of every request."},
        "headers": {**_STR_MAP, "description": "Headers of every request."},
        "records_path": {"type": "string", "default": "$[*]", "description": "Default JSONPath of the records."},
        "pagination": PAGINATION_SCHEMA,
        "num_inference_records": {"type": "integer", "minimum": 0, "default": 50,
                                  "description": "Records sampled to infer a schema (0: the first page)."},
        "start_date": {"type": "string",
                       "description": "First value of the replication parameter when there is no bookmark."},
        **AUTH_SETTINGS,
        **http_settings("sluice-tap-rest"),
    },
}


def _map(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


@dataclass(frozen=True)
class AuthSettings:
    """One set of credentials: the top-level auth settings, or a stream's over them."""

    auth_method: str
    api_keys: Mapping[str, str] | None
    api_key_location: str
    bearer_token: str | None
    username: str | None
    password: str | None
    access_token_url: str | None
    client_id: str | None
    client_secret: str | None
    grant_type: str
    refresh_token: str | None
    scope: str | None

    @classmethod
    def from_config(cls, config: Mapping[str, Any], where: str = "") -> AuthSettings:
        """The auth settings of ``config``; the credentials its method needs must be there."""
        keys = setting(_AUTH_SCHEMA, config, "api_keys")
        built = build_settings(cls, _AUTH_SCHEMA, config, api_keys=_map(keys) if keys is not None else None)
        method = built.auth_method
        needs = _NEEDS[method] + (("refresh_token",) if method == "oauth" and built.grant_type == "refresh_token"
                                  else ())
        missing = [name for name in needs if not getattr(built, name)]
        if missing:
            raise ConfigError(f"{where}auth_method '{method}' needs", [f"setting '{n}' is missing" for n in missing])
        if method == "api_key" and len(built.api_keys or {}) != 1:
            raise ConfigError(f"{where}setting 'api_keys' must hold exactly one name: value pair")
        return built


@dataclass(frozen=True)
class StreamSettings:
    """A ``streams`` entry, with the top-level defaults applied."""

    name: str
    path: str
    records_path: str
    primary_keys: tuple[str, ...]
    replication_key: str | None
    replication_param: str | None
    params: Mapping[str, Any]  # the top-level params, then the stream's
    headers: Mapping[str, Any]
    pagination: PaginationSettings
    schema: dict[str, Any] | None
    num_inference_records: int
    #: the stream's own credentials (over the top-level ones), when it sets any auth setting
    auth: AuthSettings | None

    @classmethod
    def from_config(cls, item: Mapping[str, Any], config: Mapping[str, Any]) -> StreamSettings:
        def own(name: str) -> Any:
            value = setting(STREAM_SCHEMA, item, name)
            return setting(SETTINGS, config, name) if value is None else value

        name = setting(STREAM_SCHEMA, item, "name")
        where = f"streams entry '{name}': "
        param = setting(STREAM_SCHEMA, item, "replication_param")
        if param is not None and setting(STREAM_SCHEMA, item, "replication_key") is None:
            raise ConfigError(f"{where}replication_param '{param}' has no effect without a replication_key "
                              "(the field whose bookmark it carries)")
        schema = setting(STREAM_SCHEMA, item, "schema")
        has_auth = any(item.get(key) is not None for key in AUTH_SETTINGS)
        # (the entry's schema is copied, not shared with the config; build_settings takes
        # ``schema`` as its own parameter, so the copy goes in through the entry)
        item = {**item, "schema": copy.deepcopy(schema) if schema else None}
        return build_settings(
            cls, STREAM_SCHEMA, item,
            records_path=own("records_path"),
            params=_map({**(setting(SETTINGS, config, "params") or {}), **(setting(STREAM_SCHEMA, item, "params")
                                                                           or {})}),
            headers=_map(setting(STREAM_SCHEMA, item, "headers")),
            pagination=PaginationSettings.from_config(
                own("pagination"), f"streams entry '{name}': pagination" if item.get("pagination") else "pagination"),
            num_inference_records=own("num_inference_records"),
            auth=AuthSettings.from_config({**config, **item}, where) if has_auth else None)


@dataclass(frozen=True)
class RestSettings:
    """Everything tap-rest reads from its config."""

    api_url: str  # without a trailing slash
    streams: tuple[StreamSettings, ...]
    headers: Mapping[str, Any]
    start_date: str | None
    auth: AuthSettings
    http: HttpSettings

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> RestSettings:
        streams = tuple(StreamSettings.from_config(item, config) for item in setting(SETTINGS, config, "streams"))
        names = [stream.name for stream in streams]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ConfigError("each streams entry needs its own 'name'", [f"'{n}' is used twice" for n in twice])
        return build_settings(cls, SETTINGS, config, api_url=str(setting(SETTINGS, config, "api_url")).rstrip("/"),
                              streams=streams, headers=_map(setting(SETTINGS, config, "headers")),
                              auth=AuthSettings.from_config(config), http=HttpSettings.from_config(config, SETTINGS))
