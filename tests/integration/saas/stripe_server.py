"""A Stripe-shaped API on loopback, as the API reference describes it: ``/v1/<resource>`` list
objects (``{"object": "list", "data": [...], "has_more": ..., "url": ...}``), newest first, paged
by ``limit`` (at most 100) and ``starting_after``; ``created[gte]``/``created[lt]`` filters;
events filtered by ``type`` (``customer.*``); Bearer secret keys; errors as
``{"error": {"type", "code", "message"}}``; ``Stripe-Should-Retry`` on scripted failures.

    with StripeApi() as api:              # ThreadingHTTPServer on 127.0.0.1, port 0, in a thread
        api.populate(customers=250)       # objects created in the past, one "<kind>.created" event each
        api.update("customers", 5, name="New")   # the change and its customer.updated event
        api.delete("customers", 7, when)          # gone from lists (a starting_after of it: 400), one event
        api.fail("/v1/customers", (500, {"Stripe-Should-Retry": "true"}))
        ... api.url ... api.requests("/v1/customers")

Run standalone (``python -m tests.integration.saas.stripe_server --customers N``) it prints
``URL KEY`` on its first stdout line and serves until interrupted (the benchmark's server).
"""

from __future__ import annotations

import bisect
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

KEY = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"
ACCOUNT = "acct_1032D82eZvKYlo2C"
PREFIX = {"customers": "cus", "charges": "ch", "invoices": "in", "subscriptions": "sub", "products": "prod",
          "prices": "price", "payment_intents": "pi", "events": "evt"}
OBJECT = {"customers": "customer", "charges": "charge", "invoices": "invoice", "subscriptions": "subscription",
          "products": "product", "prices": "price", "payment_intents": "payment_intent", "events": "event"}
EVENT_PREFIX = {**OBJECT, "subscriptions": "customer.subscription"}


def _oid(kind: str, n: int) -> str:
    return f"{PREFIX[kind]}_{n:014d}"


def _customer(n: int, created: int) -> dict[str, Any]:
    return {"id": _oid("customers", n), "object": "customer", "address": {
        "city": "Berlin", "country": "DE", "line1": f"Strasse {n}", "line2": None, "postal_code": "10115",
        "state": None}, "balance": 0, "created": created, "currency": "eur", "default_source": None,
        "delinquent": False, "description": f"customer {n}", "discount": None, "email": f"c{n}@example.com",
        "invoice_prefix": f"ABC{n:05d}", "invoice_settings": {"default_payment_method": None, "footer": None},
        "livemode": False, "metadata": {"order": str(n)}, "name": f"Customer {n}", "next_invoice_sequence": 1,
        "phone": None, "preferred_locales": ["de"], "shipping": None, "tax_exempt": "none", "test_clock": None}


def _charge(n: int, created: int) -> dict[str, Any]:
    return {"id": _oid("charges", n), "object": "charge", "amount": 1000 + n, "amount_captured": 1000 + n,
            "amount_refunded": 0, "application_fee_amount": None, "balance_transaction": f"txn_{n:014d}",
            "billing_details": {"address": None, "email": None, "name": f"Customer {n}", "phone": None},
            "captured": True, "created": created, "currency": "usd", "customer": _oid("customers", n),
            "description": None, "disputed": False, "failure_code": None, "failure_message": None,
            "invoice": None, "livemode": False, "metadata": {}, "outcome": {
                "network_status": "approved_by_network", "reason": None, "risk_level": "normal", "risk_score": 32,
                "seller_message": "Payment complete.", "type": "authorized"},
            "paid": True, "payment_intent": _oid("payment_intents", n), "payment_method": f"pm_{n:014d}",
            "payment_method_details": {"type": "card", "card": {
                "brand": "visa", "country": "US", "exp_month": 8, "exp_year": 2030, "fingerprint": "Xt5EWLLDS7FJjR1c",
                "funding": "credit", "last4": "4242", "network": "visa"}},
            "receipt_email": None, "receipt_number": None, "receipt_url": f"https://pay.example/receipts/{n}",
            "refunded": False, "shipping": None, "statement_descriptor": None, "status": "succeeded"}


def _invoice(n: int, created: int) -> dict[str, Any]:
    lines = [{"id": f"il_{n:012d}{i:02d}", "object": "line_item", "amount": 500, "currency": "usd"}
             for i in range(2)]
    lines_url = f"/v1/invoices/{_oid('invoices', n)}/lines"
    return {"id": _oid("invoices", n), "object": "invoice", "account_country": "US", "account_name": "Acme",
            "amount_due": 1000, "amount_paid": 1000, "amount_remaining": 0, "attempt_count": 1, "attempted": True,
            "auto_advance": False, "billing_reason": "subscription_cycle", "charge": _oid("charges", n),
            "collection_method": "charge_automatically", "created": created, "currency": "usd",
            "customer": _oid("customers", n), "customer_email": f"c{n}@example.com", "customer_name": None,
            "description": None, "discount": None, "due_date": None, "ending_balance": 0,
            "hosted_invoice_url": None, "invoice_pdf": None, "livemode": False, "metadata": {},
            "lines": {"object": "list", "data": lines, "has_more": False, "url": lines_url},
            "next_payment_attempt": None, "number": f"ABC-{n:04d}", "paid": True,
            "payment_intent": _oid("payment_intents", n), "period_end": created, "period_start": created - 2592000,
            "starting_balance": 0, "status": "paid", "status_transitions": {
                "finalized_at": created + 60, "marked_uncollectible_at": None, "paid_at": created + 120,
                "voided_at": None},
            "subscription": _oid("subscriptions", n), "subtotal": 1000, "tax": None, "total": 1000,
            "webhooks_delivered_at": created + 1}


def _subscription(n: int, created: int) -> dict[str, Any]:
    items = [{"id": f"si_{n:014d}", "object": "subscription_item", "created": created, "metadata": {},
              "quantity": 1, "subscription": _oid("subscriptions", n)}]
    return {"id": _oid("subscriptions", n), "object": "subscription", "application_fee_percent": None,
            "billing_cycle_anchor": created, "cancel_at": None, "cancel_at_period_end": False, "canceled_at": None,
            "collection_method": "charge_automatically", "created": created, "current_period_end": created + 2592000,
            "current_period_start": created, "customer": _oid("customers", n), "days_until_due": None,
            "default_payment_method": None, "discount": None, "ended_at": None,
            "items": {"object": "list", "data": items, "has_more": False, "url": "/v1/subscription_items"},
            "latest_invoice": _oid("invoices", n), "livemode": False, "metadata": {}, "quantity": 1,
            "start_date": created, "status": "active", "trial_end": None, "trial_start": None}


def _product(n: int, created: int) -> dict[str, Any]:
    return {"id": _oid("products", n), "object": "product", "active": True, "created": created,
            "default_price": _oid("prices", n), "description": None, "images": [], "livemode": False,
            "metadata": {}, "name": f"Plan {n}", "shippable": None, "statement_descriptor": None,
            "tax_code": None, "type": "service", "unit_label": None, "updated": created, "url": None}


def _price(n: int, created: int) -> dict[str, Any]:
    return {"id": _oid("prices", n), "object": "price", "active": True, "billing_scheme": "per_unit",
            "created": created, "currency": "usd", "livemode": False, "lookup_key": None, "metadata": {},
            "nickname": None, "product": _oid("products", n), "recurring": {
                "aggregate_usage": None, "interval": "month", "interval_count": 1, "usage_type": "licensed"},
            "tax_behavior": "unspecified", "tiers_mode": None, "type": "recurring", "unit_amount": 1200,
            "unit_amount_decimal": "1200"}


def _payment_intent(n: int, created: int) -> dict[str, Any]:
    return {"id": _oid("payment_intents", n), "object": "payment_intent", "amount": 1000 + n,
            "amount_capturable": 0, "amount_received": 1000 + n, "application": None,
            "application_fee_amount": None, "canceled_at": None, "cancellation_reason": None,
            "capture_method": "automatic", "client_secret": f"pi_{n}_secret_x", "confirmation_method": "automatic",
            "created": created, "currency": "usd", "customer": _oid("customers", n), "description": None,
            "invoice": None, "last_payment_error": None, "latest_charge": _oid("charges", n), "livemode": False,
            "metadata": {}, "payment_method": f"pm_{n:014d}", "payment_method_types": ["card"],
            "receipt_email": None, "setup_future_usage": None, "statement_descriptor": None, "status": "succeeded"}


MAKERS: dict[str, Callable[[int, int], dict[str, Any]]] = {
    "customers": _customer, "charges": _charge, "invoices": _invoice, "subscriptions": _subscription,
    "products": _product, "prices": _price, "payment_intents": _payment_intent}


def error(status: int, kind: str, message: str, code: str | None = None,
          headers: dict[str, str] | None = None, param: str | None = None) -> tuple[int, dict[str, str], Any]:
    body: dict[str, Any] = {"type": kind, "message": message}
    if code:
        body["code"] = code
    if param:
        body["param"] = param
    return status, {"Request-Id": "req_test", **(headers or {})}, {"error": body}


@dataclass
class Logged:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    status: int = 0


class StripeApi:
    def __init__(self) -> None:
        self.objects: dict[str, list[dict[str, Any]]] = {kind: [] for kind in PREFIX}
        self.by_id: dict[str, dict[str, Any]] = {}
        self.log: list[Logged] = []
        self.faults: dict[str, list[Any]] = {}
        self._lock = threading.Lock()
        self._events = 0
        self._cache: dict[str, tuple[list[dict[str, Any]], list[int], dict[str, int]]] = {}
        self.skew = 0  # seconds this Stripe's clock is ahead of ours (negative: behind), in its Date headers
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> StripeApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- data ---------------------------------------------------------------------------------

    def populate(self, *, events: bool = True, seconds_ago: int = 86400, **counts: int) -> int:
        """``counts[kind]`` objects of each kind, created two a second from ``seconds_ago`` ago; returns
        that start (unix seconds)."""
        base = int(time.time()) - seconds_ago
        for kind, count in counts.items():
            for n in range(1, count + 1):
                self.add(kind, MAKERS[kind](n, base + n // 2), event=events)
        return base

    def add(self, kind: str, obj: dict[str, Any], *, event: bool = True) -> dict[str, Any]:
        self.objects[kind].append(obj)
        self.by_id[obj["id"]] = obj
        self._cache.pop(kind, None)
        if event:
            self.event(f"{EVENT_PREFIX[kind]}.created", obj, obj["created"])
        return obj

    def create(self, kind: str, n: int, created: int) -> dict[str, Any]:
        """A new object (as made by a customer of the account while the tap is not running)."""
        return self.add(kind, MAKERS[kind](n, created))

    def update(self, kind: str, n: int, when: int, **changes: Any) -> dict[str, Any]:
        obj = self.by_id[_oid(kind, n)]
        obj.update(changes)
        self.event(f"{EVENT_PREFIX[kind]}.updated", obj, when, previous=dict.fromkeys(changes))
        return obj

    def delete(self, kind: str, n: int, when: int) -> dict[str, Any]:
        """Delete an object (its lists no longer show it, a ``starting_after`` of it is
        ``resource_missing``), with its ``<kind>.deleted`` event."""
        obj = self.by_id.pop(_oid(kind, n))
        self.objects[kind].remove(obj)
        self._cache.pop(kind, None)
        self.event(f"{EVENT_PREFIX[kind]}.deleted", {**obj, "deleted": True}, when)
        return obj

    def event(self, kind: str, obj: dict[str, Any], created: int, previous: dict[str, Any] | None = None) -> None:
        self._events += 1
        data: dict[str, Any] = {"object": orjson.loads(orjson.dumps(obj))}
        if previous is not None:
            data["previous_attributes"] = previous
        evt = {"id": _oid("events", self._events), "object": "event", "api_version": "2020-08-27",
               "created": created, "data": data, "livemode": False, "pending_webhooks": 0,
               "request": {"id": None, "idempotency_key": None}, "type": kind}
        self.objects["events"].append(evt)
        self._cache.pop("events", None)

    def fail(self, path: str, *answers: tuple[Any, ...] | None) -> None:
        """The next requests to ``path`` get these answers: (status, headers[, error body]), or None:
        the normal answer."""
        for answer in answers:
            if answer is None:
                self.faults.setdefault(path, []).append(None)
                continue
            status, headers = answer[0], answer[1]
            body = answer[2] if len(answer) > 2 else {  # type: ignore[misc]
                "error": {"type": "api_error", "message": "An unknown error occurred"}}
            self.faults.setdefault(path, []).append((status, headers, body))

    def on_request(self, path: str, number: int, action: Callable[[], object]) -> None:
        """Run ``action`` when the ``number``-th next request to ``path`` arrives (then answer it as usual)."""
        queue = self.faults.setdefault(path, [])
        queue.extend([None] * (number - 1 - len(queue)))
        queue.insert(number - 1, lambda: action() and None)

    def requests(self, path: str | None = None) -> list[Logged]:
        with self._lock:
            return [r for r in self.log if path is None or r.path == path]

    # -- the API --------------------------------------------------------------------------

    def handle(self, path: str, query: dict[str, str], headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        with self._lock:
            queued = self.faults.get(path)
            answer = queued.pop(0) if queued else None
        if callable(answer):
            answer = answer()  # something that happens as this request arrives
        if answer is not None:
            return answer
        auth = headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            return error(401, "invalid_request_error", "You did not provide an API key. You need to provide "
                         "your API key in the Authorization header, using Bearer auth.")
        if auth != f"Bearer {KEY}":
            shown = auth[7:15] + "*" * 12 + auth[-4:]
            return error(401, "invalid_request_error", f"Invalid API Key provided: {shown}")
        if path in ("/v1/account", f"/v1/accounts/{ACCOUNT}"):
            return 200, {}, {"id": ACCOUNT, "object": "account", "settings": {"dashboard": {"display_name": "Acme"}}}
        kind = path.removeprefix("/v1/")
        if kind not in self.objects:
            return error(404, "invalid_request_error", f"Unrecognized request URL (GET: {path}).")
        return self._list(kind, query)

    def _sorted(self, kind: str) -> tuple[list[dict[str, Any]], list[int], dict[str, int]]:
        """A kind's objects newest first (by created, then id), their negated created times (for
        bisect) and each ID's position; kept until an object of the kind is added."""
        cached = self._cache.get(kind)
        if cached is None:
            rows = sorted(self.objects[kind], key=lambda r: (r["created"], r["id"]), reverse=True)
            cached = (rows, [-r["created"] for r in rows], {r["id"]: i for i, r in enumerate(rows)})
            self._cache[kind] = cached
        return cached

    def _list(self, kind: str, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        limit = int(query.get("limit", "10"))
        if not 1 <= limit <= 100:
            return error(400, "invalid_request_error", "This value must be less than or equal to 100 (it currently "
                         f"is '{limit}').", "parameter_invalid_integer")
        with self._lock:
            rows, negated, position = self._sorted(kind)
        low, high = query.get("created[gte]"), query.get("created[lt]")
        first = bisect.bisect_right(negated, -int(high)) if high is not None else 0
        end = bisect.bisect_right(negated, -int(low)) if low is not None else len(rows)
        after = query.get("starting_after")
        if after:
            at = position.get(after)
            if at is None:
                return error(400, "invalid_request_error", f"No such {OBJECT[kind]}: '{after}'",
                             "resource_missing", param="starting_after")
            first = max(first, at + 1)
        wanted = query.get("type")
        if wanted:
            prefix = wanted.removesuffix("*")
            rows = [r for r in rows[first:end]
                    if (r["type"].startswith(prefix) if wanted.endswith("*") else r["type"] == wanted)]
            first, end = 0, len(rows)
        page = rows[first:min(end, first + limit)]
        return 200, {}, {"object": "list", "data": page, "has_more": first + limit < end, "url": f"/v1/{kind}"}


def _handler(api: StripeApi) -> Callable[..., BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True
        wbufsize = 1 << 16

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def date_time_string(self, timestamp: float | None = None) -> str:
            return super().date_time_string(time.time() + api.skew if timestamp is None else timestamp)

        def do_GET(self) -> None:
            split = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(split.query).items()}
            headers = {k.lower(): v for k, v in self.headers.items()}
            entry = Logged(split.path, query, headers)
            with api._lock:
                api.log.append(entry)
            try:
                status, extra, payload = api.handle(split.path, query, headers)
            except ValueError as exc:
                status, extra, payload = error(400, "invalid_request_error", f"Invalid request: {exc}")
            entry.status = status
            data = orjson.dumps(payload)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Stripe-Version", headers.get("stripe-version", "2020-08-27"))
            for k, v in extra.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

    return Handler


def main() -> None:
    """Serve until interrupted (the benchmark's server): prints ``URL KEY``."""
    import argparse

    parser = argparse.ArgumentParser(description="The loopback Stripe-shaped API.")
    parser.add_argument("--customers", type=int, default=20_000, help="customers to serve")
    args = parser.parse_args()
    api = StripeApi()
    api.populate(customers=args.customers, events=False)
    with api:
        sys.stdout.write(f"{api.url} {KEY}\n")
        sys.stdout.flush()
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
