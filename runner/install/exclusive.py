"""One install at a time per project: ``.sluice/install.lock``.

Two ``sluice install`` (or ``sluice run --install``) started together in one project would build the
same environment at once and write sluice.lock over each other. The second waits for the first: an
exclusive ``flock`` on ``.sluice/install.lock``, held from before the first build until sluice.lock is
written, released by the kernel if the holder dies. The file names its holder (``pid N``). The wait is
bounded by ``SLUICE_INSTALL_WAIT`` seconds (default 900); past it the install fails with one line.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from protocol import ConfigError, SluiceError

__all__ = ["WAIT_ENV", "one_install"]

WAIT_ENV = "SLUICE_INSTALL_WAIT"
_DEFAULT_WAIT = 900.0


def _wait_seconds() -> float:
    text = os.environ.get(WAIT_ENV, "")
    if not text:
        return _DEFAULT_WAIT
    try:
        seconds = float(text)
    except ValueError:
        raise ConfigError(f"{WAIT_ENV} must be a number of seconds, not {text!r}") from None
    if seconds < 0:
        raise ConfigError(f"{WAIT_ENV} must be 0 or more seconds, not {text!r}")
    return seconds


def _take(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""
    return f" ({text})" if text else ""


@contextmanager
def one_install(project_dir: Path) -> Iterator[None]:
    """Hold the project's install lock for the ``with`` block, waiting for another holder first."""
    path = project_dir / ".sluice" / "install.lock"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise SluiceError(f"cannot open the install lock {path}: {exc.strerror or exc}") from exc
    try:
        if not _take(fd):
            wait = _wait_seconds()
            click.echo(f"sluice: another install is running in this project{_holder(fd)}; waiting for it "
                       f"(at most {wait:g} s, {WAIT_ENV})", err=True)
            deadline = time.monotonic() + wait
            while not _take(fd):
                if time.monotonic() >= deadline:
                    raise SluiceError(f"another install still holds {path}{_holder(fd)} after {wait:g} s; "
                                      f"try again when it is done (or raise {WAIT_ENV})")
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock
