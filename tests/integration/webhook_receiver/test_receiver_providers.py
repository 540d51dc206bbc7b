"""Every provider through the running receiver over real HTTP: a valid delivery is stored under the
provider's delivery id; the same request replayed is acknowledged and not stored again; a tampered
body, a foreign secret and (where the scheme signs a time) an expired signature get 401 and
nothing is stored. Requests are signed by taps/webhook/providers/signing.py, whose schemes the
verifier tests check against the providers' published examples."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from taps.webhook.providers.signing import sign
from tests.integration.webhook_receiver.receiver import Receiver, rows

SECRETS = {"github": "gh-Secret-a1", "gitlab": "gl-Token-b2", "stripe": "whsec_c3-stripe", "slack": "sl-Sign-d4",
           "shopify": "shp-Secret-e5", "hmac": "hm-Key-f6"}
HMAC_SOURCE = {"provider": "hmac", "header": "X-Acme-Signature", "encoding": "base64", "prefix": "v1=",
               "timestamp_header": "X-Acme-Timestamp", "id_header": "X-Acme-Id", "event_header": "X-Acme-Event"}
TIMED = ("stripe", "slack", "hmac")  # schemes that sign a timestamp


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Receiver]:
    tmp = tmp_path_factory.mktemp("providers")
    sources: dict[str, Any] = {p: {"provider": p, "secrets": ["rotated-out-" + s, s]} for p, s in SECRETS.items()}
    sources["hmac"].update(HMAC_SOURCE)
    rec = Receiver(tmp, {"spool": {"path": str(tmp / "spool.db")}, "server": {"port": 0}, "sources": sources},
                   log_level="INFO").start()
    yield rec
    rec.stop()
    log = rec.stderr()
    for secret in SECRETS.values():
        assert secret not in log


def event(provider: str, marker: str) -> tuple[bytes, str, str]:
    """A body as the provider sends it, with the delivery id and event type the spool should hold."""
    if provider == "stripe":
        return json.dumps({"id": f"evt_{marker}", "type": "invoice.paid", "m": marker}).encode(), f"evt_{marker}", \
            "invoice.paid"
    if provider == "slack":
        return json.dumps({"type": "event_callback", "event_id": f"Ev{marker}",
                           "event": {"type": "app_mention", "m": marker}}).encode(), f"Ev{marker}", "app_mention"
    return json.dumps({"m": marker, "object_kind": "push"}).encode(), f"id-{marker}", "push"


def headers_for(provider: str, body: bytes, marker: str, *, now: float | None = None,
                secret: str | None = None) -> dict[str, str]:
    signed = sign(provider, secret or SECRETS[provider], body, now=now, delivery_id=f"id-{marker}",
                  event_type="push" if provider in ("github", "gitlab", "shopify", "hmac") else None,
                  source=HMAC_SOURCE if provider == "hmac" else None)
    return {"Content-Type": "application/json", **signed}


def stored(rec: Receiver, marker: str) -> list[dict[str, Any]]:
    return [r for r in rows(Path(rec.config["spool"]["path"])) if marker.encode() in r["body"]]


@pytest.mark.parametrize("provider", list(SECRETS))
def test_valid_then_replayed(receiver: Receiver, provider: str) -> None:
    marker = secrets.token_hex(5)
    body, delivery, kind = event(provider, marker)
    headers = headers_for(provider, body, marker)
    assert receiver.post(provider, body, headers) == (200, b'{"status":"stored"}')
    assert receiver.post(provider, body, headers) == (200, b'{"status":"duplicate"}')  # replayed
    [row] = stored(receiver, marker)
    expected_id = f"{delivery}:push" if provider == "shopify" else delivery
    assert (row["source"], row["delivery_id"], row["event_type"], row["body"]) == (provider, expected_id, kind, body)


@pytest.mark.parametrize(("provider", "case"), [
    (p, case) for p in SECRETS for case in ("tampered", "foreign_secret", "expired")
    if case != "expired" or p in TIMED])
def test_refused_and_not_stored(receiver: Receiver, provider: str, case: str) -> None:
    marker = secrets.token_hex(5)
    body, _, _ = event(provider, marker)
    if case == "tampered":
        headers = headers_for(provider, body, marker)
        body = body.replace(marker.encode(), marker[::-1].encode() + b"x")
        marker = marker[::-1] + "x"
    elif case == "foreign_secret":
        headers = headers_for(provider, body, marker, secret="someone-else")
    else:
        headers = headers_for(provider, body, marker, now=time.time() - 301)
    status, reply = receiver.post(provider, body, headers)
    expected = "expired" if case == "expired" else "bad_signature"
    if provider == "gitlab" and case == "tampered":  # a shared token signs nothing: any body passes
        assert status == 200
        return
    assert (status, json.loads(reply)) == (401, {"error": expected})
    assert stored(receiver, marker) == []
