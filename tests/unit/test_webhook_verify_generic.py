"""The generic HMAC scheme (``provider: hmac``): configured to match GitHub's and Slack's schemes it
reproduces their published worked examples; then every setting against hmac/hashlib as the oracle."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import ConfigError
from taps.webhook.providers import Rejected, Verified, verifier_for
from tests.unit.webhook_vectors import (
    GITHUB_PAYLOAD,
    GITHUB_SECRET,
    GITHUB_SIGNATURE,
    SLACK_BODY,
    SLACK_SECRET,
    SLACK_SIGNATURE,
    SLACK_TIMESTAMP,
)

NOW = 1_760_000_000


def generic(**settings):
    return verifier_for("hooks", {"provider": "hmac", "secrets": ["k1"], **settings})


def digest(secret: str, message: bytes, algorithm: str = "sha256") -> bytes:
    return hmac.new(secret.encode(), message, algorithm).digest()


def reason(verifier, headers, body, now=NOW) -> str:
    with pytest.raises(Rejected) as info:
        verifier.verify(headers, body, now)
    return info.value.reason


def test_configured_as_github_it_verifies_githubs_published_example():
    verifier = generic(secrets=[GITHUB_SECRET], header="X-Hub-Signature-256", prefix="sha256=")
    assert verifier.verify({"x-hub-signature-256": GITHUB_SIGNATURE}, GITHUB_PAYLOAD, NOW).event_type is None


def test_configured_as_slack_it_verifies_slacks_published_example():
    verifier = generic(secrets=[SLACK_SECRET], header="X-Slack-Signature", prefix="v0=",
                       timestamp_header="X-Slack-Request-Timestamp", signed_payload="v0:{timestamp}:{body}")
    headers = {"x-slack-signature": SLACK_SIGNATURE, "x-slack-request-timestamp": SLACK_TIMESTAMP}
    assert verifier.verify(headers, SLACK_BODY, int(SLACK_TIMESTAMP) + 299)
    assert reason(verifier, headers, SLACK_BODY, int(SLACK_TIMESTAMP) + 301) == "expired"


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "sha512"])
@pytest.mark.parametrize("encoding", ["hex", "base64"])
def test_each_algorithm_and_encoding(algorithm, encoding):
    body = b'{"event": "order.paid", "n": 1}'
    raw = digest("k2", body, algorithm)
    text = raw.hex() if encoding == "hex" else base64.b64encode(raw).decode()
    verifier = generic(secrets=["k1", "k2"], algorithm=algorithm, encoding=encoding, header="X-Sig",
                       id_header="X-Delivery", event_header="X-Event")
    got = verifier.verify({"x-sig": text, "x-delivery": "d-1", "x-event": "order.paid"}, body, NOW)
    assert got == Verified("d-1", "order.paid")
    other = "sha512" if algorithm != "sha512" else "sha1"
    wrong = digest("k2", body, other)
    assert reason(verifier, {"x-sig": wrong.hex() if encoding == "hex" else base64.b64encode(wrong).decode()},
                  body) == "bad_signature"


def test_timestamp_template_and_window():
    verifier = generic(header="Webhook-Signature", prefix="v1=", timestamp_header="Webhook-Timestamp",
                       id_header="Webhook-Id", signed_payload="{id}.{timestamp}.{body}", tolerance_seconds=60)
    body = b"payload"

    def headers(ts, delivery="msg_1", secret="k1"):
        sig = digest(secret, f"{delivery}.{ts}.".encode() + body).hex()
        return {"webhook-signature": "v1=" + sig, "webhook-timestamp": str(ts), "webhook-id": delivery}

    assert verifier.verify(headers(NOW - 60), body, NOW).delivery_id == "msg_1"
    assert verifier.verify(headers(NOW + 60), body, NOW).delivery_id == "msg_1"
    assert reason(verifier, headers(NOW - 61), body) == "expired"  # a replay of an old, genuine request
    assert reason(verifier, headers(NOW + 61), body) == "expired"
    moved = headers(NOW - 3600)
    moved["webhook-timestamp"] = str(NOW)  # a replay with its timestamp refreshed: the signature breaks
    assert reason(verifier, moved, body) == "bad_signature"
    swapped = headers(NOW)
    swapped["webhook-id"] = "msg_2"  # the id is signed too
    assert reason(verifier, swapped, body) == "bad_signature"
    assert reason(verifier, {k: v for k, v in headers(NOW).items() if k != "webhook-timestamp"}, body) == "unsigned"
    assert reason(verifier, {k: v for k, v in headers(NOW).items() if k != "webhook-id"}, body) == "unsigned"
    assert reason(verifier, {**headers(NOW), "webhook-signature": headers(NOW)["webhook-signature"][3:]},
                  body) == "bad_signature"  # prefix missing


def test_defaults_are_hex_sha256_of_the_body_in_x_signature():
    body = b"x" * 100
    got = generic().verify({"x-signature": digest("k1", body).hex()}, body, NOW)
    assert got.delivery_id == "sha256:" + hashlib.sha256(body).hexdigest()
    assert reason(generic(), {}, body) == "unsigned"
    assert reason(generic(), {"x-signature": "abc"}, body) == "bad_signature"  # wrong length
    assert reason(generic(), {"x-signature": digest("k1", body).hex()[:-1] + "g"}, body) == "bad_signature"


@pytest.mark.parametrize(("settings", "where"), [
    ({"algorithm": "md5"}, "algorithm"),
    ({"encoding": "base32"}, "encoding"),
    ({"header": "X Sig"}, "header"),
    ({"header": 5}, "header"),
    ({"signed_payload": "{timestamp}.{body}"}, "signed_payload"),  # no timestamp_header
    ({"timestamp_header": "X-Ts", "signed_payload": "{body}"}, "signed_payload"),  # timestamp not signed
    ({"signed_payload": "{body}{body}"}, "signed_payload"),
    ({"signed_payload": "{bdy}"}, "signed_payload"),
    ({"signed_payload": "{id}.{body}"}, "signed_payload"),
    ({"tolerance_seconds": 0}, "tolerance_seconds"),
    ({"tolerance_seconds": "300"}, "tolerance_seconds"),
    ({"secrets": ["ok", ""]}, "secrets[1]"),
    ({"secrets": "not-a-list"}, "secrets"),
])
def test_bad_settings_are_named(settings, where):
    with pytest.raises(ConfigError) as info:
        generic(**settings)
    assert f"sources.hooks.{where}" in str(info.value)


def test_all_problems_are_reported_together_and_no_secret_is_shown():
    with pytest.raises(ConfigError) as info:
        verifier_for("h", {"provider": "hmac", "secrets": ["hunter2-secret", 7], "algorithm": "md5",
                           "encoding": "b32"})
    assert len(info.value.problems) == 3
    assert "hunter2-secret" not in info.value.block()


@settings(deadline=None, max_examples=200)
@given(secret=st.text(min_size=1, max_size=30), body=st.binary(max_size=300),
       algorithm=st.sampled_from(["sha1", "sha256", "sha512"]), encoding=st.sampled_from(["hex", "base64"]),
       prefix=st.sampled_from(["", "sha256=", "v1,"]), tampered=st.booleans())
def test_generated_requests(secret, body, algorithm, encoding, prefix, tampered):
    verifier = generic(secrets=[secret], algorithm=algorithm, encoding=encoding, prefix=prefix)
    raw = digest(secret, body, algorithm)
    text = prefix + (raw.hex() if encoding == "hex" else base64.b64encode(raw).decode())
    sent = body + b"!" if tampered else body
    if tampered:
        assert reason(verifier, {"x-signature": text}, sent) == "bad_signature"
    else:
        assert verifier.verify({"x-signature": text}, sent, NOW).delivery_id.startswith("sha256:")


FILLED = {"tolerance_seconds": 300, "content_types": None, "keep_headers": None, "streams": "source",
          "id_header": None, "header": "X-Signature", "algorithm": "sha256", "encoding": "hex", "prefix": "",
          "timestamp_header": None, "signed_payload": None, "event_header": None}


@pytest.mark.parametrize("provider", ["github", "gitlab", "stripe", "slack", "shopify", "hmac"])
def test_a_source_with_every_default_filled_in_builds(provider):
    """settings.py hands verifier_for the whole source with its schema's defaults; null means 'the default'."""
    assert verifier_for("s", {**FILLED, "provider": provider, "secrets": ["k"]})


def test_signed_payload_null_follows_the_timestamp_header():
    verifier = verifier_for("s", {**FILLED, "provider": "hmac", "secrets": ["k1"], "timestamp_header": "X-Ts"})
    body = b"{}"
    headers = {"x-ts": str(NOW), "x-signature": digest("k1", f"{NOW}.".encode() + body).hex()}
    assert verifier.verify(headers, body, NOW)
