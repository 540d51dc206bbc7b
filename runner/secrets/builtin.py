"""The built-in providers: ``${file:PATH}`` and ``${cmd:COMMAND}`` (docs/secrets.md)."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
from pathlib import Path

from protocol import ConfigError
from runner.interpolation import Scope

__all__ = ["CommandProvider", "FileProvider"]

#: a secret file larger than this is a mistake (``${file:/dev/zero}``), not a secret
MAX_FILE_BYTES = 1 << 20


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
            with path.open("rb") as fh:
                data = fh.read(MAX_FILE_BYTES + 1)
        except FileNotFoundError:
            raise ConfigError(f"secret file not found: {path}") from None
        except IsADirectoryError:
            raise ConfigError(f"{path} is a directory, not a secret file") from None
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
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        except FileNotFoundError:
            raise ConfigError(f"program '{program}' not found") from None
        except PermissionError:
            raise ConfigError(f"program '{program}' is not executable") from None
        except OSError as exc:
            raise ConfigError(f"cannot start '{program}': {exc.strerror or type(exc).__name__}") from None
        try:
            out, _ = proc.communicate(timeout=scope.timeout)
        except subprocess.TimeoutExpired:
            _stop(proc)
            raise ConfigError(f"the command gave no answer in {scope.timeout:g} s and was stopped "
                              "(secret_timeout_seconds)") from None
        if proc.returncode < 0:
            raise ConfigError(f"the command was killed by signal {-proc.returncode} (its output is not shown)")
        if proc.returncode:
            raise ConfigError(f"the command exited with status {proc.returncode} (its output is not shown; "
                              "run it yourself to see why)")
        try:
            text = _one_newline_less(out.decode("utf-8"))
        except UnicodeDecodeError:
            raise ConfigError("the command's output is not UTF-8 text") from None
        if not text:
            raise ConfigError("the command printed nothing")
        return text


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Kill the command and whatever it started (its own session), and reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # gone already
    for pipe in (proc.stdout, proc.stderr):  # not read to their end: one it started in a session of its own
        if pipe is not None:                 # may hold them open
            pipe.close()
    proc.wait()
