"""tap-rest: any JSON REST API, described entirely in the config file.

Each ``streams`` entry names a path, where the records are in the response (a JSONPath),
the primary keys, the replication key and the query parameter that carries its bookmark,
the pagination style, and a schema (given, or inferred from a sample). Auth and the
top-level ``params``/``headers``/``pagination`` apply to every stream. Setting names follow
tap-rest-api-msdk where it has them.
"""

from __future__ import annotations

from typing import Any, ClassVar

from protocol import Bookmarks, Catalog, ConfigError, MessageWriter, Tap, plural, tap_main
from protocol.http import HTTP_SETTINGS, PAGINATION_SCHEMA
from taps.rest.client import AUTH_METHODS, RestClient
from taps.rest.streams import RestStream, StreamSpec

__all__ = ["AUTH_SETTINGS", "STREAM_SCHEMA", "TapRest", "main"]

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

STREAM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name", "path"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "description": "The stream name."},
        "path": {"type": "string", "description": "The endpoint path under api_url (or a full URL)."},
        "records_path": {"type": "string", "description": "JSONPath of the records in a response (default $[*])."},
        "primary_keys": {"type": "array", "items": {"type": "string"}, "description": "Key properties."},
        "replication_key": {"type": "string", "description": "The field that orders changes (incremental sync)."},
        "replication_param": {"type": "string",
                              "description": "Query parameter that carries the bookmark (or start_date)."},
        "params": {**_STR_MAP, "description": "Query parameters of this stream."},
        "headers": {**_STR_MAP, "description": "Extra headers of this stream."},
        "pagination": PAGINATION_SCHEMA,
        "schema": {"type": "object", "description": "The stream's JSON Schema; inferred from a sample when unset."},
        "num_inference_records": {"type": "integer", "minimum": 0, "description": "Records sampled to infer."},
        **AUTH_SETTINGS,
    },
    "additionalProperties": False,
}


class TapRest(Tap):
    name = "tap-rest"
    description = "Singer tap for any JSON REST API: paths, records, keys, pagination and auth from config."
    settings_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "required": ["api_url", "streams"],
        "properties": {
            "api_url": {"type": "string", "pattern": "^https?://", "description": "The API's base URL."},
            "streams": {"type": "array", "minItems": 1, "items": STREAM_SCHEMA, "description": "The streams."},
            "params": {**_STR_MAP, "description": "Query parameters of every request."},
            "headers": {**_STR_MAP, "description": "Headers of every request."},
            "records_path": {"type": "string", "description": "Default JSONPath of the records."},
            "pagination": PAGINATION_SCHEMA,
            "num_inference_records": {"type": "integer", "minimum": 0, "default": 50,
                                      "description": "Records sampled to infer a schema (0: the first page)."},
            "start_date": {"type": "string",
                           "description": "First value of the replication parameter when there is no bookmark."},
            **AUTH_SETTINGS,
            **HTTP_SETTINGS,
        },
    }

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.specs = [StreamSpec.from_config(item, self.config) for item in self.config["streams"]]
        names = [spec.name for spec in self.specs]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ConfigError("each streams entry needs its own 'name'", [f"'{n}' is used twice" for n in twice])
        self.client = RestClient(self.config)
        self._streams: list[RestStream] | None = None

    def streams(self) -> list[RestStream]:  # type: ignore[override]
        if self._streams is None:
            self._streams = [RestStream(self, spec) for spec in self.specs]
        return self._streams

    def test_connection(self) -> str:
        stream = self.streams()[0]
        try:
            records = next(stream.pages(dict(stream.spec.params)), [])
        finally:
            self.client.close()
        return f"'{stream.name}' answered with {plural(len(records), 'record')}"

    def sync(self, catalog: Catalog, bookmarks: Bookmarks, writer: MessageWriter) -> None:
        try:
            super().sync(catalog, bookmarks, writer)
        finally:
            self.client.close()


main = tap_main(TapRest)
