"""What a connector gets, and what it does not.

- Environment: only what it is declared to need, plus PATH, HOME and LANG.
- Config: a 0600 file in a private 0700 run directory, removed when the run ends
  (directories left by a runner killed -9 are swept by the next run).
- Limits: memory and CPU seconds through ``setrlimit`` in the child, before exec.
- The child dies with the runner (PR_SET_PDEATHSIG), even when the runner is killed -9.
- Secrets: every value written by the runner passes through a :class:`Redactor`.
"""

from __future__ import annotations

import base64
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

__all__ = ["BASE_ENV", "REDACTED", "Redactor", "RunDir", "child_env", "credential_users", "make_preexec"]

BASE_ENV = ("PATH", "HOME", "LANG")
REDACTED = "********"
MIN_SECRET_LENGTH = 3
MIN_LINE_LENGTH = 8  # a line of a multi-line secret (a PEM key) shorter than this is not redacted alone
MIN_BASE64_LENGTH = 8  # the base64 of a secret this short or shorter is no evidence of it
SPELLED_UP_TO = 256  # a longer secret is matched in a few whole forms only (see Redactor)
MAX_USERS = 8  # user names a connector's Basic-auth forms are made with
_PR_SET_PDEATHSIG = 1


def child_env(declared: Mapping[str, str], environ: Mapping[str, str] | None = None) -> dict[str, str]:
    environ = os.environ if environ is None else environ
    env = {name: environ[name] for name in BASE_ENV if name in environ}
    env.update(declared)
    return env


class Redactor:
    """Replaces every secret with asterisks, in the forms a connector's words may carry it.

    A secret is matched character by character, each character as written or in any of its
    escapes: JSON (``\\u00e9`` in either case, ``\\"``, ``\\/``, nested JSON's doubled
    backslashes, Go's ``\\u0026``) and percent-encoding (``%C3%A9`` in either case, ``+`` for a
    space), in any mix (a URL a client encoded only in part). Besides: each line of a secret that
    holds line breaks (output is redacted line by line), its base64 and, with ``users``, the base64
    of ``user:secret`` (an ``Authorization: Basic`` header). A secret longer than
    :data:`SPELLED_UP_TO` characters is matched as written, JSON-escaped or percent-encoded only.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._plain: dict[str, int] = {}  # the secrets' texts as written -> their length
        self._spelled: dict[str, int] = {}  # patterns of the same texts, escaped in any way -> their length
        self._pattern: re.Pattern[str] | None = None  # the texts as written: a line without \\, % nor +
        self._escaped: re.Pattern[str] | None = None  # the texts and their patterns: any other line
        self.add(secrets)

    def add(self, secrets: Iterable[str], users: Iterable[str] = ()) -> None:
        """Add ``secrets``; ``users``: the user names of the same connector (for Basic auth)."""
        names = sorted({user for user in users if user and ":" not in user})[:MAX_USERS]
        before = len(self._plain)
        for secret in secrets:
            if len(secret) >= MIN_SECRET_LENGTH:
                plain, spelled = _forms(secret, names)
                self._plain.update(plain)
                self._spelled.update(spelled)
        if len(self._plain) == before:
            return
        plain = {re.escape(text): length for text, length in self._plain.items()}
        self._pattern = re.compile(_longest_first(plain))
        # a cheap look at the first character before trying each pattern: five times faster
        first = "".join(sorted({re.escape(text[0]) for text in self._plain} | {"\\\\", "%", r"\+"}))
        self._escaped = re.compile(f"(?=[{first}])(?:{_longest_first({**plain, **self._spelled})})")

    def __call__(self, text: str) -> str:
        if self._pattern is None or self._escaped is None:
            return text
        # an escaped form always holds a backslash, a % or a + (a space in a query string)
        pattern = self._escaped if "\\" in text or "%" in text or "+" in text else self._pattern
        return pattern.sub(REDACTED, text)

    def __bool__(self) -> bool:
        return bool(self._plain)


def _longest_first(patterns: dict[str, int]) -> str:
    """One alternation; the pattern of the longest text first, so that a secret holding another wins."""
    return "|".join(sorted(patterns, key=lambda p: (-patterns[p], p)))


def _forms(secret: str, users: list[str]) -> tuple[dict[str, int], dict[str, int]]:
    """One secret's texts as written, and the patterns of their escaped forms, each with its length:
    the secret, each line of a secret with line breaks (a PEM key; output is redacted line by line),
    its base64 and the base64 of ``user:secret`` for each user (an ``Authorization: Basic`` header)."""
    texts = {secret}
    if "\n" in secret or "\r" in secret:
        texts.update(line.strip() for line in secret.splitlines() if len(line.strip()) >= MIN_LINE_LENGTH)
    plain: dict[str, int] = {}
    spelled: dict[str, int] = {}
    for text in texts:
        if len(text) > SPELLED_UP_TO:  # a few whole forms only: a pattern per character would be huge
            forms = {json.dumps(text)[1:-1], json.dumps(text, ensure_ascii=False)[1:-1], quote(text, safe=""),
                     quote_plus(text)}
            plain.update({form: len(text) for form in (text, *forms)})
        else:
            plain[text] = len(text)
            spelled["".join(_spelled_char(char) for char in text)] = len(text)
    if len(secret) <= SPELLED_UP_TO:
        raw = secret.encode("utf-8", "surrogatepass")
        encoded = [base64.b64encode(raw), base64.urlsafe_b64encode(raw)]
        encoded += [base64.b64encode(f"{user}:{secret}".encode("utf-8", "surrogatepass")) for user in users]
        for form in encoded:  # with its padding, and without (a URL-safe token drops it)
            text = form.decode()
            if len(text) >= MIN_BASE64_LENGTH:
                plain.update({text: len(text), text.rstrip("="): len(text.rstrip("="))})
    return plain, spelled


# a setting or env: variable that holds a user name (PGUSER, db_user, username, login, client_id, ...)
_USER_NAME = re.compile(r"(?i)(?:user(?:_?name)?|login|client_id|email|account)$")


def credential_users(config: Mapping[str, Any], env: Mapping[str, str]) -> set[str]:
    """The user names a connector is given, in its settings (at any depth) and its ``env:``: with
    its secrets they make the base64 ``user:secret`` of HTTP Basic auth (:meth:`Redactor.add`)."""
    found = {value for name, value in env.items() if value and _USER_NAME.search(name)}
    todo: list[Any] = [config]
    while todo:
        node = todo.pop()
        if isinstance(node, Mapping):
            found.update(v for k, v in node.items() if isinstance(v, str) and v and _USER_NAME.search(str(k)))
            todo.extend(v for v in node.values() if isinstance(v, Mapping | list))
        elif isinstance(node, list):
            todo.extend(v for v in node if isinstance(v, Mapping | list))
    return found


_JSON_SHORT = {'"': '"', "\\": "\\", "/": "/", "\n": "n", "\r": "r", "\t": "t", "\b": "b", "\f": "f"}


@functools.lru_cache(maxsize=1024)
def _spelled_char(char: str) -> str:
    """One character as written or escaped: JSON (one or more backslashes: JSON inside JSON),
    ``\\uXXXX`` (a pair of them beyond the BMP), ``%XX`` per UTF-8 byte, ``+`` for a space."""
    alternatives = [re.escape(char)]
    if char in _JSON_SHORT:
        alternatives.append(r"\\+" + re.escape(_JSON_SHORT[char]))
    units = char.encode("utf-16-be", "surrogatepass")
    escaped = "".join(r"\\+u" + units[i:i + 2].hex() for i in range(0, len(units), 2))
    alternatives.append(f"(?i:{escaped})")
    alternatives.append("(?i:" + "".join(f"%{byte:02x}" for byte in char.encode("utf-8", "surrogatepass")) + ")")
    if char == " ":
        alternatives.append(r"\+")
    return "(?:" + "|".join(alternatives) + ")"


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
