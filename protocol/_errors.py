"""The one exception tree of Sluice, grouped by how the caller must react.

    SluiceError
    ├── ConfigError ............ bad settings or usage: fix the config, never retry (exit 2);
    │                            a summary and the list of problems, rendered here only
    ├── ProtocolError .......... a bad input line: names the line, the stream and the field
    │   └── RecordValidationError   a RECORD that violates its stream's schema
    ├── SourceError ............ the system a tap reads from failed
    │   ├── RetryableSourceError    timeouts, resets, 5xx, 429 (may carry retry_after)
    │   └── FatalSourceError        401/403, other 4xx, a missing or unreadable file
    ├── TargetError ............ the destination failed to load or commit
    ├── DownstreamClosed ....... the reader of our stdout went away (broken pipe)
    └── Terminated ............. SIGTERM or SIGINT: stop now, undo what was not committed
                                 (exit 128 + the signal's number: 143, 130)

Third-party exceptions are mapped into this tree where they enter our code, with
``raise ... from exc``. The CLI boundary turns any of these into one line on stderr
and an exit code from the one table, :class:`protocol._exitcodes.ExitCode`.
"""

from __future__ import annotations

import signal
from collections.abc import Iterable

from protocol._exitcodes import ExitCode, signal_exit_code

__all__ = [
    "ConfigError",
    "DownstreamClosed",
    "FatalSourceError",
    "ProtocolError",
    "RecordValidationError",
    "RetryableSourceError",
    "SluiceError",
    "SourceError",
    "TargetError",
    "Terminated",
    "TruncatedLineError",
    "stop_description",
]


class SluiceError(Exception):
    """Base of every error Sluice raises on purpose."""

    exit_code: int = ExitCode.FAILED


class ConfigError(SluiceError):
    """Invalid configuration or usage. Fix it and run again; retrying cannot help.

    ``summary`` says what is wrong ("invalid config", "sluice.yml: invalid project file"),
    ``problems`` lists every problem found, each on its own. Code that needs either reads
    these fields, never the text: ``str()`` is :meth:`one_line`, and :meth:`block` is the
    form with one problem per line.
    """

    exit_code = ExitCode.USAGE

    def __init__(self, summary: str, problems: Iterable[str] | None = None) -> None:
        self.summary = summary
        self.problems = list(problems or [])
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """``summary: problem; problem`` (a connector's one stderr line)."""
        return f"{self.summary}: " + "; ".join(self.problems) if self.problems else self.summary

    def block(self, indent: str = "  ") -> str:
        """``summary:`` and one indented problem per line (the runner's form)."""
        if not self.problems:
            return self.summary
        return f"{self.summary}:\n" + "\n".join(f"{indent}{problem}" for problem in self.problems)


class ProtocolError(SluiceError):
    """A Singer input line that cannot be accepted.

    The message always starts with ``line N:`` and names the stream and field when known.
    """

    def __init__(
        self,
        detail: str,
        *,
        line: int | None = None,
        stream: str | None = None,
        field: str | None = None,
    ) -> None:
        self.detail = detail
        self.line = line
        self.stream = stream
        self.field = field
        parts = []
        if line is not None:
            parts.append(f"line {line}")
        if stream is not None and f"'{stream}'" not in detail:
            parts.append(f"stream '{stream}'")
        if field is not None:
            parts.append(f"field '{field}'")
        prefix = ", ".join(parts)
        super().__init__(f"{prefix}: {detail}" if prefix else detail)


class RecordValidationError(ProtocolError):
    """A RECORD whose payload does not match the stream's schema."""


class TruncatedLineError(ProtocolError):
    """The input ended in the middle of its last line (no newline, not valid JSON).

    Bad input, unless the program writing it was stopped: then the line was cut, not written
    wrong, and a target says that it was interrupted instead (see protocol/_target.py).
    """


class SourceError(SluiceError):
    """The source system failed."""


class RetryableSourceError(SourceError):
    """A transient source failure: timeouts, connection resets, 5xx, 429."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class FatalSourceError(SourceError):
    """A source failure that retrying cannot fix: auth, 4xx, missing or corrupt files."""


class TargetError(SluiceError):
    """The destination failed to accept or commit data."""


class DownstreamClosed(SluiceError):
    """The process reading our stdout closed the pipe."""


def stop_description(signum: int) -> str:
    """How a stop by ``signum`` is told: "stopped by SIGTERM", "interrupted by SIGINT (Ctrl-C)"."""
    if signum == signal.SIGINT:
        return "interrupted by SIGINT (Ctrl-C)"
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    return f"stopped by {name}"


class Terminated(SluiceError):
    """The process was asked to stop (SIGTERM, SIGINT). Targets roll back what no STATE covers.

    The exit code is the shell's for a death by that signal: 128 + its number (143, 130).
    ``after`` completes "stopped by SIGTERM after ..." when work in flight was finished first;
    ``detail`` replaces the whole message.
    """

    exit_code: int = ExitCode.TERMINATED

    def __init__(self, signum: int = signal.SIGTERM, *, after: str | None = None, detail: str | None = None) -> None:
        self.signum = int(signum)
        self.exit_code = signal_exit_code(self.signum)
        text = detail or stop_description(self.signum)
        super().__init__(f"{text} after {after}" if after else text)
