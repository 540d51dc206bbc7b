"""Talking to any Singer connector as a program: ``--about``, ``--test``, ``--discover``.

These work the same on our connectors and on third-party ones (singer-sdk or not): the
connector runs isolated (declared environment, 0600 config file, the project directory as its
working directory), and its output is parsed here, never its code imported.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from protocol import Catalog, ConfigError, ExitCode, ProtocolError, SluiceError, dumps, plural, secret_values
from runner.connector_output import last_message, no_such_flag, printed_json, quote, runs_a_test, tail, warn_on_stderr
from runner.digests import blake2b
from runner.interpolation import PROVIDED
from runner.isolation import Redactor, RunDir, child_env
from runner.project import ResolvedConnector
from runner.stores.urls import url_passwords

__all__ = [
    "AboutAnswer",
    "CheckResult",
    "ConnectorError",
    "about",
    "about_answer",
    "check",
    "coerce_config",
    "connector_secrets",
    "discover",
    "dry_start",
    "run_bounded",
    "settings_schema",
    "validate_catalog",
]

ABOUT_TIMEOUT = 60.0


class ConnectorError(SluiceError):
    """A connector could not answer (--about, --discover) as the Singer contract says."""


#: the version of how --about answers are read and cached: a new reader ignores older cache files
_ABOUT_READER = "2"
_GRACE = 2.0  # seconds between SIGTERM and SIGKILL for a connector stopped on a timeout


def run_bounded(argv: list[str], *, env: dict[str, str], cwd: Path | str | None,
                timeout: float) -> subprocess.CompletedProcess[bytes]:
    """Run ``argv`` to its end, its output captured, in a process group of its own. After ``timeout``
    seconds that group (the program and what it started there) gets SIGTERM, then SIGKILL after a
    short grace, and :class:`subprocess.TimeoutExpired` is raised: a program it started in a session
    of its own (``setsid``, a daemon) is out of reach. OSError when it cannot start."""
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, cwd=cwd, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _stop_group(proc)
        raise
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process group of ``proc``, SIGKILL to what is left after the grace; reaped."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break  # the whole group is gone
        if sig == signal.SIGTERM:
            try:
                proc.wait(timeout=_GRACE)
            except subprocess.TimeoutExpired:
                pass
            time.sleep(0.05)  # its children get the same moment to leave
    try:
        proc.communicate(timeout=_GRACE)
    except subprocess.TimeoutExpired:  # a grandchild in a session of its own holds the pipes
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        proc.wait()


def _cache_key(argv: list[str]) -> str:
    """The program (every word of argv), and, for each word that is a file (the program, a script
    given to an interpreter), its size and modification time; and the reader's version."""
    h = blake2b(digest_size=12)
    h.update(f"about-reader {_ABOUT_READER}\0".encode())
    for part in argv:
        h.update(part.encode() + b"\0")
        try:
            st = os.stat(part)
        except (OSError, ValueError):
            continue
        h.update(f"{st.st_mtime_ns}:{st.st_size}\0".encode())
    return h.hexdigest()


@dataclass(frozen=True)
class AboutAnswer:
    """What ``--about --format json`` gave: ``info`` (None when none), and when it failed, why
    (``problem``, the program's own last words). ``certain``: worth caching (an answer, or a usage
    error that names --about: the program has none)."""

    info: dict[str, Any] | None
    problem: str = ""
    certain: bool = False


def about(conn: ResolvedConnector, cache_dir: Path | None = None, *, refresh: bool = False) -> dict[str, Any] | None:
    """The connector's ``--about --format json``; None when it has none. Cached per program version."""
    return about_answer(conn, cache_dir, refresh=refresh).info


def about_answer(conn: ResolvedConnector, cache_dir: Path | None = None, *, refresh: bool = False) -> AboutAnswer:
    """:func:`about` with the reason of a failure. Only a certain answer is cached: a JSON object, or a
    usage error about --about itself; never a crash, a timeout or output that is not JSON (the next
    command asks again, and until then nothing is taken for the connector's settings schema)."""
    cache = cache_dir / f"about-{_cache_key(conn.argv)}.json" if cache_dir else None
    if cache is not None and cache.exists() and not refresh:
        try:
            cached = orjson.loads(cache.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            cached = None
        if isinstance(cached, dict) and "about" in cached:
            info = cached["about"]
            return AboutAnswer(info if isinstance(info, dict) else None, certain=True)
    answer = _ask_about(conn)
    if cache is not None and answer.certain:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_bytes(dumps({"about": answer.info}))
        except OSError:
            pass
    return answer


def _ask_about(conn: ResolvedConnector) -> AboutAnswer:
    try:
        done = run_bounded([*conn.argv, "--about", "--format", "json"], env=child_env(conn.env), cwd=conn.cwd,
                           timeout=ABOUT_TIMEOUT)
    except subprocess.TimeoutExpired:
        return AboutAnswer(None, f"--about gave no answer in {ABOUT_TIMEOUT:g} s")
    except OSError as exc:
        return AboutAnswer(None, f"cannot start: {exc.strerror or exc}")
    stderr = done.stderr.decode("utf-8", "replace")
    if done.returncode != ExitCode.OK:
        if no_such_flag(stderr + done.stdout.decode("utf-8", "replace"), "--about", "--format"):
            return AboutAnswer(None, "it has no --about option", certain=True)
        return AboutAnswer(None, f"--about failed (exit code {done.returncode}): {tail(stderr, done.stdout)}")
    printed = printed_json(done.stdout)
    if printed is None or not isinstance(printed.value, dict):
        return AboutAnswer(None, f"--about did not print a JSON object: {tail(stderr, done.stdout)}")
    return AboutAnswer(printed.value, certain=True)


def settings_schema(info: dict[str, Any] | None) -> dict[str, Any] | None:
    if info is None:
        return None
    settings = info.get("settings")
    return settings if isinstance(settings, dict) else None


def coerce_config(config: dict[str, Any], info: dict[str, Any] | None) -> dict[str, Any]:
    """Turn top-level strings into the type the connector's settings schema asks for.

    ``port: "${PGPORT}"`` interpolates to the string "5432"; a connector whose schema says
    ``integer`` gets 5432. Strings for settings that accept strings are left alone.
    """
    props = (settings_schema(info) or {}).get("properties") or {}
    out = dict(config)
    for key, value in config.items():
        prop = props.get(key)
        if not isinstance(value, str) or not isinstance(prop, dict) or "type" not in prop:
            continue
        types = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
        if "string" in types:
            continue
        text = value.strip()
        if "boolean" in types and text.lower() in ("true", "false"):
            out[key] = text.lower() == "true"
        elif "integer" in types and re.fullmatch(r"-?\d+", text):
            out[key] = int(text)
        elif "number" in types and re.fullmatch(r"-?\d+(\.\d*)?([eE][-+]?\d+)?", text):
            out[key] = float(text)
        elif ("array" in types or "object" in types) and text[:1] in ("[", "{"):
            try:
                out[key] = orjson.loads(text)
            except orjson.JSONDecodeError:
                pass
    return out


# an ``env:`` variable named like a credential (no settings schema describes ``env:``); one named like a
# connection string (DATABASE_URL, SENTRY_DSN) has only the passwords it holds redacted, not its host
_CREDENTIAL_NAME = re.compile(r"PASSW|PASSPHRASE|SECRET|TOKEN|CREDENTIAL|PRIVATE|COOKIE|DSN|"
                              r"(?:^|_)(?:KEY|PWD|PASS|AUTH)(?:_|$)|APIKEY")
_URL_NAME = re.compile(r"(?:URL|URI|DSN)$")


def connector_secrets(conn: ResolvedConnector, info: dict[str, Any] | None) -> set[str]:
    """Values to redact. A value from ``${ENV}`` is not secret for that (a secret provider's is):

    - config settings the connector's settings schema marks ``secret``/``writeOnly`` (any depth),
      and top-level settings named in the project's ``secrets:`` list;
    - ``env:`` variables named in ``secrets:`` or named like a credential (``*PASSWORD*``, ``*_KEY``, ...);
      of one named like a URL (``*_URL``, ``*_URI``, ``*_DSN``), the passwords it holds;
    - the ``${ENV}`` values interpolated into any of those (a password inside a DSN, alone);
    - every value of a secret provider (``${file:...}``, ``${cmd:...}``, ...), wherever it went;
    - every ``${ENV}`` value in ``args``, and, for a connector that publishes no settings schema
      (no ``--about``), every ``${ENV}`` value in its config: nothing says which are harmless.
    """
    schema = settings_schema(info)
    out = set(secret_values(conn.config, schema or {"properties": {}}))
    names = set(conn.secret_settings)
    for name in names:
        value = conn.config.get(name)
        if isinstance(value, str | int | float) and not isinstance(value, bool) and str(value):
            out.add(str(value))
    urls = {n for n in conn.env if n not in names and _URL_NAME.search(n.upper())}
    secret_env = {n for n, v in conn.env.items() if v and n not in urls and (n in names or
                                                                            _CREDENTIAL_NAME.search(n.upper()))}
    out.update(conn.env[n] for n in secret_env)
    out.update(password for n in urls for password in url_passwords(conn.env[n]))
    for place, values in conn.env_values.items():
        root, rest = place[0], place[1:]
        if root in ("args", PROVIDED):  # a secret provider's value is secret wherever it went
            secret = True
        elif root == "env":
            secret = rest[0] in secret_env
        else:
            secret = schema is None or _secret_place(rest, schema, names)
        if secret:
            out.update(values)
    return out


def _secret_place(path: tuple[str | int, ...], schema: dict[str, Any], names: set[str]) -> bool:
    """Whether the setting at ``path`` is secret: declared in ``secrets:``, or marked so on the
    way down the settings schema (as :func:`protocol.secret_values` walks it)."""
    if path and path[0] in names:
        return True
    node: Any = schema
    for part in path:
        if not isinstance(node, dict):
            return False
        if node.get("secret") or node.get("writeOnly"):
            return True
        node = node.get("items") if isinstance(part, int) else \
            (node.get("properties") or {}).get(part, node.get("additionalProperties"))
    return isinstance(node, dict) and bool(node.get("secret") or node.get("writeOnly"))


def _run(
    conn: ResolvedConnector, flags: list[str], run_dir: RunDir, timeout: float
) -> subprocess.CompletedProcess[bytes]:
    config = run_dir.write_private(f"{conn.name}.config.json", dumps(conn.config))
    try:
        return run_bounded([*conn.argv, "--config", str(config), *flags], env=child_env(conn.env), cwd=conn.cwd,
                           timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise ConnectorError(f"{conn.name}: no answer after {timeout:g} s (its process group was stopped; a program "
                             "it started in a session of its own may still run)") from exc
    except OSError as exc:
        raise ConnectorError(f"{conn.name}: cannot start: {exc.strerror or exc}") from exc


@dataclass
class CheckResult:
    ok: bool
    message: str


def check(conn: ResolvedConnector, run_dir: RunDir, redact: Redactor, timeout: float = 300.0) -> CheckResult:
    """Run the connector's ``--test``. A program that refuses the option (click's, argparse's or optparse's
    words) does not support it; one that exits 0 without its ``--about`` saying it has a --test
    (:func:`runs_a_test`) may have ignored the option: that it started is all the check shows."""
    done = _run(conn, ["--test"], run_dir, timeout)
    if done.returncode != ExitCode.OK:
        if no_such_flag((done.stderr + b"\n" + done.stdout).decode("utf-8", "replace"), "--test"):
            return CheckResult(False, redact(f"{conn.name} does not support --test"))
        message = last_message(done.stderr, done.stdout)
        return CheckResult(False, redact(message or f"exit code {done.returncode}"))
    message = last_message(done.stderr, errors=False)
    info = about(conn)
    if runs_a_test(info):
        return CheckResult(True, redact(message or "connection check passed"))
    why = "it has no --about to say it has one" if info is None else "its --about lists no 'test' capability"
    said = f" (it said: {message})" if message else ""
    return CheckResult(True, redact(f"{conn.name} exited 0 on --test, but {why}: that shows only that the program "
                                    f"starts, not that the connection works{said}"))


def dry_start(conn: ResolvedConnector, run_dir: RunDir, redact: Redactor, timeout: float = 60.0) -> tuple[int, str]:
    """Start a program that reads Singer messages (a mapper, a target) on empty input: its exit
    code and last message. A program built on our kit checks its whole config first (exit 2)."""
    done = _run(conn, [], run_dir, timeout)
    return done.returncode, redact(last_message(done.stderr) or f"exit code {done.returncode}")


def discover(conn: ResolvedConnector, run_dir: RunDir, redact: Redactor, timeout: float = 600.0,
             warn: Callable[[str], None] = warn_on_stderr) -> dict[str, Any]:
    """Run ``--discover``; return the catalog after validating it. Lines logged on stdout before the
    catalog are skipped, the first of them named to ``warn``."""
    done = _run(conn, ["--discover"], run_dir, timeout)
    if done.returncode != ExitCode.OK:
        message = last_message(done.stderr) or f"exit code {done.returncode}"
        raise ConnectorError(redact(f"{conn.name} --discover failed: {message}"))
    printed = printed_json(done.stdout)
    if printed is None:
        why = f"must hold only the catalog, and it begins {quote(done.stdout, redact)}" if done.stdout.strip() \
            else "was empty"
        raise ConnectorError(f"{conn.name} --discover did not print a JSON catalog: its stdout {why}")
    if printed.skipped:
        count = len(printed.skipped.splitlines())
        lines, which = ("a line", "") if count == 1 else (plural(count, "line"), ", the first")
        warn(f"{conn.name} --discover printed {lines} on stdout before its catalog; skipped{which}: "
             f"{quote(printed.skipped, redact)}")
    data = printed.value
    problems = validate_catalog(data)
    if problems:
        raise ConnectorError(f"{conn.name} --discover printed an invalid catalog: " + "; ".join(problems))
    return data  # type: ignore[no-any-return]


def catalog_problems(path: Path | None, where: str) -> list[str]:
    """Every problem of a connector's catalog file (none when it has none), each after ``where``: a file
    that is no JSON, or no Singer catalog (:func:`validate_catalog`), which the tap would refuse or misread."""
    from protocol import read_json_file

    if path is None or not path.is_file():  # a missing file is the resolve step's problem
        return []
    try:
        data = read_json_file(path, "catalog")
    except ConfigError as exc:
        return [f"{where}: {exc}"]
    return [f"{where}: {path}: {problem}" for problem in validate_catalog(data)]


def validate_catalog(data: Any) -> list[str]:
    """Every problem of a Singer catalog, each naming its stream."""
    from protocol import check_schema  # jsonschema: imported only when a catalog is checked

    try:
        catalog = Catalog.from_dict(data)
    except ConfigError as exc:
        return [str(exc)]
    problems: list[str] = []
    seen: set[str] = set()
    for raw, entry in zip(data["streams"], catalog.streams, strict=True):
        name = entry.tap_stream_id
        if name in seen:
            problems.append(f"stream '{name}': duplicate tap_stream_id")
        seen.add(name)
        try:
            check_schema(entry.schema, stream=name)
        except ProtocolError as exc:
            problems.append(str(exc))
            continue
        props = entry.schema.get("properties") or {}
        for key in entry.key_properties:
            if key not in props:
                problems.append(f"stream '{name}': key property '{key}' is not in its schema")
        if entry.replication_key and entry.replication_key not in props:
            problems.append(f"stream '{name}': replication key '{entry.replication_key}' is not in its schema")
        for i, item in enumerate(raw.get("metadata") or []):
            if not isinstance(item, dict) or not isinstance(item.get("breadcrumb"), list) \
                    or not isinstance(item.get("metadata"), dict):
                problems.append(f"stream '{name}': metadata[{i}] needs a 'breadcrumb' list and a 'metadata' object")
    return problems
