"""tap-webhook serve over real HTTP: what is stored, what is refused (and not stored), what is
counted. Signatures are computed here with hmac (an oracle independent of the verifiers), and
the spool file is read back with sqlite3."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.integration.webhook_receiver.receiver import OLD_SECRET, SECRET, Receiver, rows

STRIPE_SECRET = "whsec_stripe-Test-51c0"
SLACK_SECRET = "slack-signing-9a8b7c"
HMAC_SECRET = "generic-hmac-Key-33"
MAX_BODY = 4096


def gh_headers(body: bytes, secret: str = SECRET, delivery: str | None = None, event: str = "push",
               content_type: str = "application/json") -> dict[str, str]:
    return {"Content-Type": content_type, "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery or secrets.token_hex(8),
            "X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


def stripe_headers(body: bytes, at: float) -> dict[str, str]:
    ts = str(int(at))
    sig = hmac.new(STRIPE_SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json; charset=utf-8", "Stripe-Signature": f"t={ts},v1={sig}"}


def slack_headers(body: bytes, at: float) -> dict[str, str]:
    ts = str(int(at))
    sig = hmac.new(SLACK_SECRET.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={sig}"}


def body(marker: str, size: int = 300) -> bytes:
    head = json.dumps({"marker": marker, "n": secrets.randbelow(10**9)})[:-1]
    return (head + ', "pad": "' + "y" * max(0, size - len(head) - 12) + '"}').encode()


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Receiver]:
    tmp = tmp_path_factory.mktemp("receiver")
    config: dict[str, Any] = {
        "spool": {"path": str(tmp / "spool.db")},
        "server": {"port": 0, "max_body_bytes": MAX_BODY},
        "sources": {
            "gh": {"provider": "github", "secrets": [SECRET, OLD_SECRET]},
            "st": {"provider": "stripe", "secrets": [STRIPE_SECRET]},
            "sl": {"provider": "slack", "secrets": [SLACK_SECRET]},
            "gen": {"provider": "hmac", "secrets": [HMAC_SECRET], "header": "X-Sig", "prefix": "sha256=",
                    "id_header": "X-Request-Id", "keep_headers": ["X-Request-Id", "X-Tenant"]},
        }}
    rec = Receiver(tmp, config).start()
    yield rec
    rec.stop()


def spool(rec: Receiver) -> list[dict[str, Any]]:
    return rows(Path(rec.config["spool"]["path"]))


def with_marker(rec: Receiver, marker: str) -> list[dict[str, Any]]:
    return [r for r in spool(rec) if marker.encode() in r["body"]]


def test_github_delivery_is_stored_as_sent(receiver: Receiver) -> None:
    marker = secrets.token_hex(6)
    sent = body(marker)
    headers = {**gh_headers(sent, delivery=f"d-{marker}", event="issues"), "X-Not-Kept": "nope"}
    before = time.time()
    assert receiver.post("gh", sent, headers) == (200, b'{"status":"stored"}')
    after = time.time()
    [row] = with_marker(receiver, marker)
    assert row["source"] == "gh"
    assert row["delivery_id"] == f"d-{marker}"
    assert row["event_type"] == "issues"
    assert row["body"] == sent
    assert json.loads(row["headers"]) == {"x-github-event": "issues", "x-github-delivery": f"d-{marker}"}
    assert before <= row["received_at"] <= after


def test_redelivery_is_acknowledged_and_not_stored_twice(receiver: Receiver) -> None:
    marker = secrets.token_hex(6)
    sent = body(marker)
    headers = gh_headers(sent, delivery=f"d-{marker}")
    assert receiver.post("gh", sent, headers)[0] == 200
    assert receiver.post("gh", sent, headers) == (200, b'{"status":"duplicate"}')
    other = body(marker + "-other")  # the same id on another source is another delivery
    assert receiver.post("gen", other, {"Content-Type": "application/json", "X-Request-Id": f"d-{marker}",
                                        "X-Sig": "sha256=" + hmac.new(HMAC_SECRET.encode(), other,
                                                                      hashlib.sha256).hexdigest()})[0] == 200
    stored = [(r["source"], r["delivery_id"]) for r in spool(receiver) if r["delivery_id"] == f"d-{marker}"]
    assert sorted(stored) == [("gen", f"d-{marker}"), ("gh", f"d-{marker}")]


def test_a_rotated_out_secret_still_verifies(receiver: Receiver) -> None:
    marker = secrets.token_hex(6)
    sent = body(marker)
    assert receiver.post("gh", sent, gh_headers(sent, secret=OLD_SECRET))[0] == 200
    assert len(with_marker(receiver, marker)) == 1


def _refusals() -> list[tuple[str, int, str]]:
    return [("unsigned", 401, "unsigned"), ("tampered", 401, "bad_signature"), ("foreign_secret", 401, "bad_signature"),
            ("expired", 401, "expired"), ("future", 401, "expired"), ("content_type", 415, "content_type"),
            ("no_content_type", 415, "content_type"), ("too_large", 413, "too_large"),
            ("too_large_chunked", 413, "too_large"), ("stripe_no_id", 400, "bad_body")]


@pytest.mark.parametrize(("case", "status", "reason"), _refusals())
def test_refused_requests_store_nothing(receiver: Receiver, case: str, status: int, reason: str) -> None:
    marker = secrets.token_hex(6)
    source = "st" if case in ("expired", "future", "stripe_no_id") else "gh"
    sent = body(marker)
    if case == "unsigned":
        headers = {k: v for k, v in gh_headers(sent).items() if k != "X-Hub-Signature-256"}
    elif case == "tampered":
        headers = gh_headers(sent)
        sent = sent.replace(b'"n": ', b'"n": 1')
    elif case == "foreign_secret":
        headers = gh_headers(sent, secret="not-" + SECRET)
    elif case in ("expired", "future"):
        sent = json.dumps({"id": f"evt_{marker}", "type": "charge.succeeded", "marker": marker}).encode()
        headers = stripe_headers(sent, time.time() + (-301 if case == "expired" else 301))
    elif case == "stripe_no_id":
        sent = json.dumps({"type": "charge.succeeded", "marker": marker}).encode()
        headers = stripe_headers(sent, time.time())
    elif case == "content_type":
        headers = gh_headers(sent, content_type="text/plain")
    elif case == "no_content_type":
        headers = {k: v for k, v in gh_headers(sent).items() if k != "Content-Type"}
    else:
        sent = body(marker, MAX_BODY + 1)
        headers = gh_headers(sent)
    before = receiver.metrics()
    if case == "too_large_chunked":  # no Content-Length: the limit is enforced while reading
        conn = receiver.connection()
        conn.putrequest("POST", f"/hooks/{source}")
        for key, value in headers.items():
            conn.putheader(key, value)
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        for start in range(0, len(sent), 1000):
            piece = sent[start:start + 1000]
            conn.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        conn.send(b"0\r\n\r\n")
        got = conn.getresponse().status
        conn.close()
    else:
        got = receiver.post(source, sent, headers)[0]
    assert got == status
    assert with_marker(receiver, marker) == []
    after = receiver.metrics()
    key = f'sluice_webhook_deliveries_rejected_total{{source="{source}",reason="{reason}"}}'
    assert after[key] - before[key] == 1
    accepted = f'sluice_webhook_deliveries_accepted_total{{source="{source}"}}'
    assert after[accepted] == before[accepted]


def test_unknown_source_is_404_and_not_stored(receiver: Receiver) -> None:
    marker = secrets.token_hex(6)
    sent = body(marker)
    assert receiver.post("nope", sent, gh_headers(sent))[0] == 404
    assert with_marker(receiver, marker) == []
    assert receiver.request("GET", "/hooks/gh")[0] == 405
    # the hooks' fast dispatch (app.py's _Front) answers as Starlette's "/hooks/{source}" route did
    # (a trailing slash is its redirect)
    got = {path: receiver.request("POST", path, sent, gh_headers(sent))[0]
           for path in ("/hooks/", "/hooks/gh/", "/hooks/gh/x", "/hooks//gh", "/hooks/g%2Fh")}
    assert got == {"/hooks/": 404, "/hooks/gh/": 307, "/hooks/gh/x": 404, "/hooks//gh": 404, "/hooks/g%2Fh": 404}
    status, reply, _ = receiver.request("POST", "/hooks/g%68", sent, gh_headers(sent, delivery=marker))
    assert (status, reply) == (200, b'{"status":"stored"}')  # the name is percent-decoded, as Starlette does
    assert [r["delivery_id"] for r in with_marker(receiver, marker)] == [marker]


def test_stripe_and_slack_ids_and_the_slack_challenge(receiver: Receiver) -> None:
    marker = secrets.token_hex(6)
    event = json.dumps({"id": f"evt_{marker}", "type": "invoice.paid", "data": {"marker": marker}}).encode()
    assert receiver.post("st", event, stripe_headers(event, time.time()))[0] == 200
    challenge = json.dumps({"type": "url_verification", "challenge": f"ch-{marker}", "token": "x"}).encode()
    status, reply = receiver.post("sl", challenge, slack_headers(challenge, time.time()))
    assert (status, json.loads(reply)) == (200, {"challenge": f"ch-{marker}"})
    callback = json.dumps({"type": "event_callback", "event_id": f"Ev{marker}",
                           "event": {"type": "message", "text": marker}}).encode()
    assert receiver.post("sl", callback, slack_headers(callback, time.time()))[0] == 200
    stored = {(r["source"], r["delivery_id"], r["event_type"]) for r in with_marker(receiver, marker)}
    assert stored == {("st", f"evt_{marker}", "invoice.paid"), ("sl", f"Ev{marker}", "message")}


def test_concurrent_deliveries_share_commits(receiver: Receiver) -> None:
    marker = secrets.token_hex(6)
    sends = [body(f"{marker}-{i}") for i in range(96)]
    before = receiver.metrics()

    def send(sent: bytes) -> int:
        return receiver.post("gh", sent, gh_headers(sent))[0]

    with ThreadPoolExecutor(32) as pool:
        assert list(pool.map(send, sends)) == [200] * len(sends)
    assert len(with_marker(receiver, marker)) == len(sends)
    commits = receiver.metrics()["sluice_webhook_spool_commits_total"] - before["sluice_webhook_spool_commits_total"]
    assert 1 <= commits < len(sends)  # several deliveries shared one commit (and one fsync)


def test_healthz_and_metrics_agree_with_the_spool(receiver: Receiver) -> None:
    assert receiver.get("/healthz") == (200, b"ok\n")
    status, _, headers = receiver.request("GET", "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4")
    stored = spool(receiver)
    metrics = receiver.metrics()
    for source in ("gh", "st", "sl", "gen"):
        assert metrics[f'sluice_webhook_deliveries_accepted_total{{source="{source}"}}'] == \
            sum(1 for r in stored if r["source"] == source)
    assert metrics["sluice_webhook_spool_depth"] == len(stored)
    oldest = time.time() - stored[0]["received_at"]
    assert abs(metrics["sluice_webhook_spool_oldest_age_seconds"] - oldest) < 5


def test_logs_carry_no_secret_and_no_body(tmp_path: Path) -> None:
    config = {"spool": {"path": str(tmp_path / "spool.db")}, "server": {"port": 0},
              "sources": {"gh": {"provider": "github", "secrets": [SECRET, OLD_SECRET]}}}
    rec = Receiver(tmp_path, config, log_level="DEBUG").start()
    marker = "BODY-MARKER-" + secrets.token_hex(6)
    sent = body(marker)
    signed = gh_headers(sent)
    bad = gh_headers(sent, secret="wrong")
    assert rec.post("gh", sent, signed)[0] == 200
    assert rec.post("gh", sent, bad)[0] == 401
    assert rec.post("gh", sent, gh_headers(sent, content_type="text/html"))[0] == 415
    assert rec.stop() in (-15, 143)
    assert rec.stdout() == b""  # stdout is for Singer messages; the receiver writes none
    log = rec.stderr()
    assert "listening on http://127.0.0.1:" in log and "401 bad_signature" in log
    for leak in (SECRET, OLD_SECRET, marker, signed["X-Hub-Signature-256"], bad["X-Hub-Signature-256"][7:]):
        assert leak not in log


def test_graceful_shutdown_finishes_requests_in_flight(tmp_path: Path) -> None:
    rec = Receiver(tmp_path, {"spool": {"path": str(tmp_path / "spool.db")}, "server": {"port": 0},
                              "sources": {"gh": {"provider": "github", "secrets": [SECRET]}}}).start()
    sent = body("in-flight")
    head = "".join(f"{k}: {v}\r\n" for k, v in gh_headers(sent, delivery="slow-one").items())
    sock = socket.create_connection(("127.0.0.1", rec.port), timeout=30)
    sock.sendall(f"POST /hooks/gh HTTP/1.1\r\nHost: x\r\n{head}Content-Length: {len(sent)}\r\n\r\n".encode()
                 + sent[:100])
    time.sleep(0.3)  # the request has started: headers read, the body not complete
    assert rec.proc is not None
    rec.proc.send_signal(15)
    deadline = time.monotonic() + 10
    while "Shutting down" not in rec.stderr() and time.monotonic() < deadline:
        time.sleep(0.05)
    with pytest.raises(OSError):  # no longer accepting connections
        socket.create_connection(("127.0.0.1", rec.port), timeout=2).close()
    sock.sendall(sent[100:])
    reply = sock.recv(4096)
    sock.close()
    assert reply.startswith(b"HTTP/1.1 200"), reply
    code = rec.proc.wait(timeout=30)
    assert code in (-15, 143), rec.stderr()
    assert [r["delivery_id"] for r in rows(tmp_path / "spool.db")] == ["slow-one"]


def test_a_failed_commit_answers_503_and_stores_nothing(tmp_path: Path) -> None:
    import sqlite3

    from taps.webhook.spool import SCHEMA

    db = tmp_path / "spool.db"
    with sqlite3.connect(db) as conn:  # a real commit failure: the spool file refuses these rows
        conn.execute(SCHEMA)
        conn.execute("CREATE TRIGGER poison BEFORE INSERT ON deliveries WHEN NEW.delivery_id LIKE 'poison%' "
                     "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
    rec = Receiver(tmp_path, {"spool": {"path": str(db)}, "server": {"port": 0},
                              "sources": {"gh": {"provider": "github", "secrets": [SECRET]}}}).start()
    try:
        sent = body("poisoned")
        status, reply, headers = rec.request("POST", "/hooks/gh", sent, gh_headers(sent, delivery="poison-1"))
        assert reply == b"{\"error\":\"spool_error\"}"
        assert (status, headers.get("retry-after")) == (503, "1")
        fine = body("fine")
        assert rec.post("gh", fine, gh_headers(fine, delivery="fine-1"))[0] == 200
        assert [r["delivery_id"] for r in rows(db)] == ["fine-1"]
        assert rec.metrics()['sluice_webhook_deliveries_rejected_total{source="gh",reason="spool_error"}'] == 1
    finally:
        rec.stop()
