"""A reader's unread input, as the runner tells it at the reader's exit (runner/sides.py)."""

from __future__ import annotations

import os
import subprocess
import sys

from runner.sides import Side, SideSpec


def _reader(code: str, data: bytes) -> Side:
    """A real process reading ``data`` from a pipe as ``code`` does, the runner keeping a read end."""
    read, write = os.pipe2(os.O_CLOEXEC)
    side = Side(SideSpec("target", "t", [sys.executable, "-c", code], dict(os.environ)))
    assert side.spawn(read, subprocess.DEVNULL)
    side.input_fd = read
    os.write(write, data)
    os.close(write)  # the writer has finished: nothing breaks whatever the reader does
    assert side.proc is not None
    side.rc = side.proc.wait(timeout=30)
    side.close_streams()
    side.close_input()
    return side


def test_a_reader_that_exits_0_after_part_of_its_input_quit_early() -> None:
    side = _reader("import os; os.read(0, 10)", b"x" * 1000)
    assert side.rc == 0 and side.unread == 990 and side.quit_early
    assert side.input_fd is None
    assert side.quit_early_reason(Side(SideSpec("tap", "t", [], {}))).startswith(
        "exited (exit code 0) without reading all of its input: 990 bytes of the tap's output left unread")


def test_a_reader_that_reads_to_the_end_did_not() -> None:
    side = _reader("import sys; sys.stdin.buffer.read()", b"x" * 1000)
    assert side.rc == 0 and side.unread == 0 and not side.quit_early


def test_a_reader_that_fails_is_not_said_to_have_quit_early() -> None:
    side = _reader("import os, sys; os.read(0, 10); sys.exit(3)", b"x" * 1000)
    assert side.unread == 990 and not side.quit_early  # its failure is what the run reports
