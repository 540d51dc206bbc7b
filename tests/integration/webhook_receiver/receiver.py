"""The receiver as a user runs it: ``tap-webhook serve --config FILE`` in a subprocess, spoken to
over real HTTP on loopback; its spool read back with sqlite3 (the oracle is the file itself)."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.conftest import BIN

SECRET = "s3cret-Rotate-Me-7f1e"  # a value no log line may carry
OLD_SECRET = "0ld-s3cret-being-rotated-2b9d"


def serve_argv() -> list[str]:
    """``tap-webhook serve`` once the tap's console script exists (merged with wh-tap's branch);
    the same function (taps.webhook.serve:main) run as a module before that."""
    script = BIN / "tap-webhook"
    if script.exists():
        return [str(script), "serve"]
    return [sys.executable, "-m", "taps.webhook.serve"]


def github_config(tmp_path: Path, **server: Any) -> dict[str, Any]:
    return {"spool": {"path": str(tmp_path / "spool.db")},
            "server": {"port": 0, **server},
            "sources": {"gh": {"provider": "github", "secrets": [SECRET, OLD_SECRET]}}}


class Receiver:
    def __init__(self, tmp_path: Path, config: dict[str, Any], *, log_level: str = "DEBUG") -> None:
        self.tmp_path = tmp_path
        self.config = config
        self.config_path = tmp_path / "webhooks.json"
        self.config_path.write_text(json.dumps(config))
        self.stderr_path = tmp_path / f"receiver-{time.monotonic_ns()}.log"
        self.log_level = log_level
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    def start(self, timeout: float = 30) -> Receiver:
        env = {**os.environ, "SLUICE_LOG_LEVEL": self.log_level}
        self.stderr_path = self.tmp_path / f"receiver-{time.monotonic_ns()}.log"
        self.stdout_path = self.stderr_path.with_suffix(".stdout")
        with self.stderr_path.open("wb") as err, self.stdout_path.open("wb") as out:
            self.proc = subprocess.Popen([*serve_argv(), "--config", str(self.config_path)], stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the receiver exited {self.proc.returncode}:\n{self.stderr()}")
            found = re.search(r"listening on http://[\d.]+:(\d+)", self.stderr())
            if found:
                self.port = int(found.group(1))
                try:
                    if self.get("/healthz")[0] == 200:
                        return self
                except OSError:
                    pass
            time.sleep(0.05)
        raise AssertionError(f"the receiver did not become healthy:\n{self.stderr()}")

    def stdout(self) -> bytes:
        return self.stdout_path.read_bytes()

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def connection(self, timeout: float = 30) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
        conn = self.connection()
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.read(), {k.lower(): v for k, v in resp.getheaders()}
        finally:
            conn.close()

    def get(self, path: str) -> tuple[int, bytes]:
        status, body, _ = self.request("GET", path)
        return status, body

    def post(self, source: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        status, data, _ = self.request("POST", f"/hooks/{source}", body, headers)
        return status, data

    def metrics(self) -> dict[str, float]:
        status, text = self.get("/metrics")
        assert status == 200
        out = {}
        for line in text.decode().splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
        return out

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=30)


def rows(path: Path) -> list[dict[str, Any]]:
    """Every delivery in a SQLite spool, in seq order."""
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in conn.execute("SELECT * FROM deliveries ORDER BY seq")]
    finally:
        conn.close()
