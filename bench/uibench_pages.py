"""The rendering half of bench/uibench.py: the dashboard's pages served over a big history.

Serves :func:`runner.ui.app.create_app` with Uvicorn on a loopback port (in this process, as
`sluice ui` does) over the project :func:`uibench.filled` made, and times whole requests with a
plain HTTP client: the pipelines page, the busiest pipeline's history page (its 200 newest runs,
two SVG charts and the table), the page of runs before those, a run page, and the same pages'
JSON. The goal: the pipelines page and a history page within 200 ms each with 100,000 runs.
"""

from __future__ import annotations

import http.client
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

from runner.project import Project
from runner.ui.data import DashboardData, open_dashboard_store

GOAL_MS = 200.0

__all__ = ["GOAL_MS", "page_times", "serving"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(project: Project) -> Iterator[int]:
    """The dashboard of ``project`` on a loopback port (yielded) until the block ends."""
    import uvicorn

    from runner.ui.app import create_app

    port = _free_port()
    config = uvicorn.Config(create_app(lambda: open_dashboard_store(project)), host="127.0.0.1", port=port,
                            log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uibench-ui", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the dashboard did not start")
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(30)


def _get(port: int, path: str) -> tuple[int, int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path)
        reply = conn.getresponse()
        return reply.status, len(reply.read())
    finally:
        conn.close()


def _paths(project: Project) -> list[tuple[str, str]]:
    with open_dashboard_store(project) as data:
        return _pick(data)


def _pick(data: DashboardData) -> list[tuple[str, str]]:
    rows = data.pipelines()
    busiest = max(rows, key=lambda row: row.last_run.number if row.last_run else 0)
    page = data.history(busiest.pipeline)
    name = quote(busiest.pipeline)
    return [
        ("pipelines page  /", "/"),
        (f"history page    /pipelines/{busiest.pipeline}", f"/pipelines/{name}"),
        ("older history   ?before=200th", f"/pipelines/{name}?before={page[-1].id}"),
        ("run page        /runs/ID", f"/runs/{page[len(page) // 2].id}"),
        ("state page      /state", "/state"),
        ("api pipelines   /api/pipelines", "/api/pipelines"),
        ("api runs        /api/runs?pipeline=", f"/api/runs?pipeline={name}"),
    ]


def page_times(project: Project, repeat: int) -> list[tuple[str, float, float, int]]:
    """(page, median ms, slowest ms, bytes) of whole requests to the dashboard, ``repeat`` each."""
    paths = _paths(project)
    out = []
    with serving(project) as port:
        for label, path in paths:
            status, size = _get(port, path)  # the first request also opens the store
            if status != 200:
                raise RuntimeError(f"{path}: HTTP {status}")
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                _get(port, path)
                times.append((time.perf_counter() - t0) * 1000)
            out.append((label, statistics.median(times), max(times), size))
    return out


def report(project: Project, repeat: int) -> None:
    """Print the table, with the goal's verdict for the two pages it names."""
    print(f"{'page (whole request)':<52} {'median ms':>10} {'slowest ms':>11} {'bytes':>9}")
    for label, median, worst, size in page_times(project, repeat):
        goal = ""
        if label.startswith(("pipelines page", "history page")):
            goal = f"  {'ok' if median <= GOAL_MS else 'OVER'} (goal <= {GOAL_MS:.0f} ms)"
        print(f"{label[:52]:<52} {median:>10.1f} {worst:>11.1f} {size:>9,}{goal}")
