"""The loopback HubSpot CRM v3 API for the tap-hubspot comparison (issue 17), run as a subprocess.

``tests/integration/saas/hubspot_server.py`` run standalone (``python -m
tests.integration.saas.hubspot_server --contacts N``): N contacts, served on 127.0.0.1 (port 0);
its first stdout line is ``URL TOKEN``. ``ensure(n)`` starts it (once per size), ``stop()`` ends
it. No rate limit. ``mark`` / ``busy_note`` report the server's CPU seconds during each run. Its
stderr goes to ``bench/.data/hubspot-server.log``.
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
LOG = DATA_DIR / "hubspot-server.log"
START_SECONDS = 120.0


class ServerError(RuntimeError):
    """The loopback HubSpot API did not start, or is not running."""


@dataclass
class _Server:
    proc: subprocess.Popen[bytes]
    contacts: int
    url: str
    token: str


_server: _Server | None = None
_marked = 0.0


def ensure(contacts: int) -> str:
    """The URL of a running server holding ``contacts`` contacts."""
    global _server
    if _server is not None and _server.contacts == contacts and _server.proc.poll() is None:
        return _server.url
    stop()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "tests.integration.saas.hubspot_server", "--contacts", str(contacts)]
    with LOG.open("wb") as log:
        proc = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log)
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], START_SECONDS)
    line = proc.stdout.readline().decode("utf-8", "replace").strip() if ready else ""
    if not line.startswith("http://127.0.0.1:"):
        _end(proc)
        tail = LOG.read_text(errors="replace").strip().splitlines()[-1:] if LOG.exists() else []
        raise ServerError(f"loopback HubSpot API did not start: {' '.join(tail) or line or 'no answer'}")
    address, _, secret = line.partition(" ")
    _server = _Server(proc, contacts, address, secret)
    return address


def _running() -> _Server:
    if _server is None:
        raise ServerError("the loopback HubSpot API is not running (its comparison's setup starts it)")
    return _server


def url() -> str:
    return _running().url


def token() -> str:
    return _running().token


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
    try:
        fields = Path(f"/proc/{_running().proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError as exc:
        raise ServerError(f"loopback HubSpot API: cannot read its CPU time: {exc}") from exc
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def mark(_ds: object = None) -> None:
    """Before a run: remember the server's CPU seconds (a ``prepare`` hook)."""
    global _marked
    _marked = _cpu_seconds()


def busy_note() -> str:
    """After a run: the server's CPU seconds since ``mark`` (a ``note`` hook)."""
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
