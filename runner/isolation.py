"""What a connector gets, and what it does not.

- Environment: only what it is declared to need, plus PATH, HOME and LANG.
- Config: a 0600 file in a private 0700 run directory, removed when the run ends
  (directories left by a runner killed -9 are swept by the next run).
- Limits: memory and CPU seconds through ``setrlimit`` in the child, before exec.
- The child dies with the runner (PR_SET_PDEATHSIG), even when the runner is killed -9.
- Secrets: every value written by the runner passes through a :class:`Redactor`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import signal
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from protocol import ExitCode
from runner.project import Limits

__all__ = ["BASE_ENV", "REDACTED", "Redactor", "RunDir", "child_env", "make_preexec"]

BASE_ENV = ("PATH", "HOME", "LANG")
REDACTED = "********"
MIN_SECRET_LENGTH = 3
_PR_SET_PDEATHSIG = 1


def child_env(declared: Mapping[str, str], environ: Mapping[str, str] | None = None) -> dict[str, str]:
    environ = os.environ if environ is None else environ
    env = {name: environ[name] for name in BASE_ENV if name in environ}
    env.update(declared)
    return env


class Redactor:
    """Replaces every secret (and its JSON-escaped form) with asterisks."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        for secret in secrets:
            if len(secret) >= MIN_SECRET_LENGTH:
                # as written, JSON-escaped, and URL-encoded (a key in a query string an HTTP error
                # quotes, a password in a DSN: a third-party connector's words, which we cannot redact)
                self._secrets.update({secret, json.dumps(secret)[1:-1], quote(secret, safe=""), quote_plus(secret)})
        if self._secrets:
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    def __call__(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(REDACTED, text)

    def __bool__(self) -> bool:
        return bool(self._secrets)


class RunDir:
    """A private directory for one run's config and state files."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        sweep_stale(root)
        self.path = root / f"run-{os.getpid()}-{os.urandom(4).hex()}"
        self.path.mkdir(mode=0o700)

    def write_private(self, name: str, data: bytes) -> Path:
        path = self.path / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        return path

    def cleanup(self) -> None:
        remove_tree(self.path)

    def __enter__(self) -> RunDir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_tree(path: Path) -> None:
    """``shutil.rmtree(path, ignore_errors=True)`` for a run directory (files and directories the runner
    made), without importing shutil at every run. Symbolic links are removed, never followed."""
    for top, dirs, files in os.walk(path, topdown=False):
        for name in files:
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(top, name))
        for name in dirs:
            full = os.path.join(top, name)
            remove = os.unlink if os.path.islink(full) else os.rmdir
            with contextlib.suppress(OSError):
                remove(full)
    with contextlib.suppress(OSError):
        os.rmdir(path)


def sweep_stale(root: Path) -> None:
    """Remove run directories whose runner is dead (killed before it could clean up)."""
    for entry in root.glob("run-*-*"):
        try:
            pid = int(entry.name.split("-")[1])
        except (IndexError, ValueError):
            continue
        if pid != os.getpid() and not _pid_alive(pid):
            remove_tree(entry)


@functools.cache
def _libc() -> Any:
    """The C library, for prctl(2); None where there is none to load. The symbols of the running
    program (dlopen(NULL)) include libc's: no ``ldconfig -p`` run (ctypes.util.find_library), which
    cost a fork and exec at every ``sluice run``."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl  # noqa: B018  (an AttributeError where the C library has no prctl)
    except (OSError, AttributeError):
        return None
    return libc


def make_preexec(limits: Limits) -> Callable[[], None]:
    """The function run in the child between fork and exec."""
    import resource

    libc = _libc()
    parent = os.getpid()
    memory = limits.memory_mb * 1024 * 1024 if limits.memory_mb else None
    cpu = limits.cpu_seconds

    def preexec() -> None:
        if libc is not None:
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
            if os.getppid() != parent:  # the runner died before prctl took effect
                os._exit(ExitCode.FAILED)
        if memory is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        if cpu is not None:
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))

    return preexec
