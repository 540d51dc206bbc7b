"""The built-in providers: ``${file:PATH}`` and ``${cmd:COMMAND}`` (docs/secrets.md).

What retrying cannot fix is a ConfigError (no such file or program, an empty, too large or non-UTF-8
value); a command that fails, is killed or times out is a SecretUnavailable (exit 1: a retry may work).
"""

from __future__ import annotations

import os
import selectors
import shlex
import signal
import stat
import subprocess
import time
from pathlib import Path

from protocol import ConfigError
from runner.interpolation import Scope, SecretUnavailable

__all__ = ["CommandProvider", "FileProvider"]

#: a secret (a file's content, a command's output) larger than this is a mistake (``${file:/dev/zero}``)
MAX_FILE_BYTES = 1 << 20
_CHUNK = 1 << 16


def _one_newline_less(text: str) -> str:
    """``text`` without one trailing line end (``echo`` and editors add one; a secret never ends in one)."""
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith("\n") else text


class FileProvider:
    """``${file:PATH}``: the content of a file (a Docker or Kubernetes secret, say), one trailing newline
    dropped. A relative ``PATH`` is relative to the project directory; ``~`` is expanded."""

    scheme = "file"

    def __init__(self, scope: Scope) -> None:
        self.dir = scope.dir

    def resolve(self, reference: str) -> str:
        if not reference.strip():
            raise ConfigError("no file named (write ${file:PATH})")
        path = Path(reference).expanduser()
        path = path if path.is_absolute() else self.dir / path
        try:
            data = _read_regular_file(path)
        except FileNotFoundError:
            raise ConfigError(f"secret file not found: {path}") from None
        except OSError as exc:
            raise ConfigError(f"cannot read secret file {path}: {exc.strerror or type(exc).__name__}") from None
        if len(data) > MAX_FILE_BYTES:
            raise ConfigError(f"secret file {path} is larger than {MAX_FILE_BYTES >> 20} MiB")
        try:
            text = _one_newline_less(data.decode("utf-8"))
        except UnicodeDecodeError:
            raise ConfigError(f"secret file {path} is not UTF-8 text") from None
        if not text:
            raise ConfigError(f"secret file {path} is empty")
        return text


def _read_regular_file(path: Path) -> bytes:
    """Up to ``MAX_FILE_BYTES + 1`` bytes of ``path``, a regular file (after its symbolic links): a FIFO
    would block the open or the read for ever, a device never end (ConfigError)."""
    _regular(os.stat(path).st_mode, path)  # before opening: opening a device may do something
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)  # a FIFO swapped in since: no wait
    with os.fdopen(fd, "rb") as fh:
        _regular(os.fstat(fd).st_mode, path)
        return fh.read(MAX_FILE_BYTES + 1)


def _regular(mode: int, path: Path) -> None:
    if stat.S_ISDIR(mode):
        raise ConfigError(f"{path} is a directory, not a secret file")
    if not stat.S_ISREG(mode):
        raise ConfigError(f"{path} is not a regular file (a FIFO, socket or device is not a secret file)")


class CommandProvider:
    """``${cmd:COMMAND}``: what a command prints on stdout (a password manager's, say), one trailing
    newline dropped. The command is split as a shell would split words (quotes, backslashes) but run
    without a shell: no ``$VAR``, globs, pipes or ``;``. It runs in the project directory with the
    environment (and ``.env``), no stdin, and is stopped (with its process group) after ``scope.timeout``
    seconds. What it prints is never shown, not on success nor on failure."""

    scheme = "cmd"

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    def resolve(self, reference: str) -> str:
        try:
            argv = shlex.split(reference)
        except ValueError as exc:
            raise ConfigError(f"cannot split the command into words: {exc}") from None
        if not argv:
            raise ConfigError("no command given (write ${cmd:PROGRAM ARGS...})")
        scope = self.scope
        program = argv[0]
        if "/" in program and not os.path.isabs(os.path.expanduser(program)):
            argv[0] = str(scope.dir / program)  # ./bin/get-secret: from the project directory
        try:
            proc = subprocess.Popen(argv, cwd=scope.dir, env=dict(scope), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
        except FileNotFoundError:
            raise ConfigError(f"program '{program}' not found") from None
        except PermissionError:
            raise ConfigError(f"program '{program}' is not executable") from None
        except OSError as exc:
            raise SecretUnavailable(f"cannot start '{program}': {exc.strerror or type(exc).__name__}") from None
        out = _output(proc, scope.timeout)
        if proc.returncode < 0:
            raise SecretUnavailable(f"the command was killed by signal {-proc.returncode} (its output is not shown)")
        if proc.returncode:
            raise SecretUnavailable(f"the command exited with status {proc.returncode} (its output is not shown; "
                                    "run it yourself to see why)")
        try:
            text = _one_newline_less(out.decode("utf-8"))
        except UnicodeDecodeError:
            raise ConfigError("the command's output is not UTF-8 text") from None
        if not text:
            raise ConfigError("the command printed nothing")
        return text


def _output(proc: subprocess.Popen[bytes], timeout: float) -> bytes:
    """What the command prints on stdout, read as it comes, up to ``MAX_FILE_BYTES``; the command stopped
    (with what it started) past that size (ConfigError) or past ``timeout`` seconds (SecretUnavailable)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    size = 0
    ended = False
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while not ended and (left := deadline - time.monotonic()) > 0:
            if not selector.select(left):
                continue
            chunk = os.read(proc.stdout.fileno(), _CHUNK)
            ended = not chunk
            size += len(chunk)
            if size > MAX_FILE_BYTES:
                _stop(proc)
                raise ConfigError(f"the command printed more than {MAX_FILE_BYTES >> 20} MiB (its output is not "
                                  "shown; a secret is not that large)")
            chunks.append(chunk)
    try:
        if not ended:
            raise subprocess.TimeoutExpired(proc.args, timeout)
        proc.wait(timeout=max(deadline - time.monotonic(), 0))
    except subprocess.TimeoutExpired:
        _stop(proc)
        raise SecretUnavailable(f"the command gave no answer in {timeout:g} s and was stopped "
                                "(secret_timeout_seconds)") from None
    proc.stdout.close()
    return b"".join(chunks)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Kill the command and whatever it started (its own session), and reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # gone already
    if proc.stdout is not None:  # not read to its end: one it started in a session of its own may hold it open
        proc.stdout.close()
    proc.wait()
