"""The loopback Linear GraphQL API for the tap-linear comparisons, run as a subprocess of the harness.

``tests/integration/saas/linear_server.py`` run standalone: a ThreadingHTTPServer on 127.0.0.1, port
0, printing ``URL API_KEY`` on its first stdout line; no rate limit (its request budget is 10^9).
``ensure(issues)`` starts it (a different size stops the old one first), ``stop()`` ends it;
``mark`` / ``busy_note`` report the server's CPU seconds during a run, as httpbench does.
"""

from __future__ import annotations

import atexit
import os
import select
import subprocess
import sys
from pathlib import Path

from datagen import DATA_DIR

__all__ = ["busy_note", "ensure", "mark", "stop", "token", "url"]

ROOT = Path(__file__).resolve().parent.parent
LOG = DATA_DIR / "linear-server.log"
START_SECONDS = 120.0

_proc: subprocess.Popen[bytes] | None = None
_size = -1
_url = _token = ""
_marked = 0.0


def ensure(issues: int) -> str:
    """The URL of a running server holding ``issues`` issues."""
    global _proc, _size, _url, _token
    if _proc is not None and _size == issues and _proc.poll() is None:
        return _url
    stop()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "tests.integration.saas.linear_server", "--issues", str(issues)]
    with LOG.open("wb") as log:
        proc = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log)
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], START_SECONDS)
    line = proc.stdout.readline().decode("utf-8", "replace").strip() if ready else ""
    if not line.startswith("http://127.0.0.1:"):
        _end(proc)
        tail = LOG.read_text(errors="replace").strip().splitlines()[-1:] if LOG.exists() else []
        raise RuntimeError(f"Linear server did not start: {' '.join(tail) or line or 'no URL on stdout'}")
    _proc, _size = proc, issues
    _url, _, _token = line.partition(" ")
    return _url


def url() -> str:
    return _url


def token() -> str:
    return _token


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
    if _proc is None:
        return 0.0
    fields = Path(f"/proc/{_proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def mark(_ds: object = None) -> None:
    global _marked
    _marked = _cpu_seconds()


def busy_note() -> str:
    return f"server CPU {_cpu_seconds() - _marked:.2f} s"


def stop() -> None:
    global _proc, _size
    if _proc is not None:
        _end(_proc)
        _proc, _size = None, -1


atexit.register(stop)
