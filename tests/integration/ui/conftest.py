"""A project with real runs for the dashboard's tests, and `sluice ui` serving it.

The runs go through `sluice run` (the real runner, the real target-sqlite) from two hosts (SLUICE_HOST):
``orders`` three times with varying counts, ``broken`` succeeding then failing with a known error line,
``xss`` with a stream named ``<script>alert(1)</script>``, ``shop`` for one of its two tenants
(``for_each:``), and ``live`` left running: its tap waits on a FIFO the test writes to, so the test
decides when records move."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import yaml

from tests.conftest import exe, service_unavailable
from tests.integration.runner.helpers import sluice, sluice_env, wait_for

FIXTURES = Path(__file__).parent / "fixtures"
XSS = "<script>alert(1)</script>"
ERROR_TEXT = "upstream refused page 3: HTTP 503 Service Unavailable"
ORDERS = {"orders": [120, 95, 143], "customers": [35, 41, 38]}
#: (pipeline, SLUICE_HOST) in the order they run
RUNS = [("orders", "host-a"), ("broken", "host-a"), ("orders", "host-b"), ("broken", "host-b"), ("orders", "host-a"),
        ("xss", "host-a"), ("shop@acme", "host-b")]  # shop@globex, a tenant's pipeline too, never runs
FAILING = {("broken", 2)}  # (pipeline, run number) of the runs that fail


def _tap(name: str, root: Path, streams: dict[str, list[int]], **extra: Any) -> dict[str, Any]:
    config = {"streams": streams, "counter": str(root / f"{name}.count"), "api_key": "${UI_TEST_API_KEY}", **extra}
    return {"name": name, "executable": sys.executable, "args": [str(FIXTURES / "ui_tap.py")], "config": config}


def _target(name: str) -> dict[str, Any]:
    return {"name": name, "executable": exe("target-sqlite"), "config": {"database": f"{name}.db"}}


def write_project(root: Path, fifo: Path) -> None:
    connectors = [
        _tap("tap-orders", root, ORDERS), _target("db-orders"),
        _tap("tap-broken", root, {"payments": [12, 9]}, fail=ERROR_TEXT, fail_runs=[1]), _target("db-broken"),
        _tap("tap-xss", root, {XSS: [7], "plain": [3]}), _target("db-xss"),
        _tap("tap-live", root, {"events": [5], "clicks": [2]}, fifo=str(fifo)), _target("db-live"),
        _tap("tap-shop", root, {"sales": [4]}), _target("db-shop"),
    ]
    connectors[-1]["config"] = {"database": "shop-${tenant.id}.db"}
    pipelines = [
        {"name": "orders", "tap": "tap-orders", "target": "db-orders", "schedule": "*/15 * * * *"},
        {"name": "broken", "tap": "tap-broken", "target": "db-broken"},
        {"name": "xss", "tap": "tap-xss", "target": "db-xss"},
        {"name": "live", "tap": "tap-live", "target": "db-live"},
        {"name": "shop", "tap": "tap-shop", "target": "db-shop", "for_each": [{"id": "acme"}, {"id": "globex"}]},
    ]
    (root / "sluice.yml").write_text(yaml.safe_dump({"connectors": connectors, "pipelines": pipelines}))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Dashboard:
    """The project, its runs as `sluice runs --json` lists them (the oracle), and the live run."""

    root: Path
    env: dict[str, str]
    secrets: list[str]
    runs: list[dict[str, Any]]
    fifo: Path
    live: subprocess.Popen[bytes] | None = None
    feed: int | None = None
    fed: dict[str, int] = field(default_factory=lambda: {"events": 5, "clicks": 2})

    def push(self, stream: str, n: int) -> None:
        """Let the live run's tap emit ``n`` more records of ``stream``."""
        assert self.feed is not None
        os.write(self.feed, f"{stream} {n}\n".encode())
        self.fed[stream] += n

    def live_run(self) -> dict[str, Any]:
        done = sluice(["runs", "live", "--json", "-n", "1"], self.root, env=self.env)
        return dict(json.loads(done.stdout.splitlines()[0]))


def start_ui(root: Path, env: dict[str, str], *args: str) -> tuple[subprocess.Popen[bytes], str]:
    """`sluice ui` on a free port; its output in ui-PORT.log of the project."""
    port = free_port()
    log = root / f"ui-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([exe("sluice"), "ui", "--port", str(port), *args], cwd=root, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"sluice ui exited {proc.returncode}: {log.read_text()}")
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    wait_for(up, 30, "sluice ui to listen")
    return proc, url


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.fixture(scope="session")
def ui_extra() -> None:
    """The extra 'ui' is installed (skip without it, fail under CI=true)."""
    try:
        import jinja2  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        service_unavailable(f"the extra 'ui' is not installed ({exc}): pip install -e '.[ui]'")


@contextlib.contextmanager
def recorded(root: Path, extra_env: dict[str, str] | None = None,
             extra_secrets: tuple[str, ...] = ()) -> Iterator[Dashboard]:
    """The project in ``root`` after its runs, with ``live`` running until the block ends."""
    fifo = root / "live.fifo"
    os.mkfifo(fifo)
    write_project(root, fifo)
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    env = sluice_env(UI_TEST_API_KEY=secret, **(extra_env or {}))
    for i, (pipeline, host) in enumerate(RUNS):
        done = sluice(["run", pipeline], root, env={**env, "SLUICE_HOST": host})
        number = sum(1 for p, _ in RUNS[: i + 1] if p == pipeline)
        assert done.returncode == (1 if (pipeline, number) in FAILING else 0), done.stderr
    listed = sluice(["runs", "--json", "-n", "100"], root, env=env)
    runs = [json.loads(line) for line in listed.stdout.splitlines()]
    board = Dashboard(root, env, [secret, *extra_secrets], runs, fifo)
    with (root / "live.log").open("wb") as log:
        board.live = subprocess.Popen([exe("sluice"), "run", "live"], cwd=root, env={**env, "SLUICE_HOST": "host-b"},
                                      stdout=subprocess.DEVNULL, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while board.feed is None:  # the tap opens the FIFO once its first records are out
            try:
                board.feed = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if board.live.poll() is not None or time.monotonic() > deadline:
                    log_text = (root / "live.log").read_text()
                    raise AssertionError(f"the live run never opened its FIFO: {log_text}") from exc
                time.sleep(0.05)
        os.set_blocking(board.feed, True)
        yield board
    finally:
        if board.feed is not None:
            os.write(board.feed, b"end\n")
            os.close(board.feed)
        try:
            board.live.wait(60)
        finally:
            stop(board.live)


@pytest.fixture(scope="session")
def dashboard(tmp_path_factory: pytest.TempPathFactory, ui_extra: None) -> Iterator[Dashboard]:
    """The runs in the default store (SQLite)."""
    with recorded(tmp_path_factory.mktemp("ui-project")) as board:
        yield board


@pytest.fixture(scope="session")
def pg_dashboard(tmp_path_factory: pytest.TempPathFactory, ui_extra: None, pg_server_dsn: str) -> Iterator[Dashboard]:
    """The runs in a PostgreSQL store (SLUICE_STATE_URL) that a role with a password owns: the
    password is one more secret no response may carry."""
    import psycopg

    name, password = f"sluice_ui_{uuid.uuid4().hex[:10]}", f"pw-{uuid.uuid4().hex}"
    with psycopg.connect(pg_server_dsn, autocommit=True) as conn:
        conn.execute(f"create role {name} login password '{password}'")
        conn.execute(f'create database "{name}" owner {name}')
    parts = urlsplit(pg_server_dsn)
    url = urlunsplit((parts.scheme, f"{name}:{password}@{parts.hostname}:{parts.port or 5432}", f"/{name}", "", ""))
    try:
        with recorded(tmp_path_factory.mktemp("ui-project-pg"), {"SLUICE_STATE_URL": url}, (password,)) as board:
            yield board
    finally:
        with psycopg.connect(pg_server_dsn, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')
            conn.execute(f"drop role if exists {name}")


@pytest.fixture(scope="session")
def ui_url(dashboard: Dashboard) -> Iterator[str]:
    """`sluice ui` on loopback, without a token."""
    proc, url = start_ui(dashboard.root, dashboard.env)
    try:
        yield url
    finally:
        stop(proc)


@pytest.fixture(scope="session")
def pg_ui_url(pg_dashboard: Dashboard) -> Iterator[str]:
    """`sluice ui` on loopback over the PostgreSQL store."""
    proc, url = start_ui(pg_dashboard.root, pg_dashboard.env)
    try:
        yield url
    finally:
        stop(proc)
