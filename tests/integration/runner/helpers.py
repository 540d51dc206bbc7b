"""Helpers for the runner's tests: a project directory with fixture connectors, and `sluice` itself."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import exe

FIXTURES = Path(__file__).parent / "fixtures"
PY = sys.executable


def fixture_connector(name: str, script: str, config: dict[str, Any] | str | None = None,
                      **extra: Any) -> dict[str, Any]:
    conn: dict[str, Any] = {"name": name, "executable": PY, "args": [str(FIXTURES / script)]}
    if config is not None:
        conn["config"] = config
    conn.update(extra)
    return conn


def write_project(root: Path, *, tap: dict[str, Any] | None = None, target: dict[str, Any] | None = None,
                  connectors: list[dict[str, Any]] | None = None, pipelines: list[dict[str, Any]] | None = None,
                  state_store: str | None = None) -> Path:
    """A sluice.yml with a `demo` pipeline from fixture_tap to fixture_target (unless overridden)."""
    out = root / "out.jsonl"
    conns = connectors or [
        fixture_connector("tap-fix", "fixture_tap.py", tap if tap is not None else {"records": 25}),
        fixture_connector("target-fix", "fixture_target.py", target if target is not None else {"path": str(out)}),
    ]
    if pipelines is None:
        pipelines = [{"name": "demo", "tap": "tap-fix", "target": "target-fix"}]
    project: dict[str, Any] = {"connectors": conns, "pipelines": pipelines}
    if state_store:
        project["state_store"] = state_store
    path = root / "sluice.yml"
    path.write_text(yaml.safe_dump(project, sort_keys=False))
    return path


def sluice_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    env.update(extra)
    return env


def sluice(args: list[str], cwd: Path, *, env: dict[str, str] | None = None, timeout: float = 120,
           input: bytes | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([exe("sluice"), *args], cwd=cwd, env=env or sluice_env(), capture_output=True,
                          timeout=timeout, input=input, check=False)
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(), done.stderr.decode())


def start_sluice(args: list[str], cwd: Path, *, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen([exe("sluice"), *args], cwd=cwd, env=env or sluice_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(proc: subprocess.Popen[bytes], timeout: float = 120) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out.decode(), err.decode()


def wait_for(condition: Callable[[], bool], timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def read_ids(path: Path) -> list[int]:
    if not path.exists():
        return []
    return [json.loads(line)["id"] for line in path.read_text().splitlines() if line.strip()]


def stored_state(root: Path, pipeline: str = "demo", env: dict[str, str] | None = None) -> dict[str, Any] | None:
    done = sluice(["state", "get", pipeline], root, env=env)
    return json.loads(done.stdout) if done.returncode == 0 else None


def bookmark(root: Path, pipeline: str = "demo", env: dict[str, str] | None = None) -> int | None:
    state = stored_state(root, pipeline, env)
    if not state:
        return None
    return int(state["bookmarks"]["items"]["replication_key_value"])


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return False


def kill9(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)


def stop_when(proc: subprocess.Popen[bytes], condition: Callable[[], bool], stop: Callable[[], None], *,
              what: str, timeout: float = 60) -> str:
    """Wait for ``condition``, then ``stop`` the process (send it a signal); its stderr once it exited.
    It is killed if anything goes wrong on the way, so no test leaves it behind."""
    try:
        wait_for(lambda: condition() or proc.poll() is not None, what=what)
        if proc.poll() is not None and not condition():
            _, early = proc.communicate()
            raise AssertionError(f"the process ended (exit {proc.returncode}) before {what}:\n{early.decode()}")
        stop()
        _, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()  # closes its pipes, whatever happened
    return err.decode()
