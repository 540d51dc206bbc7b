"""Slack verification: Slack's published worked example, the five-minute window, the
url_verification handshake, and what is stored for events, commands and interactions."""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import urlencode

import pytest

from taps.webhook.providers import Rejected, Verified, verifier_for
from tests.unit.webhook_vectors import SLACK_BODY, SLACK_SECRET, SLACK_SIGNATURE, SLACK_TIMESTAMP

T0 = int(SLACK_TIMESTAMP)


def slack(*secrets: str, **settings):
    return verifier_for("sl", {"provider": "slack", "secrets": list(secrets), **settings})


def signed(body: bytes, ts: int = T0, secret: str = "sl-secret") -> dict[str, str]:
    mac = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"x-slack-signature": "v0=" + mac, "x-slack-request-timestamp": str(ts)}


def reason(verifier, headers, body, now=T0) -> str:
    with pytest.raises(Rejected) as info:
        verifier.verify(headers, body, now)
    return info.value.reason


DOC_HEADERS = {"x-slack-signature": SLACK_SIGNATURE, "x-slack-request-timestamp": SLACK_TIMESTAMP}


def test_slacks_published_example_verifies_as_a_slash_command():
    got = slack("other", SLACK_SECRET).verify(DOC_HEADERS, SLACK_BODY, T0)
    assert got == Verified("sha256:" + hashlib.sha256(SLACK_BODY).hexdigest(), "/webhook-collect")


def test_slacks_example_five_minute_window():
    assert slack(SLACK_SECRET).verify(DOC_HEADERS, SLACK_BODY, T0 + 300)
    assert slack(SLACK_SECRET).verify(DOC_HEADERS, SLACK_BODY, T0 - 300)
    assert reason(slack(SLACK_SECRET), DOC_HEADERS, SLACK_BODY, T0 + 301) == "expired"
    assert reason(slack(SLACK_SECRET), DOC_HEADERS, SLACK_BODY, T0 - 301) == "expired"


def test_slacks_example_tampered():
    assert reason(slack(SLACK_SECRET), DOC_HEADERS, SLACK_BODY.replace(b"roadrunner", b"coyote")) == "bad_signature"
    moved = {**DOC_HEADERS, "x-slack-request-timestamp": str(T0 + 1)}
    assert reason(slack(SLACK_SECRET), moved, SLACK_BODY) == "bad_signature"
    assert reason(slack("8f742231b10e8888abcd99yyyzzz85a6"), DOC_HEADERS, SLACK_BODY) == "bad_signature"


@pytest.mark.parametrize("drop", ["x-slack-signature", "x-slack-request-timestamp"])
def test_missing_headers_are_unsigned(drop):
    headers = {k: v for k, v in DOC_HEADERS.items() if k != drop}
    assert reason(slack(SLACK_SECRET), headers, SLACK_BODY) == "unsigned"


def test_url_verification_is_answered_not_stored():
    body = json.dumps({"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "type": "url_verification",
                       "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}).encode()
    got = slack("sl-secret").verify(signed(body), body, T0)
    assert got.reply is not None and json.loads(got.reply) == \
        {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
    assert got.reply_content_type == "application/json"
    unsigned = {k: v for k, v in signed(body).items() if k != "x-slack-signature"}
    assert reason(slack("sl-secret"), unsigned, body) == "unsigned"  # the handshake is signed too
    bad = json.dumps({"type": "url_verification"}).encode()
    assert reason(slack("sl-secret"), signed(bad), bad) == "bad_body"


def test_event_callback_id_and_inner_type_stable_across_retries():
    body = json.dumps({"type": "event_callback", "event_id": "Ev0PV52K21", "team_id": "T1",
                       "event": {"type": "reaction_added", "user": "U1", "reaction": "thumbsup"}}).encode()
    first = slack("sl-secret").verify(signed(body), body, T0)
    retry = {**signed(body, T0 + 60), "x-slack-retry-num": "1", "x-slack-retry-reason": "http_timeout"}
    again = slack("sl-secret").verify(retry, body, T0 + 60)
    assert first == again == Verified("Ev0PV52K21", "reaction_added")


def test_interactions_and_ssl_check():
    payload = json.dumps({"type": "block_actions", "user": {"id": "U1"}, "actions": [{"action_id": "approve"}]})
    body = urlencode({"payload": payload}).encode()
    assert slack("sl-secret").verify(signed(body), body, T0).event_type == "block_actions"
    ping = b"ssl_check=1&token=abc"
    got = slack("sl-secret").verify(signed(ping), ping, T0)
    assert got.reply == b"" and got.reply_content_type == "text/plain"


@pytest.mark.parametrize("body", [b"{not json", b'{"type": "event_callback"', b"[1]"])
def test_signed_but_malformed_json_is_bad_body(body):
    if body == b"[1]":  # not an object, and not form-encoded: stored as an untyped form
        assert slack("sl-secret").verify(signed(body), body, T0).event_type is None
    else:
        assert reason(slack("sl-secret"), signed(body), body) == "bad_body"
