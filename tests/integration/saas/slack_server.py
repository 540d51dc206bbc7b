"""A Slack Web API on loopback, following Slack's documented behaviour: methods at
``/api/<method>``, a Bearer bot token, HTTP 200 with ``{"ok": false, "error": ...}`` for
failures (``not_authed``, ``invalid_auth``, ``channel_not_found``, ``not_in_channel``),
``limit`` + ``response_metadata.next_cursor`` paging (an empty cursor on the last page),
conversations.history newest first with ``oldest``/``latest`` exclusive unless
``inclusive``, conversations.replies with the parent first, and per-method HTTP 429 +
``Retry-After`` scripted with :meth:`SlackApi.fail`. Every request is logged. Misbehaviour on
request: a message deleted once listed (:meth:`SlackApi.delete_once_listed`), a method whose
pages repeat their cursor (:attr:`SlackApi.cursor_loops`) or whose first page says ``has_more``
with no cursor (:attr:`SlackApi.lost_cursors`). Slack's clock is ours plus :attr:`SlackApi.clock_skew`
seconds: every answer's ``Date`` header is written on it, and so is the ``ts`` of
:meth:`SlackApi.reply_now`; :attr:`SlackApi.hooks` run before a call is answered (a user posting
mid-run).

    with SlackApi() as api:
        api.add_channel("C001", messages=250, threads=3, replies=4)
        api.fail("conversations.history", (429, "ratelimited"))
        ... api.url + "/api" ... api.requests("conversations.history")

Run standalone (benchmarks): ``python -m tests.integration.saas.slack_server --messages N``
prints ``URL TOKEN`` on its first line and serves until interrupted.
"""

from __future__ import annotations

import base64
import bisect
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from tests.integration.saas.slack_data import BASE_TS, TEAM, message, micros, user

TOKEN = "xoxb-1111-2222-good"
ADMIN_TOKEN = "xoxp-admin-3333"


@dataclass
class Logged:
    method: str
    query: dict[str, str]
    auth: str | None
    status: int = 0
    error: str | None = None


@dataclass
class Channel:
    info: dict[str, Any]
    messages: list[dict[str, Any]] = field(default_factory=list)  # ascending ts
    replies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # thread ts -> ascending replies
    members: list[str] = field(default_factory=list)
    keys: list[int] = field(default_factory=list)  # micros of the messages' ts, ascending


class SlackApi:
    def __init__(self) -> None:
        self.tokens = {TOKEN, ADMIN_TOKEN}
        self.channels: dict[str, Channel] = {}
        self.users = [user(n) for n in range(1, 31)]
        self.logs = [{"service_id": f"{1000 + n}", "service_type": "Google Calendar", "user_id": f"U{n:08d}",
                      "user_name": f"user{n}", "channel": "C0000001", "date": str(BASE_TS + n * 60),
                      "change_type": "enabled" if n % 2 else "disabled", "scope": "incoming-webhook"}
                     for n in range(1, 8)]
        self.log: list[Logged] = []
        self._faults: dict[str, list[tuple[int, str, dict[str, str]]]] = {}
        self._doomed: set[str] = set()  # ts of messages deleted once conversations.history serves them
        self.cursor_loops: set[str] = set()  # methods whose pages read by a cursor answer it as next_cursor
        self.lost_cursors: set[str] = set()  # methods whose first page has has_more but an empty next_cursor
        self.clock_skew = 0.0  # Slack's clock minus ours (seconds): Date headers, reply_now
        self.hooks: list[Callable[[str, dict[str, str]], None]] = []  # (method, query) before each answer
        self._lock = threading.Lock()
        self._serial = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api"

    def __enter__(self) -> SlackApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()

    # -- set-up ----------------------------------------------------------------------------

    def add_channel(self, cid: str, *, messages: int = 0, threads: int = 0, replies: int = 3, kind: str = "public",
                    member: bool = True, start: int = 0) -> Channel:
        """A channel with ``messages`` messages a minute apart from ``start`` minutes; the first
        ``threads`` of them are thread parents with ``replies`` replies each."""
        private, im = kind == "private", kind == "im"
        info: dict[str, Any] = {"id": cid, "created": BASE_TS - 86400, "is_im": im, "is_mpim": kind == "mpim",
                                "is_org_shared": False, "context_team_id": TEAM, "updated": BASE_TS * 1000}
        if im:
            info.update(user="U00000002", is_user_deleted=False, priority=0)
        else:
            info.update(name=f"chan-{cid.lower()}", name_normalized=f"chan-{cid.lower()}", is_channel=not private,
                        is_group=private, is_private=private or kind == "mpim", is_archived=False,
                        is_general=cid == "C0000001", unlinked=0, is_shared=False, is_ext_shared=False,
                        is_pending_ext_shared=False, pending_shared=[], is_member=member, creator="U00000001",
                        shared_team_ids=[TEAM], parent_conversation=None, previous_names=[], num_members=5,
                        topic={"value": "Daily chat", "creator": "U00000001", "last_set": BASE_TS},
                        purpose={"value": "", "creator": "", "last_set": 0})
        channel = Channel(info, members=[f"U{n:08d}" for n in range(1, 6)])
        self.channels[cid] = channel
        with self._lock:
            for minute in range(start, start + messages):
                self._serial += 1
                channel.messages.append(message(minute * 60, self._serial))
            channel.keys = [micros(m["ts"]) for m in channel.messages]
        for parent in channel.messages[:threads]:
            for r in range(replies):
                self.reply(cid, parent["ts"], micros(parent["ts"]) // 1_000_000 - BASE_TS + 10 + r)
        return channel

    def post(self, cid: str, minute: int) -> dict[str, Any]:
        """A new message, ``minute`` minutes after the base time."""
        with self._lock:
            self._serial += 1
            msg = message(minute * 60, self._serial)
            channel = self.channels[cid]
            channel.messages.append(msg)
            channel.messages.sort(key=lambda m: micros(m["ts"]))
            channel.keys = [micros(m["ts"]) for m in channel.messages]
        return msg

    def now(self) -> float:
        """Slack's clock."""
        return time.time() + self.clock_skew

    def reply_now(self, cid: str, thread_ts: str) -> dict[str, Any]:
        """A reply in the thread ``thread_ts`` posted now, stamped by Slack's clock."""
        now = self.now()
        return self.reply(cid, thread_ts, int(now) - BASE_TS, ts=f"{now:.6f}")

    def reply(self, cid: str, thread_ts: str, seconds: int, *, ts: str | None = None) -> dict[str, Any]:
        """A reply in the thread ``thread_ts``, posted at ``seconds`` after the base time (``ts``:
        exactly then)."""
        with self._lock:
            self._serial += 1
            reply = {**message(seconds, self._serial), "thread_ts": thread_ts, "parent_user_id": "U00000001"}
            if ts is not None:
                reply["ts"] = ts
            channel = self.channels[cid]
            thread = channel.replies.setdefault(thread_ts, [])
            thread.append(reply)
            thread.sort(key=lambda m: micros(m["ts"]))
            parent = next(m for m in channel.messages if m["ts"] == thread_ts)
            parent.update(thread_ts=thread_ts, reply_count=len(thread), reply_users_count=1,
                          latest_reply=thread[-1]["ts"], reply_users=["U00000003"], is_locked=False)
        return reply

    def fail(self, method: str, *faults: tuple[int, str], headers: dict[str, str] | None = None) -> None:
        """The next calls of ``method`` answer these (HTTP status, Slack error) pairs, in order."""
        self._faults.setdefault(method, []).extend((s, e, headers or {}) for s, e in faults)

    def delete_once_listed(self, ts: str) -> None:
        """Delete message ``ts`` (and its thread) as soon as conversations.history has served it,
        as a user deleting it between the listing and conversations.replies."""
        self._doomed.add(ts)

    def requests(self, method: str | None = None) -> list[Logged]:
        with self._lock:
            return [r for r in self.log if method is None or r.method == method]

    # -- the methods -----------------------------------------------------------------------

    def handle(self, method: str, query: dict[str, str], auth: str | None) -> tuple[int, dict[str, str], Any]:
        for hook in list(self.hooks):
            hook(method, query)
        faults = self._faults.get(method)
        if faults:
            status, error, headers = faults.pop(0)
            return status, headers, {"ok": False, "error": error}
        if not auth:
            return 200, {}, {"ok": False, "error": "not_authed"}
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            return 200, {}, {"ok": False, "error": "invalid_auth"}
        handler = getattr(self, "m_" + method.replace(".", "_"), None)
        if handler is None:
            return 404, {}, {"ok": False, "error": "unknown_method"}
        body = handler(query, auth[7:])
        if method in self.cursor_loops and query.get("cursor") and (body.get("response_metadata") or {}).get(
                "next_cursor"):
            body["response_metadata"]["next_cursor"] = query["cursor"]  # a server bug: the same page again
        if method in self.lost_cursors and not query.get("cursor") and (body.get("response_metadata") or {}).get(
                "next_cursor"):
            body["response_metadata"]["next_cursor"] = ""  # a server bug: more pages, and no way to them
            body["has_more"] = True
        return 200, {}, body

    def m_auth_test(self, q: dict[str, str], token: str) -> Any:
        return {"ok": True, "url": "https://sluice-test.slack.example/", "team": "Sluice Test", "user": "sluicebot",
                "team_id": TEAM, "user_id": "U0BOT0001", "bot_id": "B0BOT0001", "is_enterprise_install": False}

    def m_conversations_list(self, q: dict[str, str], token: str) -> Any:
        types = set(q.get("types", "public_channel").split(","))
        rows = [c.info for c in self.channels.values() if _type(c.info) in types]
        return self._page(q, rows, "channels")

    def m_users_list(self, q: dict[str, str], token: str) -> Any:
        return self._page(q, self.users, "members")

    def m_conversations_members(self, q: dict[str, str], token: str) -> Any:
        channel = self.channels.get(q.get("channel", ""))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        return self._page(q, channel.members, "members")

    def m_conversations_join(self, q: dict[str, str], token: str) -> Any:
        channel = self.channels.get(q.get("channel", ""))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        channel.info["is_member"] = True
        return {"ok": True, "channel": channel.info}

    def m_conversations_history(self, q: dict[str, str], token: str) -> Any:
        channel, error = self._readable(q)
        if channel is None:
            return {"ok": False, "error": error}
        with self._lock:
            lo, hi = _bounds(channel.keys, q)
            body = self._page(q, _Reversed(channel.messages, lo, hi), "messages")
            for gone in [m for m in body["messages"] if m["ts"] in self._doomed]:
                self._doomed.discard(gone["ts"])
                channel.messages.remove(gone)
                channel.replies.pop(gone["ts"], None)
                channel.keys = [micros(m["ts"]) for m in channel.messages]
            return body

    def m_conversations_replies(self, q: dict[str, str], token: str) -> Any:
        channel, error = self._readable(q)
        if channel is None:
            return {"ok": False, "error": error}
        parent = next((m for m in channel.messages if m["ts"] == q.get("ts")), None)
        if parent is None:
            return {"ok": False, "error": "thread_not_found"}
        thread = channel.replies.get(parent["ts"], [])
        with self._lock:
            rows = [parent, *_window(thread, [micros(m["ts"]) for m in thread], q)]
        return self._page(q, rows, "messages")

    def m_team_integrationLogs(self, q: dict[str, str], token: str) -> Any:
        if token != ADMIN_TOKEN:
            return {"ok": False, "error": "not_allowed_token_type"}
        count, page = int(q.get("count", 100)), int(q.get("page", 1))
        pages = max(1, -(-len(self.logs) // count))
        return {"ok": True, "logs": self.logs[(page - 1) * count:page * count],
                "paging": {"count": count, "total": len(self.logs), "page": page, "pages": pages}}

    def _readable(self, q: dict[str, str]) -> tuple[Channel | None, str]:
        channel = self.channels.get(q.get("channel", ""))
        if channel is None:
            return None, "channel_not_found"
        if channel.info.get("is_member") is False:
            return None, "not_in_channel"
        return channel, ""

    def _page(self, q: dict[str, str], rows: Any, key: str) -> Any:
        limit = min(int(q.get("limit", 100)), 1000)
        cursor = q.get("cursor")
        start = int(base64.b64decode(cursor).decode().split(":")[1]) if cursor else 0
        chunk = rows[start:start + limit]
        more = start + limit < len(rows)
        nxt = base64.b64encode(f"next:{start + limit}".encode()).decode() if more else ""
        body: dict[str, Any] = {"ok": True, key: chunk, "response_metadata": {"next_cursor": nxt}}
        if key == "messages":
            body["has_more"] = more
        return body


def _type(info: dict[str, Any]) -> str:
    if info.get("is_im"):
        return "im"
    if info.get("is_mpim"):
        return "mpim"
    return "private_channel" if info.get("is_private") else "public_channel"


class _Reversed:
    """``rows[lo:hi]`` newest first, sliced without copying the rest (large channels, benchmarks)."""

    def __init__(self, rows: list[dict[str, Any]], lo: int, hi: int) -> None:
        self.rows, self.lo, self.hi = rows, lo, hi

    def __len__(self) -> int:
        return self.hi - self.lo

    def __getitem__(self, part: slice) -> list[dict[str, Any]]:
        start, stop, _ = part.indices(len(self))
        chunk = self.rows[max(self.lo, self.hi - stop):self.hi - start]
        chunk.reverse()
        return chunk


def _window(rows: list[dict[str, Any]], keys: list[int], q: dict[str, str]) -> list[dict[str, Any]]:
    """The rows (ascending) between ``oldest`` and ``latest``, exclusive unless ``inclusive``."""
    lo, hi = _bounds(keys, q)
    return rows[lo:hi]


def _bounds(keys: list[int], q: dict[str, str]) -> tuple[int, int]:
    """The slice of ascending ``keys`` between ``oldest`` and ``latest``, exclusive unless ``inclusive``."""
    inclusive = q.get("inclusive") in ("true", "1")
    lo, hi = 0, len(keys)
    if q.get("oldest"):
        oldest = micros(q["oldest"])
        lo = (bisect.bisect_left if inclusive else bisect.bisect_right)(keys, oldest)
    if q.get("latest"):
        latest = micros(q["latest"])
        hi = (bisect.bisect_right if inclusive else bisect.bisect_left)(keys, latest)
    return lo, hi


def _handler(api: SlackApi) -> Any:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True
        wbufsize = 1 << 16

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def date_time_string(self, timestamp: float | None = None) -> str:
            """The ``Date`` header, on Slack's clock."""
            return super().date_time_string(api.now() if timestamp is None else timestamp)

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            split = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(split.query).items()}
            query.update({k: v[-1] for k, v in parse_qs(body).items()})  # a form body (POST)
            method = split.path.removeprefix("/api/")
            entry = Logged(method, query, self.headers.get("Authorization"))
            with api._lock:
                api.log.append(entry)
            try:
                status, headers, payload = api.handle(method, query, entry.auth)
            except (ValueError, IndexError):
                status, headers, payload = 200, {}, {"ok": False, "error": "invalid_arguments"}
            entry.status = status
            entry.error = None if payload.get("ok") else payload.get("error")
            data = orjson.dumps(payload)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

    return Handler


def main() -> None:
    """Serve until interrupted (benchmarks): prints ``URL TOKEN`` once the data is built."""
    import argparse

    parser = argparse.ArgumentParser(description="The loopback Slack Web API.")
    parser.add_argument("--messages", type=int, default=20_000, help="messages in channel C0000001")
    args = parser.parse_args()
    api = SlackApi()
    api.add_channel("C0000001", messages=args.messages)
    with api:
        sys.stdout.write(f"{api.url} {TOKEN}\n")
        sys.stdout.flush()
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
