"""The GitHub REST API client: the kit's HttpClient with GitHub's auth, headers and Link paging."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from protocol import FatalSourceError
from protocol.http import Auth, BearerTokenAuth, HttpClient, LinkPaginator
from taps.github.settings import GitHubSettings

__all__ = ["GitHubClient"]

ACCEPT = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}


def _body(body: Any) -> Any:
    return body


class GitHubClient:
    def __init__(self, settings: GitHubSettings) -> None:
        self.api_url = settings.api_url
        self.per_page = settings.per_page
        token = settings.auth_token
        auth: Auth = BearerTokenAuth(token, scheme="token") if token else Auth()
        self.http = HttpClient(settings.http, auth=auth, headers=ACCEPT)
        self._repos: dict[str, dict[str, Any]] = {}

    def close(self) -> None:
        self.http.close()

    def repository(self, full_name: str) -> dict[str, Any]:
        """``GET /repos/{owner}/{repo}`` (cached for the run: children need its id)."""
        repo = self._repos.get(full_name)
        if repo is None:
            _, repo = self.http.get_json(f"{self.api_url}/repos/{full_name}", endpoint="/repos/{owner}/{repo}")
            self._repos[full_name] = repo
        return repo  # type: ignore[no-any-return]

    def pages(self, full_name: str, what: str, params: Mapping[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """Every page of ``GET /repos/{owner}/{repo}/{what}``, following the Link header."""
        url = f"{self.api_url}/repos/{full_name}/{what}"
        endpoint = "/repos/{owner}/{repo}/" + what
        for page in self.http.paginate(url, LinkPaginator(self.per_page), _body, params=params, endpoint=endpoint):
            yield page.records

    def listing(self, full_name: str, what: str) -> tuple[str, str]:
        """The URL of ``GET /repos/{owner}/{repo}/{what}`` and its endpoint label (metrics, errors)."""
        return f"{self.api_url}/repos/{full_name}/{what}", "/repos/{owner}/{repo}/" + what

    def page(self, url: str, params: Mapping[str, Any] | None,
             endpoint: str) -> tuple[list[dict[str, Any]], str | None]:
        """One page and its ``rel="next"`` URL (None on the last page): for callers that choose the
        next request themselves (keyset paging) instead of always following the Link header."""
        response, body = self.http.get_json(url, params=params, endpoint=endpoint)
        if not isinstance(body, list):
            raise FatalSourceError(f"{endpoint}: expected a list of records, got {type(body).__name__}")
        next_url = response.links.get("next", {}).get("url")
        return body, next_url if isinstance(next_url, str) and next_url else None
