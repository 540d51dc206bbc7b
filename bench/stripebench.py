"""The loopback Stripe-shaped API for the tap-stripe comparison (issue 17), run as a subprocess.

``tests/integration/saas/stripe_server.py`` run standalone (``python -m
tests.integration.saas.stripe_server --customers N``): customers created two a second from a day
ago, no events, no rate limit; it prints ``URL KEY`` on its first stdout line. ``ensure(n)``
starts it (a different size stops the old one first), ``stop()`` ends it. Its stderr goes to
``bench/.data/stripe-server.log``. ``mark`` / ``busy_note`` report the server's CPU seconds per run.
"""

from __future__ import annotations

import atexit
import os
import select
import subprocess
import sys
from pathlib import Path

from datagen import DATA_DIR

__all__ = ["busy_note", "ensure", "key", "mark", "stop", "url"]

ROOT = Path(__file__).resolve().parent.parent
LOG = DATA_DIR / "stripe-server.log"
START_SECONDS = 120.0

_server: tuple[subprocess.Popen[bytes], int, str, str] | None = None  # process, customers, URL, key
_marked = 0.0


def ensure(customers: int) -> str:
    global _server
    if _server is not None and _server[1] == customers and _server[0].poll() is None:
        return _server[2]
    stop()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "tests.integration.saas.stripe_server", "--customers", str(customers)]
    with LOG.open("wb") as log:
        proc = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log)
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], START_SECONDS)
    line = proc.stdout.readline().decode("utf-8", "replace").strip() if ready else ""
    if not line.startswith("http://127.0.0.1:"):
        _end(proc)
        raise RuntimeError(f"stripe server did not start: {line or LOG.read_text(errors='replace')[-300:]}")
    address, _, secret = line.partition(" ")
    _server = (proc, customers, address, secret)
    return address


def url() -> str:
    if _server is None:
        raise RuntimeError("the stripe server is not running (its comparison's setup starts it)")
    return _server[2]


def key() -> str:
    if _server is None:
        raise RuntimeError("the stripe server is not running (its comparison's setup starts it)")
    return _server[3]


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
    if _server is None:
        return 0.0
    fields = Path(f"/proc/{_server[0].pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def mark(_ds: object = None) -> None:
    global _marked
    _marked = _cpu_seconds()


def busy_note() -> str:
    return f"server CPU {_cpu_seconds() - _marked:.2f} s"


def stop() -> None:
    global _server
    if _server is not None:
        _end(_server[0])
        _server = None


atexit.register(stop)
