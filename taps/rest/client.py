"""The REST client: the kit's HttpClient with the auth named in the settings."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from protocol import FatalSourceError, dumps
from protocol.http import (
    ApiKeyAuth,
    Auth,
    BasicAuth,
    BearerTokenAuth,
    HttpClient,
    OAuth2ClientCredentials,
    OAuth2RefreshToken,
    Paginator,
    PagingError,
    find,
)
from taps.rest.settings import AuthSettings, RestSettings

__all__ = ["RestClient", "auth_from_settings", "extract_records"]

#: characters of a body shown in an error
BODY_SHOWN = 200


def auth_from_settings(settings: AuthSettings) -> Auth:
    """The auth strategy of checked auth settings (:meth:`AuthSettings.from_config` checked them)."""
    method = settings.auth_method
    if method == "api_key":
        name, value = next(iter((settings.api_keys or {}).items()))
        return ApiKeyAuth(name, str(value), settings.api_key_location)
    if method == "bearer_token":
        return BearerTokenAuth(str(settings.bearer_token))
    if method == "basic":
        return BasicAuth(str(settings.username), str(settings.password))
    if method == "oauth":
        url, cid, secret = str(settings.access_token_url), str(settings.client_id), str(settings.client_secret)
        if settings.grant_type == "refresh_token":
            return OAuth2RefreshToken(url, cid, secret, str(settings.refresh_token), scope=settings.scope)
        return OAuth2ClientCredentials(url, cid, secret, scope=settings.scope)
    return Auth()


def extract_records(body: Any, path: str, where: str = "", safe: Callable[[str], str] = str) -> list[Any]:
    """The records of one page: every match of ``path``; a single matched list is the records.

    An empty list is an empty page (the end). An empty body, or ``path`` (or the list it walks)
    missing or null, is an error naming ``where``: taken as an empty page it would end the paging
    early, the pages after it never read. An object where ``path`` walks a list (``[*]``) is an
    error showing the start of the body (``safe`` redacts it): it is most often the API's error
    answer (``{"errors": [...]}``) sent with a 200, and its values are no records.
    """
    if body is None:
        raise FatalSourceError(f"{where}: the response is empty (no records at records_path {path!r})")
    found = find(body, path)
    if len(found) == 1 and isinstance(found[0], list):
        return found[0]  # type: ignore[no-any-return]
    if not found:
        walked = _walked(body, path)
        if _arrays_only(path) and any(isinstance(value, dict) for value in walked):
            start = safe(dumps(body).decode("utf-8", "replace"))
            shown = start if len(start) <= BODY_SHOWN else start[:BODY_SHOWN] + "..."
            raise FatalSourceError(f"{where}: records_path {path!r} expects a list of records, the response has "
                                   "an object there (an error answer? if the object is the one record, set "
                                   f"records_path '$'): {shown}")
    if found == [None] or (not found and not _holds(body, path)):
        raise FatalSourceError(f"{where}: the response has no records at records_path {path!r} "
                               "(missing or null); fix records_path if the API answers so")
    return found


def _walked(body: Any, path: str) -> list[Any]:
    """The values that ``path``'s last wildcard walks."""
    cut = max(path.rfind("[*]"), path.rfind(".*"))
    return find(body, path[:cut] or "$") if cut >= 0 else []


def _holds(body: Any, path: str) -> bool:
    """Whether the lists (or, for ``.*``, objects) that ``path``'s last wildcard walks are there, non-null."""
    walked = _walked(body, path)
    kinds = list if _arrays_only(path) else (list, dict)
    return bool(walked) and all(isinstance(value, kinds) for value in walked)


def _arrays_only(path: str) -> bool:
    """Whether ``path``'s last wildcard is ``[*]`` (it walks arrays only), not ``.*``."""
    return path.rfind("[*]") > path.rfind(".*")


class RestClient:
    def __init__(self, settings: RestSettings) -> None:
        self.api_url = settings.api_url
        self.http = HttpClient(settings.http, auth=auth_from_settings(settings.auth), headers=settings.headers)

    def close(self) -> None:
        self.http.close()

    def auth_for(self, settings: AuthSettings) -> Auth:
        """A stream's own auth, attached."""
        return self.http.attach(auth_from_settings(settings))

    def pages(self, path: str, paginator: Paginator, records_path: str, params: Mapping[str, Any],
              headers: Mapping[str, str] | None = None, auth: Auth | None = None,
              stream: str = "") -> Iterator[list[dict[str, Any]]]:
        """A listing's pages; a paging error names ``stream``."""
        url = path if path.startswith(("http://", "https://")) else f"{self.api_url}/{path.lstrip('/')}"
        where = f"stream '{stream}': {path}" if stream else path

        def extract(body: Any) -> list[Any]:
            return extract_records(body, records_path, where, self.http.safe)

        try:
            for page in self.http.paginate(url, paginator, extract, params=params, endpoint=path, headers=headers,
                                           strategy=auth):
                yield page.records
        except PagingError as exc:
            raise PagingError(f"stream '{stream}': {exc}" if stream else str(exc)) from None
