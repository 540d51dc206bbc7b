"""The Slack Web API client: the kit's HttpClient with a bot token, Slack's ``ok``/``error``
convention mapped into the error tree, and ``response_metadata.next_cursor`` paging.

Slack answers most failures with HTTP 200 and ``{"ok": false, "error": "..."}``:

    invalid_auth, not_authed, token_revoked, missing_scope, ...   -> FatalSourceError, one line
    channel_not_found, not_in_channel, is_archived, ...           -> ChannelUnavailable (fatal;
                                                                      the streams skip the channel)
    thread_not_found (conversations.replies: the parent is gone)  -> ThreadUnavailable (threads
                                                                      skips that thread only)
    ratelimited, internal_error, service_unavailable, ...         -> RetryableSourceError
    anything else                                                 -> FatalSourceError

An HTTP 429 (Slack's per-method rate limit) carries ``Retry-After``; the kit maps it (and 5xx) to
a retryable error. Retries are made here, once for both kinds, with the configured policy; the
kit's own client is built without retries so that they do not multiply.

A ``next_cursor`` that comes twice in one listing fails the stream (FatalSourceError): following
it would loop, and stopping there would end the listing early with its rest unread. So does
``has_more: true`` with no ``next_cursor``: the rest is there, and there is no way to it.

The client also keeps a lower bound of Slack's clock (:meth:`SlackClient.server_time`) from the
``Date`` header of its answers: Slack stamps a message's ``ts`` with its own clock, so a run's
cut-off for thread replies is taken on it, whatever this machine's clock says.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterator, Mapping
from typing import Any

from protocol import FatalSourceError, RetryableSourceError
from protocol.http import (
    BearerTokenAuth,
    HttpClient,
    Response,
    RetryPolicy,
    parse_retry_after,
    server_clock_offset,
)
from taps.slack.settings import SlackSettings

__all__ = ["ChannelUnavailable", "SlackApiError", "SlackClient", "ThreadUnavailable"]

AUTH_ERRORS = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired",
                         "no_permission", "missing_scope", "not_allowed_token_type", "ekm_access_denied",
                         "team_access_not_granted", "org_login_required"})
CHANNEL_ERRORS = frozenset({"channel_not_found", "not_in_channel", "is_archived",
                            "method_not_supported_for_channel_type", "access_denied"})
#: conversations.replies: "Value for thread_ts was missing or invalid": no such parent message (any more)
THREAD_ERRORS = frozenset({"thread_not_found"})
TRANSIENT_ERRORS = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable",
                              "request_timeout"})


class SlackApiError(FatalSourceError):
    """``{"ok": false}`` from a Web API method that retrying cannot fix."""

    def __init__(self, message: str, *, method: str, code: str) -> None:
        super().__init__(message)
        self.method, self.code = method, code


class ChannelUnavailable(SlackApiError):
    """One channel cannot be read (not found, bot not a member, ...); the others can."""


class ThreadUnavailable(ChannelUnavailable):
    """One thread cannot be read: its parent message was deleted after conversations.history
    listed it. The channel's other threads can; a reader that does not read threads one by one
    treats it as its channel being unavailable (its base class)."""


def slack_error(method: str, body: Mapping[str, Any], response: Response) -> RetryableSourceError | SlackApiError:
    """The error for an ``{"ok": false}`` answer of ``method``."""
    code = str(body.get("error") or "unknown_error")
    if code in TRANSIENT_ERRORS:
        return RetryableSourceError(f"{method}: Slack error {code}",
                                    retry_after=parse_retry_after(response.headers.get("Retry-After")))
    if code in AUTH_ERRORS:
        detail = f" (needs {body['needed']})" if body.get("needed") else ""
        return SlackApiError(f"{method}: Slack rejected the token: {code}{detail}", method=method, code=code)
    if code in THREAD_ERRORS:
        return ThreadUnavailable(f"{method}: {code}", method=method, code=code)
    if code in CHANNEL_ERRORS:
        return ChannelUnavailable(f"{method}: {code}", method=method, code=code)
    return SlackApiError(f"{method}: Slack error {code}", method=method, code=code)


class SlackClient:
    def __init__(self, settings: SlackSettings) -> None:
        self.api_url = settings.api_url
        self.limit = settings.limit
        self.team_id = settings.team_id
        self.retry: RetryPolicy = settings.http.retry
        self.offset: float | None = None  # Slack's clock minus ours, a lower bound (seconds), from Date headers
        once = dataclasses.replace(settings.http, retry=RetryPolicy(max_tries=1))
        self.http = HttpClient(once, auth=BearerTokenAuth(settings.api_key))

    def close(self) -> None:
        self.http.close()

    def call(self, method: str, params: Mapping[str, Any] | None = None, *, post: bool = False) -> dict[str, Any]:
        """One Web API method call (GET with a query, or POST with a form); its body when ``ok``."""

        def attempt() -> dict[str, Any]:
            if post:
                response = self.http.request("POST", f"{self.api_url}/{method}", data=dict(params or {}),
                                             endpoint=method)
                body = self.http.decode(response, method)
            else:
                response, body = self.http.get_json(f"{self.api_url}/{method}", params=params, endpoint=method)
            self._observe(response)
            if not isinstance(body, dict):
                raise FatalSourceError(f"{method}: expected a JSON object, got {type(body).__name__}")
            if body.get("ok") is not True:
                raise slack_error(method, body, response)
            return body

        def on_retry(exc: RetryableSourceError) -> None:
            if exc.retry_after:
                self.http.limiter.block_for(exc.retry_after, f"{method}: Slack asked to wait")

        return self.retry.call(attempt, on_retry)

    def _observe(self, response: Response) -> None:
        offset = server_clock_offset(response.headers.get("Date"), time.time())
        if offset is not None:
            self.offset = offset

    def server_time(self, local: float) -> str:
        """The moment ``local`` of our clock as a Slack timestamp on Slack's clock, as far as its
        answers tell, and never later than ours: a message Slack posts after our ``local`` has a
        ``ts`` after the one returned."""
        offset = min(0.0, self.offset) if self.offset is not None else 0.0
        whole = math.floor((local + offset) * 1_000_000)
        return f"{whole // 1_000_000}.{whole % 1_000_000:06d}"

    def pages(self, method: str, key: str, params: Mapping[str, Any] | None = None, *,
              stream: str) -> Iterator[list[Any]]:
        """The ``key`` list of every page of a cursor-paged method (``limit`` per page), read for
        ``stream`` (named by the error of a cursor that comes twice, or missing with ``has_more``)."""
        query: dict[str, Any] = {**(params or {}), "limit": self.limit}
        seen: set[str] = set()
        while True:
            body = self.call(method, query)
            rows = body.get(key) or []
            if not isinstance(rows, list):
                raise FatalSourceError(f"{method}: '{key}' is not a list")
            yield rows
            cursor = (body.get("response_metadata") or {}).get("next_cursor")
            if not cursor and body.get("has_more") is True:
                raise FatalSourceError(f"stream '{stream}': {method}: unexpected answer: has_more is true but "
                                       "next_cursor is empty; paging cannot go on (the rest of the listing is unread)")
            if not cursor:
                return
            if cursor in seen:
                raise FatalSourceError(f"stream '{stream}': {method}: unexpected answer: next_cursor {cursor!r} "
                                       "came twice; paging would not end (the rest of the listing is unread)")
            seen.add(cursor)
            query["cursor"] = cursor

    def numbered_pages(self, method: str, key: str, params: Mapping[str, Any] | None = None) -> Iterator[list[Any]]:
        """The ``key`` list of every page of a page-numbered method (``paging.pages``; admin methods)."""
        page = 1
        while True:
            body = self.call(method, {**(params or {}), "count": self.limit, "page": page})
            yield body.get(key) or []
            pages = (body.get("paging") or {}).get("pages") or 1
            if page >= int(pages):
                return
            page += 1

    def team_params(self) -> dict[str, Any]:
        return {"team_id": self.team_id} if self.team_id else {}
