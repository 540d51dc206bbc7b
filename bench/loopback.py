"""A loopback API of tests/integration/saas/ run as a subprocess for a bench comparison.

Each server module runs standalone (``python -m tests.integration.saas.X_server --FLAG N``): it
serves N records on 127.0.0.1 (port 0) without a rate limit and prints ``URL SECRET`` on its first
stdout line; its stderr goes to ``bench/.data/<name>-server.log``. ``ensure(n)`` starts it (a
different N stops the old one first), ``stop()`` ends it (also at exit); ``url()`` and ``token()``
build both sides' configs; ``mark`` / ``busy_note`` (a side's ``prepare`` and ``note`` hooks)
report the server's CPU seconds during a run, as ``httpbench`` does for the GitHub-shaped server.
"""

from __future__ import annotations

import atexit
import os
import select
import subprocess
import sys
from pathlib import Path

from datagen import DATA_DIR

__all__ = ["Loopback", "ServerError"]

ROOT = Path(__file__).resolve().parent.parent
START_SECONDS = 120.0


class ServerError(RuntimeError):
    """A loopback API did not start, or is not running."""


class Loopback:
    """``title``: how messages name the API; ``module``: its server module; ``flag``: its size option."""

    def __init__(self, title: str, module: str, flag: str) -> None:
        self.title, self.module, self.flag = title, module, flag
        self.log = DATA_DIR / f"{module.rpartition('.')[2].removesuffix('_server')}-server.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._size = -1
        self._url = self._token = ""
        self._marked = 0.0
        atexit.register(self.stop)

    def ensure(self, size: int) -> str:
        """The URL of a running server holding ``size`` records."""
        if self._proc is not None and self._size == size and self._proc.poll() is None:
            return self._url
        self.stop()
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", self.module, self.flag, str(size)]
        with self.log.open("wb") as log:
            proc = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log)
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], START_SECONDS)
        line = proc.stdout.readline().decode("utf-8", "replace").strip() if ready else ""
        if not line.startswith("http://127.0.0.1:"):
            _end(proc)
            tail = self.log.read_text(errors="replace").strip().splitlines()[-1:] if self.log.exists() else []
            raise ServerError(f"loopback {self.title} API did not start: {' '.join(tail) or line or 'no answer'}")
        self._proc, self._size = proc, size
        self._url, _, self._token = line.partition(" ")
        return self._url

    def _running(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            raise ServerError(f"the loopback {self.title} API is not running (its comparison's setup starts it)")
        return self._proc

    def url(self) -> str:
        self._running()
        return self._url

    def token(self) -> str:
        self._running()
        return self._token

    def _cpu_seconds(self) -> float:
        try:
            fields = Path(f"/proc/{self._running().pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError as exc:
            raise ServerError(f"loopback {self.title} API: cannot read its CPU time: {exc}") from exc
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def mark(self, _ds: object = None) -> None:
        """Before a run: remember the server's CPU seconds (a ``prepare`` hook)."""
        self._marked = self._cpu_seconds()

    def busy_note(self) -> str:
        """After a run: the server's CPU seconds since ``mark`` (a ``note`` hook)."""
        try:
            return f"server CPU {self._cpu_seconds() - self._marked:.2f} s"
        except ServerError as exc:
            return str(exc)

    def stop(self) -> None:
        """Stop the server, if one runs."""
        if self._proc is not None:
            _end(self._proc)
            self._proc, self._size = None, -1


def _end(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()
