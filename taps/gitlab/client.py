"""The GitLab REST API (v4) client: the kit's HttpClient with GitLab's auth, pagination and error bodies.

Pagination: keyset (``pagination=keyset``, ``order_by=id``) where GitLab offers it (project
listings, ``/users``), falling back to offset pages when the instance answers 405; offset pages
elsewhere. Both follow the ``rel="next"`` URL of the Link header, else ``X-Next-Page``. Rate
limits: GitLab's ``RateLimit-Remaining`` / ``RateLimit-Reset`` and 429 + ``Retry-After`` are read
by the kit. Errors: GitLab's bodies (``{"message": "401 Unauthorized"}``, ``{"message": {"field":
["..."]}}``, ``{"error": ..., "error_description": ...}``) become one line each.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

import orjson

from protocol import FatalSourceError
from protocol.http import (
    ApiKeyAuth,
    Auth,
    BearerTokenAuth,
    HttpClient,
    HttpFatalError,
    HttpRetryableError,
    NextPage,
    Paginator,
    Response,
)
from taps.gitlab.settings import GitLabSettings

__all__ = ["GitLabClient", "GitLabPaginator", "clean_message", "project_ref"]


class GitLabPaginator(Paginator):
    """The ``rel="next"`` Link (keyset and offset pages), else ``X-Next-Page`` (offset pages)."""

    def __init__(self, per_page: int) -> None:
        self.per_page = per_page

    def first_params(self) -> dict[str, Any]:
        return {"per_page": self.per_page}

    def next_page(self, response: Response, body: Any, records: list[Any]) -> NextPage | None:
        if response.headers.get("Link"):
            url = response.links.get("next", {}).get("url")
            if url:
                return NextPage(url=url)
        nxt = (response.headers.get("X-Next-Page") or "").strip()
        if nxt and records:
            return NextPage(params={"page": int(nxt)})
        return None


def project_ref(project: str) -> str:
    """A project (or group) path or id as it goes in a URL: ``org/sub/name`` -> ``org%2Fsub%2Fname``."""
    return quote(project, safe="")


_STATUS_TWICE = re.compile(r"(HTTP (\d{3})) \2 ")


def clean_message(message: str) -> str:
    """GitLab's error body as one readable line: the status not said twice, a JSON body flattened."""
    head, sep, tail = message.partition(" {")
    if sep:
        try:
            body = orjson.loads("{" + tail)
        except orjson.JSONDecodeError:
            body = None
        if isinstance(body, dict):
            message = f"{head} {_flatten(body)}"
    return _STATUS_TWICE.sub(r"\1 ", message)


def _flatten(body: dict[str, Any]) -> str:
    """``{"message": {"title": ["can't be blank"]}}`` -> ``title can't be blank``."""
    value = body.get("message", body.get("error_description", body.get("error", body)))
    if isinstance(value, dict):
        parts = []
        for field, problems in value.items():
            words = "; ".join(map(str, problems)) if isinstance(problems, list) else str(problems)
            parts.append(f"{field} {words}")
        return ", ".join(parts)
    if isinstance(value, list):
        return "; ".join(map(str, value))
    return str(value)


class GitLabClient:
    def __init__(self, settings: GitLabSettings) -> None:
        self.api = settings.api_url
        self.per_page = settings.per_page
        self.license = settings.include_license_info_for_projects
        auth: Auth = Auth()
        if settings.private_token:
            auth = ApiKeyAuth("PRIVATE-TOKEN", settings.private_token)
        elif settings.oauth_token:
            auth = BearerTokenAuth(settings.oauth_token)
        self.http = HttpClient(settings.http, auth=auth, headers={"Accept": "application/json"})
        self._projects: dict[str, dict[str, Any]] = {}
        self._keyset = True  # until the instance answers 405 to a keyset request

    def close(self) -> None:
        self.http.close()

    def get(self, path: str, endpoint: str, params: Mapping[str, Any] | None = None) -> Any:
        try:
            return self.http.get_json(self.api + path, params=params, endpoint=endpoint)[1]
        except (HttpFatalError, HttpRetryableError) as exc:
            raise _cleaned(exc) from exc

    def project(self, ref: str) -> dict[str, Any]:
        """``GET /projects/:id`` (cached for the run: children need its id and path)."""
        project = self._projects.get(ref)
        if project is None:
            params = {"license": "true"} if self.license else None
            project = self.get(f"/projects/{project_ref(ref)}", "/projects/:id", params)
            self._projects[ref] = project
        return project  # type: ignore[no-any-return]

    def page(self, path: str, endpoint: str, params: Mapping[str, Any]) -> tuple[list[dict[str, Any]], bool]:
        """One page of a listing, and whether another follows (a next Link or ``X-Next-Page``)."""
        try:
            response, body = self.http.get_json(self.api + path, params={**params, "per_page": self.per_page},
                                                endpoint=endpoint)
        except (HttpFatalError, HttpRetryableError) as exc:
            raise _cleaned(exc) from exc
        if not isinstance(body, list):
            raise FatalSourceError(f"{endpoint}: expected a list of records, got {type(body).__name__}")
        return body, GitLabPaginator(self.per_page).next_page(response, body, body) is not None

    def pages(self, path: str, endpoint: str, params: Mapping[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """Every page of an offset-paged listing."""
        try:
            for page in self.http.paginate(self.api + path, GitLabPaginator(self.per_page), _rows, params=params,
                                           endpoint=endpoint):
                yield page.records
        except (HttpFatalError, HttpRetryableError) as exc:
            raise _cleaned(exc) from exc

    def keyset_pages(self, path: str, endpoint: str, params: Mapping[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """Every page of a listing ordered by id, keyset-paged; offset-paged (``id_after`` the last
        id seen, so nothing comes twice) when the instance refuses keyset pagination with HTTP 405."""
        last_id: int | None = None
        if self._keyset:
            try:
                for rows in self.pages(path, endpoint, {**params, "pagination": "keyset", "order_by": "id",
                                                        "sort": "asc"}):
                    if rows:
                        last_id = rows[-1].get("id")
                    yield rows
                return
            except HttpFatalError as exc:
                if exc.status != 405:
                    raise
                self._keyset = False
        after = {"id_after": last_id} if last_id is not None else {}
        yield from self.pages(path, endpoint, {**params, **after, "order_by": "id", "sort": "asc"})


def _rows(body: Any) -> Any:
    return body


def _cleaned(exc: HttpFatalError | HttpRetryableError) -> HttpFatalError | HttpRetryableError:
    message = clean_message(str(exc))
    if isinstance(exc, HttpFatalError):
        return HttpFatalError(message, status=exc.status)
    return HttpRetryableError(message, status=exc.status, retry_after=exc.retry_after)
