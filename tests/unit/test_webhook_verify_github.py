"""GitHub and GitLab verification: GitHub's published worked example, then generated cases.

The oracle for generated cases is hmac/hashlib called here, not the code under test.
"""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import ConfigError
from taps.webhook.providers import Rejected, Verified, decode_headers, verifier_for
from tests.unit.webhook_vectors import GITHUB_PAYLOAD as DOC_PAYLOAD
from tests.unit.webhook_vectors import GITHUB_SECRET as DOC_SECRET
from tests.unit.webhook_vectors import GITHUB_SIGNATURE as DOC_HEADER

NOW = 1_760_000_000.0


def github(*secrets: str):
    return verifier_for("gh", {"provider": "github", "secrets": list(secrets)})


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def reason(verifier, headers, body) -> str:
    with pytest.raises(Rejected) as info:
        verifier.verify(headers, body, NOW)
    return info.value.reason


def test_githubs_published_example_verifies():
    got = github(DOC_SECRET).verify({"x-hub-signature-256": DOC_HEADER}, DOC_PAYLOAD, NOW)
    assert got.delivery_id == "sha256:" + hashlib.sha256(DOC_PAYLOAD).hexdigest()
    assert got.event_type is None and got.reply is None


def test_githubs_published_example_with_another_secret_or_body_is_rejected():
    assert reason(github("It's a secret to everybody"), {"x-hub-signature-256": DOC_HEADER}, DOC_PAYLOAD) \
        == "bad_signature"
    assert reason(github(DOC_SECRET), {"x-hub-signature-256": DOC_HEADER}, b"Hello, World!\n") == "bad_signature"


def test_upper_case_hex_is_the_same_signature():
    assert github(DOC_SECRET).verify({"x-hub-signature-256": "sha256=" + DOC_HEADER[7:].upper()}, DOC_PAYLOAD, NOW)


def test_delivery_and_event_come_from_githubs_headers():
    body = b'{"zen": "Keep it logically awesome."}'
    headers = {"x-hub-signature-256": sign("s3", body), "x-github-delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
               "x-github-event": "ping"}
    assert github("s1", "s3").verify(headers, body, NOW) == Verified("72d3162e-cc78-11e3-81ab-4c9367dc0958", "ping")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, "unsigned"),
        ({"x-hub-signature-256": ""}, "unsigned"),
        ({"x-hub-signature": "sha1=" + "0" * 40}, "unsigned"),  # the legacy SHA-1 header alone is not enough
        ({"x-hub-signature-256": DOC_HEADER[7:]}, "bad_signature"),  # no prefix
        ({"x-hub-signature-256": "sha1=" + DOC_HEADER[7:]}, "bad_signature"),
        ({"x-hub-signature-256": "sha256=zz" + DOC_HEADER[9:]}, "bad_signature"),  # not hex
        ({"x-hub-signature-256": DOC_HEADER[:-2]}, "bad_signature"),  # truncated
    ],
)
def test_missing_or_malformed_signatures(headers, expected):
    assert reason(github(DOC_SECRET), headers, DOC_PAYLOAD) == expected


def test_no_secrets_is_a_config_error_naming_the_setting():
    with pytest.raises(ConfigError) as info:
        github()
    assert "sources.gh.secrets" in str(info.value)
    with pytest.raises(ConfigError, match=r"sources\.x\.provider"):
        verifier_for("x", {"provider": "bitbucket", "secrets": ["a"]})


# a secret or body marked with a non-ASCII character can only appear in a message by leaking
secret_text = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FF), min_size=8, max_size=40).map(
    lambda s: "\u00a7" + s)


@settings(deadline=None, max_examples=200)
@given(secrets=st.lists(secret_text, min_size=1, max_size=3, unique=True), pick=st.integers(0, 2),
       body=st.binary(min_size=16, max_size=512).map(lambda b: b"\xa7" + b), flip=st.integers(0, 10_000),
       outsider=secret_text)
def test_generated_valid_tampered_and_foreign_requests(secrets, pick, body, flip, outsider):
    verifier = github(*secrets)
    signer = secrets[pick % len(secrets)]
    assert verifier.verify({"x-hub-signature-256": sign(signer, body)}, body, NOW).delivery_id.startswith("sha256:")
    tampered = bytearray(body)
    tampered[flip % len(body)] ^= 1 << (flip % 8)
    with pytest.raises(Rejected) as info:
        verifier.verify({"x-hub-signature-256": sign(signer, body)}, bytes(tampered), NOW)
    assert info.value.reason == "bad_signature"
    message = str(info.value)
    assert not any(s in message for s in secrets) and body.decode("latin-1") not in message
    if outsider not in secrets:
        with pytest.raises(Rejected):
            verifier.verify({"x-hub-signature-256": sign(outsider, body)}, body, NOW)


# GitLab: the token is the secret itself, compared in constant time.

def gitlab(*secrets: str):
    return verifier_for("gl", {"provider": "gitlab", "secrets": list(secrets)})


def test_gitlab_token_any_active_secret():
    body = b'{"object_kind": "push"}'
    got = gitlab("old-token", "new-token").verify(
        {"x-gitlab-token": "new-token", "x-gitlab-event": "Push Hook", "idempotency-key": "f3c2-retry-stable",
         "x-gitlab-event-uuid": "event-1"}, body, NOW)
    assert got == Verified("f3c2-retry-stable", "Push Hook")
    got = gitlab("old-token").verify({"x-gitlab-token": "old-token", "x-gitlab-event-uuid": "event-1"}, body, NOW)
    assert got.delivery_id == "event-1" and got.event_type is None
    got = gitlab("old-token").verify({"x-gitlab-token": "old-token"}, body, NOW)
    assert got.delivery_id == "sha256:" + hashlib.sha256(body).hexdigest()


@pytest.mark.parametrize(("headers", "expected"), [
    ({}, "unsigned"), ({"x-gitlab-token": " "}, "unsigned"), ({"x-gitlab-token": "new-toke"}, "bad_signature"),
    ({"x-gitlab-token": "new-token2"}, "bad_signature"), ({"x-gitlab-token": "NEW-TOKEN"}, "bad_signature"),
])
def test_gitlab_rejections(headers, expected):
    with pytest.raises(Rejected) as info:
        gitlab("new-token").verify(headers, b"{}", NOW)
    assert info.value.reason == expected and "new-token" not in str(info.value)


def test_gitlab_non_ascii_token_is_compared_byte_exact():
    """The receiver hands the verifier the header's text and the bytes sent (decode_headers): the
    token matches only when those bytes are the secret's UTF-8, never through a decoding of them."""
    secret = "t\u00f6ken-\u00a7"
    sent = secret.encode("utf-8")
    assert gitlab(secret).verify(decode_headers([(b"x-gitlab-token", sent)]), b"{}", NOW)
    assert gitlab(secret).verify({"x-gitlab-token": secret}, b"{}", NOW)  # text given directly: its UTF-8
    for other in (secret.encode("latin-1"), sent.decode("latin-1").encode("utf-8"), sent[:-1]):
        with pytest.raises(Rejected):  # latin-1 bytes, the UTF-8 of mojibake, a cut token
            gitlab(secret).verify(decode_headers([(b"x-gitlab-token", other)]), b"{}", NOW)
    with pytest.raises(Rejected):  # mojibake given as text is not the token either
        gitlab(secret).verify({"x-gitlab-token": sent.decode("latin-1")}, b"{}", NOW)
