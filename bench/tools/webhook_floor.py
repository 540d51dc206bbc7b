"""The floor for bench/webhookbench.py: a bare Starlette-on-Uvicorn handler that does only what a
webhook receiver cannot skip, with none of ours.

    POST /hooks/gh: read the body, check X-Hub-Signature-256 (HMAC-SHA256, constant-time), queue
    (X-GitHub-Delivery, body) for a grouped commit into a SQLite WAL file with synchronous=FULL
    (one thread, one connection; a batch is everything queued while the previous one committed),
    answer 200 after the commit returned.

No settings, no content-type or size checks, no metrics, no kept headers. Run:
``python bench/tools/webhook_floor.py DB_PATH SECRET PORT [HTTP LOOP]``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import sqlite3
import sys
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def build(db: str, secret: bytes) -> Starlette:
    """The floor's ASGI app over the SQLite file ``db``."""
    conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE IF NOT EXISTS deliveries (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
                 "delivery_id TEXT NOT NULL UNIQUE, body BLOB NOT NULL)")
    pool = ThreadPoolExecutor(1)
    queue: list[tuple[str, bytes, asyncio.Future[None]]] = []
    ready = asyncio.Event()

    def write(batch: list[tuple[str, bytes, asyncio.Future[None]]]) -> None:
        conn.execute("BEGIN IMMEDIATE")
        for delivery_id, body, _ in batch:
            conn.execute("INSERT INTO deliveries (delivery_id, body) VALUES (?, ?) ON CONFLICT DO NOTHING",
                         (delivery_id, body))
        conn.execute("COMMIT")

    async def writer() -> None:
        nonlocal queue
        loop = asyncio.get_running_loop()
        while True:
            await ready.wait()
            ready.clear()
            batch, queue = queue, []
            await loop.run_in_executor(pool, write, batch)
            for _, _, future in batch:
                future.set_result(None)

    async def hook(request: Request) -> Response:
        body = await request.body()
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("x-hub-signature-256", "")):
            return Response(b"bad signature", 401)
        future = asyncio.get_running_loop().create_future()
        queue.append((request.headers["x-github-delivery"], body, future))
        ready.set()
        await future
        return Response(b'{"status":"stored"}', 200, media_type="application/json")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.get_running_loop().create_task(writer())
        yield
        task.cancel()

    return Starlette(routes=[Route("/hooks/gh", hook, methods=["POST"])], lifespan=lifespan)


def main() -> None:
    db, secret, port = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3])
    http, loop_kind = (sys.argv[4], sys.argv[5]) if len(sys.argv) > 5 else ("auto", "auto")
    uvicorn.run(build(db, secret), host="127.0.0.1", port=port, http=http, loop=loop_kind, log_level="warning",
                access_log=False, server_header=False)


if __name__ == "__main__":
    main()
