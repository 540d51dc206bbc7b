"""tap-gitlab's pure parts: GitLab times, the settings' shapes, error bodies as one line."""

from __future__ import annotations

import pytest

from protocol import ConfigError
from taps.gitlab.client import clean_message, project_ref
from taps.gitlab.settings import GitLabSettings, gitlab_time


@pytest.mark.parametrize(("given", "expected"), [
    ("2024-01-01T00:00:00.000Z", "2024-01-01T00:00:00.000Z"),     # GitLab's own: untouched
    ("2024-01-01T00:00:00Z", "2024-01-01T00:00:00.000Z"),
    ("2024-01-01T02:30:00.123+02:00", "2024-01-01T00:30:00.123Z"),  # self-managed in another zone
    ("2024-01-01T00:00:00.123456Z", "2024-01-01T00:00:00.123Z"),
    ("2024-01-01", "2024-01-01T00:00:00.000Z"),
    ("2023-12-31T23:59:59.999-00:30", "2024-01-01T00:29:59.999Z"),
])
def test_gitlab_time_is_one_comparable_form(given: str, expected: str) -> None:
    assert gitlab_time(given) == expected


def test_gitlab_time_orders_like_the_instants() -> None:
    a, b = gitlab_time("2024-01-01T01:00:00+02:00"), gitlab_time("2024-01-01T00:00:00.500Z")
    assert a < b  # 23:00 the day before < 00:00:00.5, though the raw strings sort the other way


@pytest.mark.parametrize(("message", "expected"), [
    ("/projects/:id: HTTP 401 401 Unauthorized", "/projects/:id: HTTP 401 Unauthorized"),
    ("/projects/:id: HTTP 404 404 Project Not Found", "/projects/:id: HTTP 404 Project Not Found"),
    ("/projects/:id: HTTP 403 Forbidden", "/projects/:id: HTTP 403 Forbidden"),
    ('/projects/:id/issues: HTTP 400 {"message":{"scope":["is invalid"],"sort":["bad","worse"]}}',
     "/projects/:id/issues: HTTP 400 scope is invalid, sort bad; worse"),
    ('/x: HTTP 400 {"error":"order_by is not valid"}', "/x: HTTP 400 order_by is not valid"),
    ("/x: HTTP 500 {not json", "/x: HTTP 500 {not json"),
    ("/x: HTTP 429 Retry later", "/x: HTTP 429 Retry later"),
])
def test_error_bodies_become_one_line(message: str, expected: str) -> None:
    assert clean_message(message) == expected


def test_groups_and_projects_as_strings_or_lists() -> None:
    settings = GitLabSettings.from_config({"projects": " acme/web  acme/web other/x/ ", "groups": ["g1", "g2/sub"]})
    assert settings.projects == ("acme/web", "other/x") and settings.groups == ("g1", "g2/sub")
    assert settings.api_url == "https://gitlab.com/api/v4"
    assert GitLabSettings.from_config({"projects": "7", "api_url": "https://h/api/v4/"}).api_url == "https://h/api/v4"
    assert project_ref("acme/sub/web") == "acme%2Fsub%2Fweb" and project_ref("42") == "42"


def test_settings_refused() -> None:
    with pytest.raises(ConfigError, match="at least one group or project"):
        GitLabSettings.from_config({"projects": "  ", "groups": []})
    with pytest.raises(ConfigError, match="both set"):
        GitLabSettings.from_config({"projects": "a/b", "private_token": "x", "oauth_token": "y"})
    with pytest.raises(ConfigError, match="start_date"):
        GitLabSettings.from_config({"projects": "a/b", "start_date": "yesterday"})
