"""The loopback fake API for the HTTP comparisons (issue 6), run as a subprocess of the harness.

``tests/integration/http/servers.py`` run standalone (``python -m tests.integration.http.servers``):
a ThreadingHTTPServer on 127.0.0.1, port 0, which prints ``URL TOKEN`` on its first stdout line.
``ensure(issues=, items=)`` starts it (once per size: a different size stops the old one first),
``stop()`` ends it; both sides of a comparison read ``url()`` when they build their configs. No rate
limit (the server sends no rate-limit headers). Its stderr goes to ``bench/.data/http-server.log``.
``mark`` / ``busy_note`` (a side's ``prepare`` and ``note`` hooks) report the server's CPU seconds
during each run: the tap waits on every page, so that is time the tap's own speed cannot win back.
"""

from __future__ import annotations

import atexit
import os
import select
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from datagen import DATA_DIR

__all__ = ["ServerError", "busy_note", "ensure", "mark", "stop", "token", "url"]

ROOT = Path(__file__).resolve().parent.parent
LOG = DATA_DIR / "http-server.log"
START_SECONDS = 120.0   # 100,000 GitHub-shaped issues take a few seconds to build


class ServerError(RuntimeError):
    """The fake API did not start."""


@dataclass
class _Server:
    proc: subprocess.Popen[bytes]
    sizes: tuple[int, int]
    url: str
    token: str


_server: _Server | None = None
_marked = 0.0


def ensure(*, issues: int = 0, items: int = 0) -> str:
    """The URL of a running server holding ``issues`` issues of octo/hello and ``items`` /api/* records."""
    global _server
    if _server is not None and _server.sizes == (issues, items) and _server.proc.poll() is None:
        return _server.url
    stop()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "tests.integration.http.servers", "--issues", str(issues), "--items", str(items)]
    with LOG.open("wb") as log:
        proc = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log)
    assert proc.stdout is not None
    try:
        line = _first_line(proc)
    except ServerError:
        _end(proc)
        raise
    address, _, secret = line.partition(" ")
    _server = _Server(proc, (issues, items), address, secret)
    return address


def _first_line(proc: subprocess.Popen[bytes]) -> str:
    """``URL TOKEN``, once the server has built its data and listens."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], START_SECONDS)
    text = proc.stdout.readline().decode("utf-8", "replace").strip() if ready else ""
    if not text.startswith("http://127.0.0.1:"):
        tail = LOG.read_text(errors="replace").strip().splitlines()[-1:] if LOG.exists() else []
        why = " ".join(tail) or text or f"nothing on stdout in {START_SECONDS:.0f} s"
        raise ServerError(f"fake API did not start (exit {proc.poll()}): {why}")
    return text


def url() -> str:
    if _server is None:
        raise ServerError("the fake API is not running (its comparison's setup starts it)")
    return _server.url


def token() -> str:
    if _server is None:
        raise ServerError("the fake API is not running (its comparison's setup starts it)")
    return _server.token


def _end(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def _cpu_seconds() -> float:
    """The server's user + system CPU seconds so far (all its threads), from /proc/<pid>/stat."""
    if _server is None:
        raise ServerError("the fake API is not running (its comparison's setup starts it)")
    try:
        fields = Path(f"/proc/{_server.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError as exc:
        raise ServerError(f"fake API: cannot read its CPU time: {exc}") from exc
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")   # utime, stime (fields 14, 15)


def mark(_ds: object = None) -> None:
    """Before a run: remember the server's CPU seconds (a ``prepare`` hook)."""
    global _marked
    _marked = _cpu_seconds()


def busy_note() -> str:
    """After a run: the server's CPU seconds since ``mark`` (a ``note`` hook). A tap waits for each page,
    so this is about the share of the run's wall time that went to serving it."""
    try:
        return f"server CPU {_cpu_seconds() - _marked:.2f} s"
    except ServerError as exc:
        return str(exc)


def stop() -> None:
    """Stop the server, if one runs (also at exit)."""
    global _server
    if _server is not None:
        _end(_server.proc)
        _server = None


atexit.register(stop)
