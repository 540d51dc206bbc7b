"""The Airbyte source behind a pipe: one run of one of its commands (spec, check, discover, read).

The config, catalog and state files it is given live in a private temporary directory, removed
when the run ends. Its stdout is read line by line and decoded (:mod:`taps.airbyte.messages`); a
line that is not an Airbyte message is logged, as Airbyte's platform does, but a RECORD or STATE
line that cannot be read is an error naming its line (skipping it would lose data). Its stderr is read
on a thread of its own, each line logged at WARNING under the source's name, so that the redaction of
secrets covers it as it covers the source's LOG messages. A run left early (an error, SIGTERM) stops
the source: SIGTERM, then SIGKILL after ``stop_timeout``.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO

from protocol import ConfigError, FatalSourceError, ProtocolError
from taps.airbyte.messages import AirbyteMessage, DecodeError, decode_line
from taps.airbyte.settings import AirbyteSettings

__all__ = ["SourceRun", "describe_exit"]

log = logging.getLogger("sluice.airbyte")
_NOT_A_MESSAGE_SHOWN = 300  # characters of a stray stdout line that reach the log
_STDERR_GRACE = 2.0  # seconds the source's last stderr lines are waited for once it has exited


# A "type" key whose value is RECORD or STATE, with any JSON whitespace around the colon, anywhere on
# the line: the key may follow a long record (Python's json puts keys in insertion order).
_DATA_TYPE = re.compile(rb'"type"[ \t\r\n]*:[ \t\r\n]*"(RECORD|STATE)"')


def _data_kind(line: bytes) -> str | None:
    """RECORD or STATE when a line that did not decode looks like one, so that it fails the run.

    The whole line is searched (a 64-byte head misses ``"type"`` written after the record, and a
    line skipped is a record lost). Only lines that failed to decode are searched, so the hot path
    is unchanged. A line that does not start with ``{`` is log text, never a message, and stays
    tolerated; a non-message JSON line that merely mentions such a key fails the run, which is safe.
    """
    if not line.lstrip().startswith(b"{"):
        return None
    found = _DATA_TYPE.search(line)
    return found.group(1).decode() if found is not None else None


def describe_exit(code: int) -> str:
    """How the source ended: "exited with code 1", "was killed by SIGKILL"."""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"was killed by {name}"
    return f"exited with code {code}"


class SourceRun:
    """One command of the source, started on ``__enter__``; iterate :meth:`messages`, then :meth:`wait`."""

    def __init__(self, settings: AirbyteSettings, command: str, files: dict[str, bytes]) -> None:
        self.settings = settings
        self.command = command
        self.name = settings.source_name
        self._files = files
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: threading.Thread | None = None
        self.line_number = 0
        # Lines that were not messages, since the reader last cleared this: only an error needs them,
        # to map the n-th record of a batch back to its line (see taps.airbyte.sync).
        self.skipped_lines: list[int] = []

    def __enter__(self) -> SourceRun:
        self._dir = tempfile.TemporaryDirectory(prefix="tap-airbyte-")
        argv = [*self.settings.command, self.command]
        for option, data in self._files.items():  # config first, as the Airbyte commands list them
            path = Path(self._dir.name) / f"{option}.json"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # the config holds secrets
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            argv += [f"--{option}", str(path)]
        env = {**os.environ, **self.settings.env}
        log.debug("starting %s", " ".join(argv))
        try:
            self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, env=env, bufsize=1 << 16)
        except OSError as exc:
            self._cleanup()
            raise ConfigError(f"cannot start the Airbyte source {self.settings.executable}: {exc}") from exc
        assert self._proc.stderr is not None
        self._stderr = threading.Thread(target=self._relay, args=(self._proc.stderr,), daemon=True,
                                        name=f"{self.name}-stderr")
        self._stderr.start()
        return self

    def _relay(self, stream: IO[bytes]) -> None:
        """The source's stderr, a log line per line (through the redacting handlers), to its end."""
        with stream:
            for line in stream:
                if line.strip():
                    log.warning("%s (stderr): %s", self.name, line.decode(errors="replace").rstrip())

    def _stderr_done(self) -> None:
        """Wait for the last stderr lines (a grandchild holding the pipe open is not waited for)."""
        if self._stderr is not None:
            self._stderr.join(_STDERR_GRACE)

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        try:
            self.stop()
        finally:
            self._cleanup()

    @property
    def stdout(self) -> IO[bytes]:
        assert self._proc is not None and self._proc.stdout is not None, "the source is not started"
        return self._proc.stdout

    def messages(self) -> Iterator[AirbyteMessage]:
        """Every Airbyte message the source writes, in order; other lines are logged and skipped."""
        n = self.line_number
        for line in self.stdout:
            n += 1
            try:
                message = decode_line(line)
            except DecodeError as exc:
                self.line_number = n
                kind = _data_kind(line)
                if kind is not None:  # not to be skipped: it would be lost
                    raise ProtocolError(f"a {kind} message of the Airbyte source {self.name} that cannot be read: "
                                        f"{exc}", line=n) from exc
                self.skipped_lines.append(n)
                if line.strip():
                    text = line.decode(errors="replace").strip()
                    log.info("%s: %s", self.name, text[:_NOT_A_MESSAGE_SHOWN])
                continue
            self.line_number = n
            yield message
        self.line_number = n

    def wait(self) -> int:
        """The source's exit code, once its stdout is read to the end."""
        assert self._proc is not None
        self.stdout.close()
        code = self._proc.wait()
        self._stderr_done()
        return code

    def stop(self) -> None:
        """End the source if it still runs: SIGTERM, then SIGKILL after ``stop_timeout``."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(self.settings.stop_timeout)
            except subprocess.TimeoutExpired:
                log.warning("%s did not exit %ss after SIGTERM; killing it", self.name, self.settings.stop_timeout)
                proc.kill()
                proc.wait()
        self._stderr_done()

    def _cleanup(self) -> None:
        if self._proc is not None and self._proc.stdout is not None:
            self._proc.stdout.close()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def failed(self, code: int) -> FatalSourceError:
        """The error of a source that ended with ``code`` (not 0) without saying why."""
        return FatalSourceError(f"the Airbyte source {self.name} {describe_exit(code)} during `{self.command}`"
                                f" (line {self.line_number} of its output was the last)")
