"""The REST client: the kit's HttpClient with the auth named in the config."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from protocol import ConfigError
from protocol.http import (
    ApiKeyAuth,
    Auth,
    BasicAuth,
    BearerTokenAuth,
    HttpClient,
    HttpSettings,
    OAuth2ClientCredentials,
    OAuth2RefreshToken,
    Paginator,
    find,
)

__all__ = ["AUTH_METHODS", "RestClient", "auth_from_config", "extract_records"]

AUTH_METHODS = ["no_auth", "api_key", "bearer_token", "basic", "oauth"]


def _need(config: Mapping[str, Any], method: str, *names: str) -> list[Any]:
    missing = [n for n in names if not config.get(n)]
    if missing:
        raise ConfigError(f"auth_method '{method}' needs", [f"setting '{n}' is missing" for n in missing])
    return [config[n] for n in names]


def auth_from_config(config: Mapping[str, Any]) -> Auth:
    method = config.get("auth_method") or "no_auth"
    if method == "no_auth":
        return Auth()
    if method == "api_key":
        (keys,) = _need(config, method, "api_keys")
        if len(keys) != 1:
            raise ConfigError("setting 'api_keys' must hold exactly one name: value pair")
        name, value = next(iter(keys.items()))
        return ApiKeyAuth(name, str(value), config.get("api_key_location", "header"))
    if method == "bearer_token":
        (token,) = _need(config, method, "bearer_token")
        return BearerTokenAuth(token)
    if method == "basic":
        user, password = _need(config, method, "username", "password")
        return BasicAuth(user, password)
    if method == "oauth":
        url, cid, secret = _need(config, method, "access_token_url", "client_id", "client_secret")
        if config.get("grant_type", "client_credentials") == "refresh_token":
            (refresh,) = _need(config, method, "refresh_token")
            return OAuth2RefreshToken(url, cid, secret, refresh, scope=config.get("scope"))
        return OAuth2ClientCredentials(url, cid, secret, scope=config.get("scope"))
    raise ConfigError(f"setting 'auth_method': unknown method {method!r}")


def extract_records(body: Any, path: str) -> list[Any]:
    """The records of one page: every match of ``path``; a single matched list is the records."""
    found = find(body, path)
    if len(found) == 1 and isinstance(found[0], list):
        return found[0]  # type: ignore[no-any-return]
    return found


class RestClient:
    def __init__(self, config: Mapping[str, Any]) -> None:
        self.api_url = str(config["api_url"]).rstrip("/")
        settings = HttpSettings.from_config(config, user_agent=str(config.get("user_agent") or "sluice-tap-rest"))
        self.http = HttpClient(settings, auth=auth_from_config(config), headers=config.get("headers") or {})

    def close(self) -> None:
        self.http.close()

    def auth_for(self, settings: Mapping[str, Any]) -> Auth:
        """A stream's own auth (its ``auth_method`` and credentials over the top-level ones), attached."""
        return self.http.attach(auth_from_config(settings))

    def pages(self, path: str, paginator: Paginator, records_path: str, params: Mapping[str, Any],
              headers: Mapping[str, str] | None = None, auth: Auth | None = None) -> Iterator[list[dict[str, Any]]]:
        url = path if path.startswith(("http://", "https://")) else f"{self.api_url}/{path.lstrip('/')}"
        for page in self.http.paginate(url, paginator, lambda body: extract_records(body, records_path),
                                       params=params, endpoint=path, headers=headers, strategy=auth):
            yield page.records
