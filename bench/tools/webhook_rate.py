"""A fixed-rate (open-loop) load generator for bench/webhookbench.py's latency point.

wrk 4 has no fixed-rate mode (that is wrk2's -R), and a closed loop of 32 connections measures
latency at whatever rate the server saturates, not at 5,000/s. This sends request i at its
scheduled time ``start + i / rate`` over ``connections`` keep-alive HTTP/1.1 connections and
measures each latency from that *scheduled* time to the end of the response, so a request that
waited for a free connection or a stalled server is charged for the wait (no coordinated
omission, as in wrk2). Requests are GitHub-signed 1 KB bodies with distinct X-GitHub-Delivery ids.

    python bench/tools/webhook_rate.py PORT SECRET RATE SECONDS CONNECTIONS RUN_ID

prints one JSON object: sent, statuses, achieved rate, latency percentiles (ms), max dispatch lag.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sys
import time
from collections import Counter

BODIES = 512


def bodies(secret: bytes) -> list[tuple[bytes, str]]:
    out = []
    for i in range(BODIES):
        head = f'{{"ref":"refs/heads/main","after":"{hashlib.sha1(str(i).encode()).hexdigest()}","n":{i},"pad":"'
        body = (head + "x" * (1024 - len(head) - 2) + '"}').encode()
        out.append((body, "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()))
    return out


def request(i: int, run_id: str, body: bytes, signature: str) -> bytes:
    return (f"POST /hooks/gh HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"X-GitHub-Event: push\r\nX-GitHub-Delivery: {run_id}-{i}\r\nX-Hub-Signature-256: {signature}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


async def main(port: int, secret: bytes, rate: float, seconds: float, connections: int, run_id: str) -> dict:
    signed = bodies(secret)
    total = int(rate * seconds)
    queue: asyncio.Queue[int | None] = asyncio.Queue()
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    lag = 0.0
    start = time.perf_counter() + 0.2

    async def dispatch() -> None:
        nonlocal lag
        loop = asyncio.get_running_loop()
        i = 0
        while i < total:
            now = time.perf_counter()
            due = min(total, int((now - start) * rate) + 1)
            if i < due:
                lag = max(lag, now - (start + i / rate))
            while i < due:
                queue.put_nowait(i)
                i += 1
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
        for _ in range(connections):
            queue.put_nowait(None)
        del loop

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while (i := await queue.get()) is not None:
                body, signature = signed[i % BODIES]
                writer.write(request(i, run_id, body, signature))
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    statuses["error"] += 1
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    continue
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - (start + i / rate))
                statuses[head[9:12].decode()] += 1
        finally:
            writer.close()

    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    await dispatch()
    await asyncio.gather(*workers)
    elapsed = time.perf_counter() - start
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000, 2) if latencies else 0

    return {"sent": total, "statuses": dict(statuses), "rate": round(len(latencies) / elapsed, 1),
            "p50_ms": pct(50), "p90_ms": pct(90), "p99_ms": pct(99), "max_ms": pct(100),
            "dispatch_lag_ms": round(lag * 1000, 2)}


if __name__ == "__main__":
    port_, secret_, rate_, seconds_, conns_, run_id_ = sys.argv[1:7]
    coro = main(int(port_), secret_.encode(), float(rate_), float(seconds_), int(conns_), run_id_)
    try:
        import uvloop
    except ImportError:
        print(json.dumps(asyncio.run(coro)))
    else:
        print(json.dumps(uvloop.run(coro)))
