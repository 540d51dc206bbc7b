"""tap-jira's settings: their schema (what ``--about`` publishes and the config is validated against)
and the one frozen object the tap reads them from, built once from the validated config.

Settings follow MeltanoLabs tap-jira: ``domain``, ``email``, ``api_token``, ``start_date``, ``end_date``,
``auth`` (``flow`` password or oauth), ``cloud_id``, ``page_size``, ``stream_options``,
``include_audit_logs``; plus ``time_zone``, ``search_api`` and the HTTP kit's settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from protocol import ConfigError, build_settings, setting
from protocol.http import HttpSettings, http_settings

__all__ = ["PAGE_SIZES", "SETTINGS", "JiraSettings"]

#: per listing: (default, largest Jira accepts)
PAGE_SIZES: dict[str, tuple[int, int]] = {
    "issues": (100, 5000), "comments": (100, 5000), "changelogs": (100, 100), "users": (100, 1000),
    "projects": (50, 100), "boards": (50, 50), "sprints": (50, 50)}

_PAGE_SIZE = {"type": "object", "additionalProperties": False, "properties": {
    name: {"type": "integer", "minimum": 1, "maximum": top, "default": default,
           "description": f"Records per page of the {name} listing (at most {top})."}
    for name, (default, top) in PAGE_SIZES.items()}}

_AUTH = {
    "type": "object", "additionalProperties": False, "required": ["flow"],
    "description": "How to authenticate, as MeltanoLabs tap-jira's auth object: flow 'password' (username = "
                   "e-mail, password = API token: Basic auth) or 'oauth' (access_token: Bearer). "
                   "When unset, email and api_token are used.",
    "properties": {
        "flow": {"enum": ["password", "oauth"], "description": "'password' (Basic) or 'oauth' (Bearer)."},
        "username": {"type": "string", "description": "password flow: the account's e-mail address."},
        "password": {"type": "string", "secret": True, "writeOnly": True,
                     "description": "password flow: the account's API token."},
        "access_token": {"type": "string", "secret": True, "writeOnly": True,
                         "description": "oauth flow: an OAuth 2.0 (3LO) access token."},
    },
}

SETTINGS: dict[str, Any] = {
    "type": "object",
    "required": ["domain"],
    "properties": {
        "domain": {"type": "string", "minLength": 1,
                   "description": "The Jira site, e.g. example.atlassian.net (https is implied), or a full "
                                  "base URL such as http://127.0.0.1:8080."},
        "email": {"type": "string", "description": "The account's e-mail address (Basic auth with api_token)."},
        "api_token": {"type": "string", "secret": True, "writeOnly": True,
                      "description": "The account's Jira API token (Basic auth with email)."},
        "auth": _AUTH,
        "cloud_id": {"type": "string",
                     "description": "The site's cloud id: requests then go to the Atlassian API gateway "
                                    "(https://api.atlassian.com/ex/jira/CLOUD_ID), as OAuth apps must."},
        "start_date": {"type": "string", "format": "date-time",
                       "description": "Sync only issues updated at or after this time, when there is no bookmark."},
        "end_date": {"type": "string", "format": "date-time",
                     "description": "Sync only issues updated at or before this time."},
        "time_zone": {"type": "string",
                      "description": "The Jira user's time zone (IANA name), in which Jira reads JQL times; "
                                     "unset: read from /rest/api/3/myself once per run."},
        "search_api": {"enum": ["jql", "legacy"], "default": "jql",
                       "description": "Issue search: 'jql' (/rest/api/3/search/jql, nextPageToken pages) or "
                                      "'legacy' (/rest/api/3/search, startAt/maxResults/total pages)."},
        "page_size": _PAGE_SIZE,
        "stream_options": {"type": "object", "description": "Options for individual streams.", "properties": {
            "issues": {"type": "object", "description": "Options of the issues stream (and of the issue "
                                                        "comments and changelogs, read for the same issues).",
                       "additionalProperties": False, "properties": {
                "jql": {"type": "string", "description": "A JQL filter of the issues (no ORDER BY; the tap "
                                                         "adds the updated window and its order)."},
                "fields": {"type": "string", "default": "*all",
                           "description": "Comma-separated issue fields to request (default: *all)."},
            }},
        }},
        "include_audit_logs": {"type": "boolean", "default": False,
                               "description": "Accepted for compatibility with MeltanoLabs tap-jira; no effect "
                                              "(this tap has no audit log stream)."},
        **http_settings("sluice-tap-jira"),
    },
}


@dataclass(frozen=True)
class JiraSettings:
    base_url: str  # without a trailing slash, e.g. https://example.atlassian.net
    agile_url: str  # the Agile API: base_url + /rest/agile/1.0
    username: str | None  # Basic auth
    password: str | None
    access_token: str | None  # Bearer auth
    start_date: datetime | None
    end_date: datetime | None
    time_zone: ZoneInfo | None
    search_api: str
    page_sizes: dict[str, int]
    jql: str | None
    fields: str
    http: HttpSettings

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> JiraSettings:
        base = _base_url(str(setting(SETTINGS, config, "domain")), config.get("cloud_id"))
        username, password, token = _credentials(config)
        issues = (config.get("stream_options") or {}).get("issues") or {}
        jql = issues.get("jql") or None
        if jql and " order by " in f" {jql.lower()} ":
            raise ConfigError("setting 'stream_options.issues.jql': remove its ORDER BY "
                              "(the tap orders by updated to keep its bookmark)")
        given = config.get("page_size") or {}
        return build_settings(
            cls, SETTINGS, config,
            base_url=base, agile_url=f"{base}/rest/agile/1.0", username=username, password=password,
            access_token=token, start_date=_time("start_date", config.get("start_date")),
            end_date=_time("end_date", config.get("end_date")), time_zone=_zone(config.get("time_zone")),
            page_sizes={name: int(given.get(name) or default) for name, (default, _) in PAGE_SIZES.items()},
            jql=jql, fields=str(issues.get("fields") or "*all"),
            http=HttpSettings.from_config(config, SETTINGS))


def _base_url(domain: str, cloud_id: Any) -> str:
    if cloud_id:
        return f"https://api.atlassian.com/ex/jira/{cloud_id}"
    domain = domain.strip().rstrip("/")
    return domain if domain.startswith(("http://", "https://")) else f"https://{domain}"


def _credentials(config: Mapping[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(username, password, access_token) from ``auth`` or else email + api_token."""
    auth = config.get("auth")
    if auth:
        if auth["flow"] == "oauth":
            if not auth.get("access_token"):
                raise ConfigError("setting 'auth': flow 'oauth' needs access_token")
            return None, None, str(auth["access_token"])
        if not (auth.get("username") and auth.get("password")):
            raise ConfigError("setting 'auth': flow 'password' needs username and password")
        return str(auth["username"]), str(auth["password"]), None
    if config.get("email") and config.get("api_token"):
        return str(config["email"]), str(config["api_token"]), None
    raise ConfigError("invalid config", ["set email and api_token, or auth (flow 'password' or 'oauth')"])


def _time(name: str, value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(f"setting '{name}': {value!r} is not an ISO 8601 date-time") from exc
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def _zone(value: Any) -> ZoneInfo | None:
    if not value:
        return None
    try:
        return ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"setting 'time_zone': {value!r} is not an IANA time zone") from exc
