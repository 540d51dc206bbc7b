"""tap-gitlab's settings: their schema (what ``--about`` publishes and the config is validated
against) and the one frozen object the tap reads them from, built once from the validated config.

Settings follow MeltanoLabs tap-gitlab (the Meltano Hub default variant): ``api_url``,
``private_token``, ``groups``, ``projects`` (space-delimited strings there; lists accepted too),
``start_date``, ``ultimate_license``, ``fetch_merge_request_commits``, ``fetch_pipelines_extended``,
``fetch_group_variables``, ``fetch_project_variables``, ``fetch_site_users``,
``include_license_info_for_projects``, ``requests_cache_path``; plus ``oauth_token``, ``per_page``
and the HTTP kit's settings. Defaults are stated once, here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from protocol import ConfigError, build_settings, setting, utc_instant
from protocol.http import HttpSettings, http_settings

__all__ = ["SETTINGS", "GitLabSettings", "gitlab_instant", "gitlab_time"]

_NAMES = {"type": ["string", "array"], "items": {"type": "string", "minLength": 1}}
_NO_OP = " Accepted for compatibility with MeltanoLabs tap-gitlab; this tap has no such stream, so it changes nothing."

SETTINGS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "api_url": {"type": "string", "default": "https://gitlab.com",
                    "description": "The GitLab instance (self-managed: https://HOST), with or without the "
                                   "'/api/v4' suffix."},
        "private_token": {"type": "string", "secret": True, "writeOnly": True,
                          "description": "A personal, project or group access token, sent in the PRIVATE-TOKEN "
                                         "header."},
        "oauth_token": {"type": "string", "secret": True, "writeOnly": True,
                        "description": "An OAuth 2 access token, sent as 'Authorization: Bearer' (instead of "
                                       "private_token)."},
        "groups": {**_NAMES, "description": "Groups whose projects are synced (subgroups included), by path or id: "
                                            "a space-delimited string ('org1 org2/sub') or a list."},
        "projects": {**_NAMES, "description": "Projects to sync, by path or id: a space-delimited string "
                                              "('org/project1 org/project2') or a list."},
        "start_date": {"type": "string", "format": "date-time",
                       "description": "Sync only what changed at or after this time, when there is no bookmark."},
        "per_page": {"type": "integer", "minimum": 1, "maximum": 100, "default": 100,
                     "description": "Records per page (GitLab allows at most 100)."},
        "include_license_info_for_projects": {"type": "boolean", "default": False,
                                              "description": "Ask for the license of each project named in 'projects' "
                                                             "(GET /projects/:id?license=true); group listings "
                                                             "have no license."},
        "fetch_merge_request_commits": {"type": "boolean", "default": False,
                                        "description": "Offer the 'merge_request_commits' stream (one request "
                                                       "per changed merge request)."},
        "fetch_pipelines_extended": {"type": "boolean", "default": False,
                                     "description": "Offer the 'pipelines_extended' stream (one request per "
                                                    "changed pipeline)."},
        "fetch_site_users": {"type": "boolean", "default": False,
                             "description": "Offer the 'site_users' stream: every user of the instance (GET /users, "
                                            "keyset pages)."},
        "ultimate_license": {"type": "boolean", "default": False,
                             "description": "Would offer the Ultimate-only epics streams." + _NO_OP},
        "fetch_group_variables": {"type": "boolean", "default": False,
                                  "description": "Would offer the 'group_variables' stream." + _NO_OP},
        "fetch_project_variables": {"type": "boolean", "default": False,
                                    "description": "Would offer the 'project_variables' stream." + _NO_OP},
        "requests_cache_path": {"type": "string",
                                "description": "A directory caching API responses in MeltanoLabs tap-gitlab. "
                                               "Accepted and ignored: this tap always reads the live API."},
        **http_settings("sluice-tap-gitlab"),
    },
}


@dataclass(frozen=True)
class GitLabSettings:
    api_url: str  # ends with /api/v4, no trailing slash
    private_token: str | None
    oauth_token: str | None
    groups: tuple[str, ...]
    projects: tuple[str, ...]
    start_date: str | None  # as GitLab writes times, so that strings compare
    per_page: int
    include_license_info_for_projects: bool
    fetch_merge_request_commits: bool
    fetch_pipelines_extended: bool
    fetch_site_users: bool
    http: HttpSettings

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> GitLabSettings:
        groups, projects = _names(config, "groups"), _names(config, "projects")
        if not groups and not projects:
            raise ConfigError("settings 'groups' and 'projects' are both empty: name at least one group or project")
        if config.get("private_token") and config.get("oauth_token"):
            raise ConfigError("settings 'private_token' and 'oauth_token' are both set: use one")
        url = str(setting(SETTINGS, config, "api_url")).rstrip("/")
        start = setting(SETTINGS, config, "start_date")
        return build_settings(
            cls, SETTINGS, config, api_url=url if url.endswith("/api/v4") else f"{url}/api/v4",
            groups=groups, projects=projects, start_date=_start(start) if start else None,
            http=HttpSettings.from_config(config, SETTINGS))


def _names(config: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = config.get(name) or ()
    items = value.split() if isinstance(value, str) else [str(v).strip() for v in value]
    return tuple(dict.fromkeys(i.strip("/") for i in items if i.strip("/")))


def _start(value: Any) -> str:
    try:
        return gitlab_time(str(value))
    except ValueError as exc:
        raise ConfigError(f"setting 'start_date': {value!r} is not an ISO 8601 date-time") from exc


def gitlab_time(value: str) -> str:
    """A time as GitLab.com writes it (``2024-01-01T00:00:00.000Z``, UTC), so that strings compare;
    GitLab's own form passes through untouched. Raises ValueError when it is not ISO 8601."""
    if len(value) == 24 and value[-1] == "Z" and value[19] == ".":
        return value
    parsed = gitlab_instant(value)
    return parsed.strftime("%Y-%m-%dT%H:%M:%S.") + f"{parsed.microsecond // 1000:03d}Z"


gitlab_instant = utc_instant  # a time as an aware UTC datetime (protocol._instants)
