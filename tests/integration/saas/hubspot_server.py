"""A loopback HubSpot CRM v3 API, as HubSpot documents it: the properties API, object listings
and the search API paged by ``paging.next.after``, owners, Bearer auth, HubSpot's error bodies
(``{"status": "error", "message", "correlationId", "category"}``) and rate limits
(``X-HubSpot-RateLimit-*`` headers; 429 with ``policyName``). Every property value is a string,
as the API sends it. The search API refuses to page past 10,000 results (HTTP 400). Its clock (the
``Date`` header, :meth:`HubSpotApi.now`) may run ``skew`` apart from this machine's.

    with HubSpotApi() as api:      # ThreadingHTTPServer on 127.0.0.1, port 0, in a thread
        api.add("contacts", 250)
        api.fail("/crm/v3/objects/contacts", 429, 502)   # the next two requests there fail
        api.before("/crm/v3/objects/contacts", 2, lambda: api.touch("contacts", [5], at=api.now()))  # data changes
        ... api.url ... api.requests("/crm/v3/objects/contacts/search")

Run standalone (``python -m tests.integration.saas.hubspot_server --contacts N``) for the bench:
its first stdout line is ``URL TOKEN``.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

BASE_TIME = datetime(2024, 1, 1, tzinfo=UTC)
TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"
SEARCH_WINDOW = 10_000
MODIFIED = {"contacts": "lastmodifieddate", "companies": "hs_lastmodifieddate", "deals": "hs_lastmodifieddate"}


def iso(minutes: int) -> str:
    return stamp(BASE_TIME + timedelta(minutes=minutes))


def stamp(when: datetime) -> str:
    """A time as HubSpot writes it: ISO 8601 in UTC, to the millisecond."""
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def millis(minutes: int) -> str:
    return str(int((BASE_TIME + timedelta(minutes=minutes)).timestamp() * 1000))


def _prop(name: str, kind: str, field_type: str, label: str) -> dict[str, Any]:
    return {"name": name, "label": label, "type": kind, "fieldType": field_type, "groupName": "info",
            "description": "", "options": [], "displayOrder": -1, "calculated": False, "hasUniqueValue": False,
            "hidden": False, "formField": True, "createdAt": "2020-01-01T00:00:00Z",
            "updatedAt": "2020-01-01T00:00:00Z", "modificationMetadata": {"archivable": True, "readOnlyValue": False}}


PROPERTIES: dict[str, list[dict[str, Any]]] = {
    "contacts": [
        _prop("email", "string", "text", "Email"), _prop("firstname", "string", "text", "First Name"),
        _prop("lastname", "string", "text", "Last Name"), _prop("createdate", "datetime", "date", "Create Date"),
        _prop("lastmodifieddate", "datetime", "date", "Last Modified Date"),
        _prop("hs_object_id", "number", "number", "Record ID"),
        _prop("annualrevenue", "number", "number", "Annual Revenue"),
        _prop("hs_email_optout", "bool", "booleancheckbox", "Unsubscribed from all email"),
        _prop("date_of_birth", "date", "date", "Date of birth"),
        _prop("lifecyclestage", "enumeration", "radio", "Lifecycle Stage"),
    ],
    "companies": [
        _prop("name", "string", "text", "Name"), _prop("domain", "string", "text", "Company Domain Name"),
        _prop("createdate", "datetime", "date", "Create Date"),
        _prop("hs_lastmodifieddate", "datetime", "date", "Last Modified Date"),
        _prop("numberofemployees", "number", "number", "Number of Employees"),
        _prop("is_public", "bool", "booleancheckbox", "Is Public"),
    ],
    "deals": [
        _prop("dealname", "string", "text", "Deal Name"), _prop("amount", "number", "number", "Amount"),
        _prop("closedate", "datetime", "date", "Close Date"), _prop("dealstage", "enumeration", "radio", "Deal Stage"),
        _prop("pipeline", "enumeration", "select", "Pipeline"), _prop("createdate", "datetime", "date", "Create Date"),
        _prop("hs_lastmodifieddate", "datetime", "date", "Last Modified Date"),
    ],
}


def make_object(kind: str, n: int, minute: int, at: datetime | None = None) -> dict[str, Any]:
    """One object as the API returns it: every property value a string (or null); modified ``minute``
    minutes after BASE_TIME, or ``at``."""
    modified = stamp(at) if at is not None else iso(minute)
    props: dict[str, str | None] = {"createdate": iso(0), MODIFIED[kind]: modified, "hs_object_id": str(n)}
    if kind == "contacts":
        props.update(email=f"person{n}@example.com", firstname=f"First{n}", lastname=f"Last{n}",
                     annualrevenue=f"{n}.{n % 100:02d}", hs_email_optout="true" if n % 2 else "false",
                     date_of_birth="1990-05-17" if n % 3 else None, lifecyclestage="lead" if n % 4 else "customer")
    elif kind == "companies":
        props.update(name=f"Company {n}", domain=f"company{n}.example", numberofemployees=str(n * 10),
                     is_public="" if n % 5 == 0 else "false")
    else:
        props.update(dealname=f"Deal {n}", amount="1234567890.123456789" if n == 1 else f"{n * 100}.50",
                     closedate=millis(n) if n % 2 else iso(n), dealstage="appointmentscheduled",
                     pipeline="default")
    return {"id": str(n), "properties": props, "createdAt": iso(0), "updatedAt": modified, "archived": False}


def owner(n: int) -> dict[str, Any]:
    return {"id": str(100 + n), "email": f"owner{n}@example.com", "firstName": f"Owner{n}", "lastName": "Smith",
            "userId": 9000 + n, "userIdIncludingInactive": 9000 + n, "type": "PERSON", "createdAt": iso(0),
            "updatedAt": iso(n), "archived": False,
            "teams": [{"id": "7", "name": "Sales", "primary": True}] if n % 2 else []}


@dataclass
class Logged:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    auth: str | None
    status: int


def error(status: int, category: str, message: str, **extra: Any) -> tuple[int, dict[str, str], Any]:
    return status, {}, {"status": "error", "message": message, "correlationId": "3c5b4a7e-0000-4000-8000-00000000cafe",
                        "category": category, **extra}


class HubSpotApi:
    def __init__(self, *, rate_limit: int | None = None, interval_ms: int = 300,
                 skew: timedelta = timedelta(0)) -> None:
        self.objects: dict[str, dict[str, dict[str, Any]]] = {k: {} for k in MODIFIED}
        self.owners = [owner(n) for n in range(1, 6)]
        self.log: list[Logged] = []
        self.faults: dict[str, list[tuple[int, str]]] = {}
        self.refresh_token = "refresh-me-123"  # the OAuth app's refresh token
        self.rate_limit, self.interval_ms = rate_limit, interval_ms
        self.skew = skew  # the server's clock minus this machine's
        self.stuck_after: str | None = None  # a listing page asked for with this after names it again as next
        self.search_lag: timedelta | None = None  # the search index misses what changed this recently
        self._hooks: list[tuple[str, int, Callable[[], None]]] = []
        self._window: list[float] = []
        self._searches: dict[bytes, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> HubSpotApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add(self, kind: str, count: int, per_minute: int = 1) -> None:
        """``count`` objects, ids 1..count, ``per_minute`` of them modified in each minute."""
        self._searches.clear()
        for n in range(1, count + 1):
            self.objects[kind][str(n)] = make_object(kind, n, n // per_minute)

    def touch(self, kind: str, ids: list[int], minute: int = 0, at: datetime | None = None) -> None:
        """These objects modified ``minute`` minutes after BASE_TIME, or ``at`` (e.g. ``api.now()``)."""
        self._searches.clear()
        for n in ids:
            self.objects[kind][str(n)] = make_object(kind, n, minute, at)

    def now(self) -> datetime:
        """The server's clock."""
        return datetime.now(UTC) + self.skew

    def before(self, path: str, nth: int, action: Callable[[], None]) -> None:
        """Run ``action`` when the ``nth`` request to ``path`` (counting from 1) arrives, before it is answered."""
        self._hooks.append((path, nth, action))

    def _run_hooks(self, path: str) -> None:
        with self._lock:
            count = sum(1 for r in self.log if r.path == path)
            due = [h for h in self._hooks if h[0] == path and h[1] == count]
        for _, _, action in due:
            action()

    def fail(self, path: str, *statuses: int, policy: str = "TEN_SECONDLY_ROLLING") -> None:
        """The next requests to ``path`` fail with these statuses (a 429 names the rate-limit ``policy``;
        0 lets one request through)."""
        self.faults.setdefault(path, []).extend((s, policy) for s in statuses)

    def requests(self, path: str | None = None) -> list[Logged]:
        return [r for r in self.log if path is None or r.path == path]

    # -- answers ---------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict[str, str], auth: str | None,
               body: Any) -> tuple[int, dict[str, str], Any]:
        if path == "/oauth/v1/token" and method == "POST":
            return self._token(body)
        if auth != f"Bearer {TOKEN}":
            return error(401, "INVALID_AUTHENTICATION", "Authentication credentials not found. This API supports "
                         "OAuth 2.0 authentication.")
        limited = self._limited()
        if limited is not None:
            return limited
        self._run_hooks(path)
        with self._lock:
            fault = self.faults.get(path)
            if fault:
                status, policy = fault.pop(0)
                if status == 429:
                    code, _, payload = error(429, "RATE_LIMITS", f"You have reached your {policy.lower()} limit.",
                                             policyName=policy)
                    return code, {"X-HubSpot-RateLimit-Interval-Milliseconds": "10"}, payload
                if status:
                    return error(status, "INTERNAL_ERROR", "internal error")
        parts = path.strip("/").split("/")
        if parts[:3] == ["crm", "v3", "properties"] and len(parts) == 4 and parts[3] in PROPERTIES:
            return 200, {}, {"results": PROPERTIES[parts[3]]}
        if path == "/crm/v3/owners":
            return self._page(self.owners, query)
        if parts[:3] == ["crm", "v3", "objects"] and len(parts) >= 4 and parts[3] in MODIFIED:
            kind = parts[3]
            if len(parts) == 5 and parts[4] == "search" and method == "POST":
                return self._search(kind, body)
            if len(parts) == 4:
                wanted = [p for p in query.get("properties", "").split(",") if p]
                return self._page(list(self.objects[kind].values()), query, wanted)
        return error(404, "OBJECT_NOT_FOUND", f"resource not found: {path}")

    def _token(self, form: Any) -> tuple[int, dict[str, str], Any]:
        """``POST /oauth/v1/token``: a refresh token exchanged for an access token (HubSpot's refresh
        tokens do not rotate: the same one comes back)."""
        if not isinstance(form, dict) or form.get("grant_type") != "refresh_token" \
                or form.get("refresh_token") != self.refresh_token or form.get("client_secret") != "app-secret":
            return 400, {}, {"status": "BAD_REFRESH_TOKEN", "message": "missing or unknown refresh token"}
        return 200, {}, {"access_token": TOKEN, "refresh_token": self.refresh_token, "expires_in": 1800,
                         "token_type": "bearer"}

    def _limited(self) -> tuple[int, dict[str, str], Any] | None:
        if self.rate_limit is None:
            return None
        with self._lock:
            now = time.monotonic()
            self._window = [t for t in self._window if now - t < self.interval_ms / 1000]
            self._window.append(now)
            left = self.rate_limit - len(self._window)
        if left < 0:
            code, _, payload = error(429, "RATE_LIMITS", "You have reached your secondly limit.",
                                     policyName="SECONDLY")
            return code, self._rate_headers(0), payload
        return None

    def _rate_headers(self, left: int) -> dict[str, str]:
        return {"X-HubSpot-RateLimit-Max": str(self.rate_limit), "X-HubSpot-RateLimit-Remaining": str(left),
                "X-HubSpot-RateLimit-Interval-Milliseconds": str(self.interval_ms),
                "X-HubSpot-RateLimit-Daily": "250000", "X-HubSpot-RateLimit-Daily-Remaining": "249000"}

    def headers_for(self) -> dict[str, str]:
        if self.rate_limit is None:
            return {}
        with self._lock:
            return self._rate_headers(max(0, self.rate_limit - len(self._window)))

    def _page(self, rows: list[dict[str, Any]], query: dict[str, str],
              wanted: list[str] | None = None) -> tuple[int, dict[str, str], Any]:
        limit = min(int(query.get("limit", "10")), 100)
        start = int(query.get("after", "0"))
        body: dict[str, Any] = {"results": [_only(r, wanted or []) for r in rows[start:start + limit]]}
        if start + limit < len(rows):
            stuck = self.stuck_after is not None and query.get("after") == self.stuck_after
            after = self.stuck_after if stuck else str(start + limit)
            body["paging"] = {"next": {"after": after, "link": f"?after={after}"}}
        return 200, {}, body

    def _search(self, kind: str, request: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        limit = min(int(request.get("limit", 10)), 200)
        start = int(request.get("after", 0) or 0)
        if start + limit > SEARCH_WINDOW:
            return error(400, "VALIDATION_ERROR", f"after + limit must be <= {SEARCH_WINDOW}")
        key = orjson.dumps([kind, request.get("filterGroups"), request.get("sorts")])
        rows = self._searches.get(key) if self.search_lag is None else None
        if rows is None:  # the matches of one query, kept until the data changes (pages of it come next)
            rows = list(self.objects[kind].values())
            if self.search_lag is not None:
                indexed = int((self.now() - self.search_lag).timestamp() * 1000)
                rows = [r for r in rows if _comparable(r["properties"][MODIFIED[kind]]) <= indexed]
            for group in request.get("filterGroups", [])[:1]:
                for f in group.get("filters", []):
                    rows = [r for r in rows if _match(r, f)]
            sort = (request.get("sorts") or [{}])[0]
            if sort.get("propertyName"):
                name = sort["propertyName"]
                rows.sort(key=lambda r: (_comparable(r["properties"].get(name) or "0"), int(r["id"])),
                          reverse=sort.get("direction") == "DESCENDING")
            self._searches[key] = rows
        wanted = request.get("properties") or []
        page = [_only(r, wanted) for r in rows[start:start + limit]]
        body: dict[str, Any] = {"total": len(rows), "results": page}
        if start + limit < len(rows):
            body["paging"] = {"next": {"after": str(start + limit)}}
        return 200, {}, body


def _only(obj: dict[str, Any], wanted: list[str]) -> dict[str, Any]:
    if not wanted:
        return obj
    props = obj["properties"]
    return {**obj, "properties": {k: props.get(k) for k in wanted}}


def _match(obj: dict[str, Any], f: dict[str, Any]) -> bool:
    value = obj["properties"].get(f.get("propertyName"))
    if value is None:
        return False
    have, bound = _comparable(value), int(f["value"])
    return {"GTE": have >= bound, "LTE": have <= bound, "GT": have > bound, "LT": have < bound,
            "EQ": have == bound}[f["operator"]]


@lru_cache(maxsize=1 << 16)
def _comparable(value: str) -> int:
    """A number property as its number, a datetime one as epoch milliseconds (what filters and sorts compare)."""
    if value.isdigit():
        return int(value)
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)


def _handler(api: HubSpotApi) -> Callable[..., BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True
        wbufsize = 1 << 16

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def date_time_string(self, timestamp: float | None = None) -> str:
            return format_datetime(api.now(), usegmt=True)  # the Date header, by the server's clock

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            split = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(split.query).items()}
            form = self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded")
            body: Any = orjson.loads(raw) if raw and not form else None
            if form:
                body = {k: v[-1] for k, v in parse_qs(raw.decode()).items()}
            entry = Logged(method, split.path, query, body, self.headers.get("Authorization"), 0)
            with api._lock:
                api.log.append(entry)
            status, headers, payload = api.handle(method, split.path, query, entry.auth, body)
            if status < 400:
                headers = {**api.headers_for(), **headers}
            entry.status = status
            data = orjson.dumps(payload)
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

    return Handler


def main() -> None:
    """Serve until interrupted (for the bench): prints its URL and the token."""
    import argparse

    parser = argparse.ArgumentParser(description="The loopback HubSpot CRM v3 API.")
    parser.add_argument("--contacts", type=int, default=20_000, help="contacts held")
    args = parser.parse_args()
    api = HubSpotApi()
    api.add("contacts", args.contacts)
    with api:
        sys.stdout.write(f"{api.url} {TOKEN}\n")
        sys.stdout.flush()
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
