"""Reading what a connector program printed: the JSON on its stdout (log lines before it forgiven),
its last words, whether it refused an option, whether its ``--test`` tests anything, and whether its
``--about`` says it cannot be a pipeline's tap (or target).

Any program is read the same way, ours or a third party's (singer-sdk, singer-python, a script).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from runner.map_steps import KIT_SDK
from runner.pumps import error_message

__all__ = ["Printed", "last_message", "no_such_flag", "printed_json", "quote", "runs_a_test", "tail", "warn_on_stderr",
           "wrong_role"]

QUOTED = 80  # characters of a program's words quoted in a message
_REDACTED_FIRST = 4096  # characters of a line redacted before it is cut to QUOTED
_CANDIDATES = 8  # lines starting with "{" tried as the start of the JSON after log lines

# what argparse, click and optparse say of an option they do not know
_UNKNOWN_OPTION = r"unrecognized arguments?:.*{flag}(?![\w-])|no such option:?\s*'?{flag}(?![\w-])"
_LOG_PREFIX = re.compile(r"^\S+ \S+\s*\|\s*[A-Z]+\s*\|\s*[\w.\-]+\s*\|\s*")
# a program whose --about lists one of these is a tap (a singer-sdk tap has --test without listing it)
_TAP_CAPABILITIES = frozenset({"discover", "catalog", "properties"})
# what only a tap lists (a program that lists none of these is no tap), and what only a target lists
_TAP_ONLY = _TAP_CAPABILITIES | {"state", "log-based"}
_TARGET_ONLY = frozenset({"hard-delete", "datatype-failsafe", "validate-records", "target-schema",
                          "sluice-exactly-once"})


@dataclass(frozen=True)
class Printed:
    """The JSON value a program printed on stdout; ``skipped``: the lines it logged there before it."""

    value: Any
    skipped: bytes = b""


def printed_json(stdout: bytes) -> Printed | None:
    """The JSON on stdout; a program that logs a line or two there first is forgiven: the value is then
    read from the first line that starts with ``{`` and holds, with all that follows, one JSON object.
    None when there is no such value."""
    try:
        return Printed(orjson.loads(stdout))
    except orjson.JSONDecodeError:
        pass
    start = stdout.find(b"\n{")
    for _ in range(_CANDIDATES):
        if start < 0:
            return None
        try:
            return Printed(orjson.loads(stdout[start + 1:]), stdout[:start + 1])
        except orjson.JSONDecodeError:
            start = stdout.find(b"\n{", start + 1)
    return None


def quote(text: bytes | str, redact: Callable[[str], str]) -> str:
    """The first non-blank line of ``text``, redacted, then cut to
    :data:`QUOTED` characters, in quotes; ``nothing`` when there is none."""
    if isinstance(text, bytes):
        text = text[:_REDACTED_FIRST * 4].decode("utf-8", "replace")
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    if not line:
        return "nothing"
    shown = redact(line[:_REDACTED_FIRST])
    return repr(shown if len(shown) <= QUOTED else shown[:QUOTED] + "...")


def no_such_flag(text: str, *flags: str) -> bool:
    """Whether ``text`` (a program's output) is argparse, click or optparse refusing one of ``flags``."""
    return any(re.search(_UNKNOWN_OPTION.format(flag=re.escape(flag)), text, re.IGNORECASE) for flag in flags)


def runs_a_test(info: dict[str, Any] | None) -> bool:
    """Whether the program ``info`` (its ``--about``; None: it has none) says its ``--test`` checks
    the connection: it lists the ``test`` capability, it is built on our kit (every connector of it
    has --test), or it is a singer-sdk tap (the SDK gives each tap --test without listing it)."""
    if info is None:
        return False
    listed = info.get("capabilities")
    capabilities = {c for c in listed if isinstance(c, str)} if isinstance(listed, list) else set()
    sdk = str(info.get("sdk_version") or "")
    return "test" in capabilities or sdk.startswith(KIT_SDK) or bool(sdk and capabilities & _TAP_CAPABILITIES)


def wrong_role(info: dict[str, Any] | None, role: str) -> str | None:
    """What the program ``info`` (its ``--about``) is when it cannot be a pipeline's ``role`` ("tap" or
    "target"), as words after "is": a target that lists discover, catalog or properties and nothing
    only a target lists is "a tap, not a target"; a tap that lists none of a tap's capabilities is "a
    target, not a tap" (or "not a tap" when it lists nothing only a target lists either, as a mapper).
    None when it may be one: also when it has no ``--about`` or lists no capabilities (no guess)."""
    listed = (info or {}).get("capabilities")
    capabilities = {c for c in listed if isinstance(c, str)} if isinstance(listed, list) else set()
    if not capabilities:
        return None
    if role == "target" and capabilities & _TAP_CAPABILITIES and not capabilities & _TARGET_ONLY:
        return "a tap, not a target"
    if role == "tap" and not capabilities & _TAP_ONLY:
        return ("a target, not a tap" if capabilities & _TARGET_ONLY
                else f"not a tap (its --about lists none of {', '.join(sorted(_TAP_ONLY))})")
    return None


def warn_on_stderr(text: str) -> None:
    """A warning of the runner, on its stderr."""
    sys.stderr.write(f"sluice: warning: {text}\n")  # not click's echo: a plain run never imports click
    sys.stderr.flush()


def tail(stderr: str, stdout: bytes, lines: int = 5) -> str:
    """The last non-blank lines the program wrote (stderr, else stdout), joined with " | "."""
    text = stderr if stderr.strip() else stdout.decode("utf-8", "replace")
    last = [ln.strip() for ln in text.splitlines() if ln.strip()][-lines:]
    return " | ".join(last) or "no output"


def last_message(stderr: bytes, stdout: bytes = b"", *, errors: bool = True) -> str | None:
    """The last ERROR message (``errors``), else the last other line, without its log prefix."""
    last_error = None
    last_line = None
    for raw in (stderr + b"\n" + stdout).decode("utf-8", "replace").splitlines():
        line = raw.strip()
        if not line or "METRIC: " in line:
            continue
        message = error_message(line)
        if message is not None:
            last_error = message
        else:
            last_line = _LOG_PREFIX.sub("", line)
    return (last_error or last_line) if errors else (last_line or last_error)
