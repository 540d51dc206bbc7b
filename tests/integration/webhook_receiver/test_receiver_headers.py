"""Header values as the receiver reads them (UTF-8 text, latin-1 when not UTF-8; signatures over the
bytes sent), and the settings the receiver shares with the tap (an unknown one is a warning unless
strict_settings). Real HTTP on loopback, headers sent as raw bytes; the spool read back with sqlite3."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.webhook_receiver.receiver import SECRET, Receiver, rows
from tests.integration.webhook_receiver.test_receiver_http import body

TOKEN = "t\u00f6ken-\u00a7"  # a GitLab secret token that is not ASCII
HMAC_SECRET = "generic-hmac-Key-33"


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Receiver]:
    tmp = tmp_path_factory.mktemp("receiver-headers")
    config: dict[str, Any] = {
        "spool": {"path": str(tmp / "spool.db")},
        "server": {"port": 0},
        "sources": {
            "gh": {"provider": "github", "secrets": [SECRET], "keep_headers": ["x-github-event", "x-note", "x-old"]},
            "gl": {"provider": "gitlab", "secrets": [TOKEN]},
            "gen": {"provider": "hmac", "secrets": [HMAC_SECRET], "id_header": "X-Request-Id",
                    "signed_payload": "{id}.{body}"},
        }}
    rec = Receiver(tmp, config).start()
    yield rec
    rec.stop()


def _post(rec: Receiver, source: str, sent: bytes, headers: dict[str, Any]) -> int:
    """POST with header values given as bytes where they are (http.client sends those as they are)."""
    return rec.request("POST", f"/hooks/{source}", sent, {"Content-Type": "application/json", **headers})[0]


def _stored(rec: Receiver, marker: str) -> list[dict[str, Any]]:
    return [r for r in rows(Path(rec.config["spool"]["path"])) if marker.encode() in r["body"]]


def test_utf8_header_values_are_kept_as_text_and_ids_as_sent(receiver: Receiver) -> None:
    marker = secrets.token_hex(6)
    sent = body(marker)
    headers = {"X-Hub-Signature-256": "sha256=" + hmac.new(SECRET.encode(), sent, hashlib.sha256).hexdigest(),
               "X-GitHub-Delivery": f"caf\u00e9-{marker}".encode(), "X-GitHub-Event": b"push",
               "X-Note": "na\u00efve \u2713".encode(),
               "X-Old": b"\xe9t\xe9"}  # not UTF-8: read as latin-1, as before
    assert _post(receiver, "gh", sent, headers) == 200
    [row] = _stored(receiver, marker)
    assert row["delivery_id"] == f"caf\u00e9-{marker}"
    assert json.loads(row["headers"]) == {"x-github-event": "push", "x-note": "na\u00efve \u2713",
                                          "x-old": "\u00e9t\u00e9"}


def test_gitlab_token_matches_only_its_exact_bytes(receiver: Receiver) -> None:
    marker = secrets.token_hex(6)
    sent = body(marker)
    wrong = (TOKEN.encode("latin-1"), TOKEN.encode().decode("latin-1").encode())  # latin-1; UTF-8 of mojibake
    for token in wrong:
        assert _post(receiver, "gl", sent, {"X-Gitlab-Token": token, "Idempotency-Key": marker}) == 401
    assert _stored(receiver, marker) == []
    assert _post(receiver, "gl", sent, {"X-Gitlab-Token": TOKEN.encode(),
                                        "Idempotency-Key": f"\u00fc-{marker}".encode()}) == 200
    assert [r["delivery_id"] for r in _stored(receiver, marker)] == [f"\u00fc-{marker}"]


def test_a_signed_utf8_id_header_verifies_over_its_bytes(receiver: Receiver) -> None:
    marker = secrets.token_hex(6)
    sent = body(marker)
    delivery = f"r\u00e9q-{marker}".encode()
    signature = hmac.new(HMAC_SECRET.encode(), delivery + b"." + sent, hashlib.sha256).hexdigest()
    assert _post(receiver, "gen", sent, {"X-Request-Id": delivery, "X-Signature": signature}) == 200
    assert [r["delivery_id"] for r in _stored(receiver, marker)] == [f"r\u00e9q-{marker}"]


def test_the_receiver_takes_the_tap_settings_and_warns_about_typos(tmp_path: Path) -> None:
    """One config file for both: strict_settings (a kit setting) is known to the receiver, and an
    unknown nested setting is a warning unless strict_settings, as in every connector."""
    config: dict[str, Any] = {"strict_settings": False, "spool": {"path": str(tmp_path / "s.db"), "dedup_days": 3},
                              "server": {"port": 0},
                              "sources": {"gh": {"provider": "github", "secrets": [SECRET], "keep_header": ["a"]}}}
    rec = Receiver(tmp_path, config).start()
    try:
        marker = secrets.token_hex(6)
        sent = body(marker)
        signature = "sha256=" + hmac.new(SECRET.encode(), sent, hashlib.sha256).hexdigest()
        assert _post(rec, "gh", sent, {"X-Hub-Signature-256": signature, "X-GitHub-Delivery": marker}) == 200
    finally:
        rec.stop()
    log = rec.stderr()
    assert "unknown setting 'strict_settings'" not in log
    assert "unknown setting 'spool.dedup_days' (did you mean 'dedupe_days'?); it is ignored" in log
    assert "unknown setting 'sources.gh.keep_header' (did you mean 'keep_headers'?); it is ignored" in log
    strict = Receiver(tmp_path, {**config, "strict_settings": True})
    with pytest.raises(AssertionError, match="exited 2"):
        strict.start()
    assert "unknown setting 'spool.dedup_days'" in strict.stderr()
