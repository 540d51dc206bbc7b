"""The GitLab-shaped loopback API for the tap-gitlab comparison (issue 17), run as a subprocess.

``tests/integration/saas/gitlab_server.py`` run standalone (``python -m
tests.integration.saas.gitlab_server --issues N``): project ``acme/web`` (group ``acme``) with N
issues, no rate limit; it prints ``URL TOKEN`` on its first stdout line. ``ensure(n)`` starts it
(a different N stops the old one first), ``stop()`` ends it; both sides build their configs from
``url()`` and ``token()``. Its stderr goes to ``bench/.data/gitlab-server.log``. ``mark`` /
``busy_note``: the server's CPU seconds during a run (a side's ``prepare`` and ``note`` hooks).
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

__all__ = ["busy_note", "ensure", "mark", "stop", "token", "url"]

ROOT = Path(__file__).resolve().parent.parent
LOG = DATA_DIR / "gitlab-server.log"
START_SECONDS = 120.0


@dataclass
class _Server:
    proc: subprocess.Popen[bytes]
    issues: int
    url: str
    token: str


_server: _Server | None = None
_marked = 0.0


def ensure(issues: int) -> str:
    """The URL of a running server whose project acme/web has ``issues`` issues."""
    global _server
    if _server is not None and _server.issues == issues and _server.proc.poll() is None:
        return _server.url
    stop()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "tests.integration.saas.gitlab_server", "--issues", str(issues)]
    with LOG.open("wb") as log:
        proc = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log)
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], START_SECONDS)
    line = proc.stdout.readline().decode("utf-8", "replace").strip() if ready else ""
    if not line.startswith("http://127.0.0.1:"):
        _end(proc)
        tail = LOG.read_text(errors="replace").strip().splitlines()[-1:] if LOG.exists() else []
        raise RuntimeError(f"GitLab fake API did not start: {' '.join(tail) or line or 'no answer'}")
    address, _, secret = line.partition(" ")
    _server = _Server(proc, issues, address, secret)
    return address


def _running() -> _Server:
    if _server is None:
        raise RuntimeError("the GitLab fake API is not running (its comparison's setup starts it)")
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
    fields = Path(f"/proc/{_running().proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def mark(_ds: object = None) -> None:
    global _marked
    _marked = _cpu_seconds()


def busy_note() -> str:
    try:
        return f"server CPU {_cpu_seconds() - _marked:.2f} s"
    except (RuntimeError, OSError) as exc:
        return str(exc)


def stop() -> None:
    global _server
    if _server is not None:
        _end(_server.proc)
        _server = None


atexit.register(stop)
