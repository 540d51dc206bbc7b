"""Kill -9 the receiver while a load generator sends deliveries; after a restart on the same spool:
every delivery that got a 2xx is there exactly once (with the body that was sent), none that got
an error status is, and nothing is there that was never sent. Deliveries cut off by the kill (no
answer) may or may not be stored: a provider retries those, and the retry is acknowledged once."""

from __future__ import annotations

import http.client
import secrets
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path

from tests.integration.webhook_receiver.receiver import SECRET, Receiver, github_config, rows
from tests.integration.webhook_receiver.test_receiver_http import body, gh_headers

WORKERS = 16


class Load:
    """Threads posting GitHub deliveries over keep-alive connections; one in five wrongly signed."""

    def __init__(self, rec: Receiver) -> None:
        self.rec = rec
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.sent: dict[str, bytes] = {}
        self.acked: list[str] = []
        self.refused: list[str] = []  # an error status: 401 here (and 5xx, were there any)
        self.cut: list[str] = []  # no answer: the receiver died with the request in flight
        self.threads = [threading.Thread(target=self._work, args=(n,), daemon=True) for n in range(WORKERS)]

    def _work(self, n: int) -> None:
        conn_holder: list[http.client.HTTPConnection | None] = [None]
        try:
            self._send_until_stopped(n, conn_holder)
        finally:  # stopped or cut off: the connection is closed either way (no socket left to the GC)
            if conn_holder[0] is not None:
                conn_holder[0].close()

    def _send_until_stopped(self, n: int, conn_holder: list[http.client.HTTPConnection | None]) -> None:
        i = 0
        while not self.stop.is_set():
            i += 1
            delivery = f"w{n}-{i}-{secrets.token_hex(3)}"
            sent = body(delivery, 600 + (i % 7) * 50)
            headers = gh_headers(sent, delivery=delivery, secret=SECRET if i % 5 else "not-the-secret")
            with self.lock:
                self.sent[delivery] = sent
            try:
                conn = conn_holder[0]
                if conn is None:
                    conn = conn_holder[0] = self.rec.connection(timeout=10)
                conn.request("POST", "/hooks/gh", body=sent, headers=headers)
                status = conn.getresponse()
                status.read()
            except (OSError, http.client.HTTPException):
                with self.lock:
                    self.cut.append(delivery)
                return  # the receiver is gone
            with self.lock:
                (self.acked if 200 <= status.status < 300 else self.refused).append(delivery)

    def run_until_killed(self, min_acked: int) -> None:
        for t in self.threads:
            t.start()
        deadline = time.monotonic() + 60
        while len(self.acked) < min_acked and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.acked) >= min_acked, "the load generator got too few acknowledgements"
        self.rec.kill()  # SIGKILL, in the middle of the load
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)


def test_kill_9_under_load_loses_no_acknowledged_delivery(tmp_path: Path) -> None:
    db = tmp_path / "spool.db"
    rec = Receiver(tmp_path, github_config(tmp_path), log_level="INFO").start()
    load = Load(rec)
    load.run_until_killed(min_acked=300)
    assert rec.proc is not None and rec.proc.returncode == -9
    assert load.refused, "the load sent wrongly signed deliveries too"

    rec.start()  # the same spool, after the crash
    stored = rows(db)
    ids = Counter(r["delivery_id"] for r in stored)
    assert all(count == 1 for count in ids.values())
    assert set(load.acked) <= set(ids), f"acknowledged but lost: {sorted(set(load.acked) - set(ids))[:5]}"
    assert not set(load.refused) & set(ids)
    assert set(ids) <= set(load.acked) | set(load.cut)  # nothing stored that was never acknowledged-or-cut
    for row in stored:
        assert row["body"] == load.sent[row["delivery_id"]]

    # the provider retries what it sent (acknowledged or not): each is acknowledged, none stored twice
    for delivery in [*load.acked[:20], *load.cut]:
        sent = load.sent[delivery]
        status, reply = rec.post("gh", sent, gh_headers(sent, delivery=delivery))
        assert status == 200
        assert reply == (b'{"status":"duplicate"}' if delivery in ids else b'{"status":"stored"}')
    rec.stop()
    after = Counter(r["delivery_id"] for r in rows(db))
    assert set(after) == set(load.acked) | set(load.cut) and set(after.values()) == {1}
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
