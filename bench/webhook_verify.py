"""Cost of verifying one webhook delivery, per provider, against the bare HMAC check.

    .venv/bin/python bench/webhook_verify.py [--rounds 5] [--n 20000] [--secrets 2]

Each provider's verifier checks a 1 KB delivery signed with the *last* of ``--secrets`` configured
secrets (the worst case while a secret is rotated: every secret is tried). The floor is what a bare
handler does: one ``hmac.digest`` of the body and one ``hmac.compare_digest``. Figures are the best
round (wall-clock on a shared machine: read them with the load average printed beside them).
"""

from __future__ import annotations

import argparse
import hmac
import json
import time

import _bootstrap  # noqa: F401 - first: re-runs in the project venv if needed

from taps.webhook.providers import PROVIDERS, verifier_for
from taps.webhook.providers.signing import sign


def body_for(provider: str) -> bytes:
    event = {"id": "evt_1", "type": "thing.happened", "event_id": "Ev1", "event": {"type": "message"}}
    if provider != "slack":
        event.pop("event")
    text = json.dumps({**event, "pad": ""})
    return json.dumps({**event, "pad": "x" * (1024 - len(text))}).encode()


def best(call, n: int, rounds: int) -> float:
    """Best of ``rounds``: microseconds per call."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(n):
            call()
        times.append((time.perf_counter() - start) / n * 1e6)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--secrets", type=int, default=2)
    args = parser.parse_args()
    secrets = [f"secret-{i}-{'k' * 24}" for i in range(args.secrets)]
    body = body_for("github")
    expected = hmac.digest(secrets[-1].encode(), body, "sha256")

    def floor() -> None:
        hmac.compare_digest(hmac.digest(secrets[-1].encode(), body, "sha256"), expected)

    base = best(floor, args.n, args.rounds)
    print(f"{'path':<10} {'us/verify':>10} {'x floor':>8}   ({len(body)} B body, {args.secrets} secrets)")
    print(f"{'floor':<10} {base:>10.2f} {1.0:>8.2f}")
    generic = {"timestamp_header": "X-Timestamp", "id_header": "X-Delivery"}
    for provider in PROVIDERS:
        source = {"provider": provider, "secrets": secrets, **(generic if provider == "hmac" else {})}
        verifier = verifier_for("bench", source)
        data = body_for(provider)
        now = time.time()
        headers = {k.lower(): v for k, v in sign(provider, secrets[-1], data, now=now, source=source).items()}
        cost = best(lambda v=verifier, h=headers, d=data, t=now: v.verify(h, d, t), args.n, args.rounds)
        print(f"{provider:<10} {cost:>10.2f} {cost / base:>8.2f}")
    with open("/proc/loadavg") as f:
        print("load average:", " ".join(f.read().split()[:3]))


if __name__ == "__main__":
    main()
