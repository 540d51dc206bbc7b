"""Stripe and Shopify verification, from their documented recipes with hmac/hashlib as the oracle
(neither publishes expected signatures for given inputs)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from taps.webhook.providers import Rejected, Verified, verifier_for

NOW = 1_760_000_000
EVENT = json.dumps({"id": "evt_1NG8Du2eZvKYlo2CUI79vXWy", "object": "event", "type": "invoice.paid",
                    "data": {"object": {"id": "in_1", "amount_paid": 2000}}}).encode()


def stripe(*secrets: str, **settings):
    return verifier_for("st", {"provider": "stripe", "secrets": list(secrets), **settings})


def v1(secret: str, ts: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()


def reason(verifier, headers, body=EVENT, now=NOW) -> str:
    with pytest.raises(Rejected) as info:
        verifier.verify(headers, body, now)
    return info.value.reason


def test_a_signed_event_gives_its_id_and_type():
    header = f"t={NOW},v1={v1('whsec_a', NOW, EVENT)}"
    assert stripe("whsec_a").verify({"stripe-signature": header}, EVENT, NOW) == \
        Verified("evt_1NG8Du2eZvKYlo2CUI79vXWy", "invoice.paid")


def test_several_v1_during_a_roll_and_v0_ignored():
    header = f"t={NOW},v1={v1('whsec_old', NOW, EVENT)},v1={v1('whsec_new', NOW, EVENT)},v0={'0' * 64}"
    assert stripe("whsec_new").verify({"stripe-signature": header}, EVENT, NOW)
    assert stripe("whsec_old").verify({"stripe-signature": header}, EVENT, NOW)
    assert reason(stripe("whsec_other"), {"stripe-signature": header}) == "bad_signature"
    only_v0 = f"t={NOW},v0={v1('whsec_new', NOW, EVENT)}"  # the test-mode scheme proves nothing
    assert reason(stripe("whsec_new"), {"stripe-signature": only_v0}) == "unsigned"


def test_the_300_second_tolerance_and_the_setting():
    ok = {"stripe-signature": f"t={NOW - 300},v1={v1('k', NOW - 300, EVENT)}"}
    old = {"stripe-signature": f"t={NOW - 301},v1={v1('k', NOW - 301, EVENT)}"}
    assert stripe("k").verify(ok, EVENT, NOW)
    assert reason(stripe("k"), old) == "expired"
    assert stripe("k", tolerance_seconds=600).verify(old, EVENT, NOW)
    # a replay whose t= is moved forward no longer matches its signature
    moved = {"stripe-signature": f"t={NOW},v1={v1('k', NOW - 301, EVENT)}"}
    assert reason(stripe("k"), moved) == "bad_signature"


@pytest.mark.parametrize(("header", "expected"), [
    (None, "unsigned"),
    ("", "unsigned"),
    (f"v1={'a' * 64}", "bad_signature"),  # no t=
    (f"t={NOW},t={NOW},v1={'a' * 64}", "bad_signature"),
    (f"t=soon,v1={'a' * 64}", "bad_signature"),
    (f"t={NOW}", "unsigned"),
    (f"t={NOW},v1=nothex", "unsigned"),
])
def test_malformed_headers(header, expected):
    headers = {} if header is None else {"stripe-signature": header}
    assert reason(stripe("k"), headers) == expected


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"type": "invoice.paid"}', b'{"id": 5}'])
def test_a_signed_body_that_is_not_an_event_is_bad_body(body):
    assert reason(stripe("k"), {"stripe-signature": f"t={NOW},v1={v1('k', NOW, body)}"}, body) == "bad_body"


# Shopify: base64 HMAC-SHA256 of the raw body under the app's client secret.

ORDER = b'{"id": 820982911946154508, "email": "jon@example.com", "total_price": "254.98"}'


def shopify(*secrets: str):
    return verifier_for("shop", {"provider": "shopify", "secrets": list(secrets)})


def shopify_mac(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def test_shopify_ids_and_topic():
    headers = {"x-shopify-hmac-sha256": shopify_mac("shpss_b", ORDER), "x-shopify-topic": "orders/create",
               "x-shopify-event-id": "98880550-7158-44d4-b7cd-2c97c8a091b5", "x-shopify-webhook-id": "b54557e4"}
    got = shopify("shpss_a", "shpss_b").verify(headers, ORDER, NOW)
    assert got == Verified("98880550-7158-44d4-b7cd-2c97c8a091b5:orders/create", "orders/create")
    del headers["x-shopify-event-id"]
    assert shopify("shpss_b").verify(headers, ORDER, NOW).delivery_id == "b54557e4"
    del headers["x-shopify-webhook-id"]
    assert shopify("shpss_b").verify(headers, ORDER, NOW).delivery_id == "sha256:" + hashlib.sha256(ORDER).hexdigest()


def test_shopify_hex_or_tampered_or_foreign_is_rejected():
    good = shopify_mac("shpss_b", ORDER)
    hexed = base64.b64decode(good).hex()
    assert reason(shopify("shpss_b"), {}, ORDER) == "unsigned"
    assert reason(shopify("shpss_b"), {"x-shopify-hmac-sha256": hexed}, ORDER) == "bad_signature"
    assert reason(shopify("shpss_b"), {"x-shopify-hmac-sha256": good}, ORDER.replace(b"254", b"2.5")) == \
        "bad_signature"
    assert reason(shopify("shpss_c"), {"x-shopify-hmac-sha256": good}, ORDER) == "bad_signature"
    assert reason(shopify("shpss_b"), {"x-shopify-hmac-sha256": good[:-4]}, ORDER) == "bad_signature"
