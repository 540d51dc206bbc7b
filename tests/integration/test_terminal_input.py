"""A target or mapper started by hand with its stdin on a terminal says what it is waiting for,
instead of waiting in silence; given --input FILE (or a pipe) it says nothing of the kind."""

from __future__ import annotations

import json
import os
import pty
import subprocess
from pathlib import Path

import pytest

from tests.conftest import exe

HINT = "reading Singer messages from the terminal (stdin); pipe a tap into it or pass --input FILE"
PROGRAMS = ["target-jsonl", "target-csv", "mapper-sluice"]


def _on_a_terminal(args: list[str], cwd: Path) -> tuple[int, str]:
    """Run ``args`` with stdin on a pseudo-terminal where the user types Ctrl-D (the end of the input)."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(args, cwd=cwd, stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        os.close(slave)
        os.write(master, b"\x04")
        _, err = proc.communicate(timeout=60)
    finally:
        os.close(master)
    return proc.returncode, err.decode()


@pytest.mark.parametrize("program", PROGRAMS)
def test_reading_a_terminal_is_said_once(program: str, tmp_path: Path) -> None:
    code, err = _on_a_terminal([exe(program)], tmp_path)
    assert code == 0, err
    assert [line.split(" | ")[-1] for line in err.splitlines() if HINT in line] == [HINT]


@pytest.mark.parametrize("program", PROGRAMS)
def test_input_from_a_file_or_a_pipe_is_read_without_a_word(program: str, tmp_path: Path) -> None:
    messages = tmp_path / "in.singer"
    messages.write_text(json.dumps({"type": "STATE", "value": {"bookmarks": {}}}) + "\n")
    code, err = _on_a_terminal([exe(program), "--input", str(messages)], tmp_path)
    assert code == 0, err
    piped = subprocess.run([exe(program)], cwd=tmp_path, input=messages.read_bytes(), capture_output=True,
                           timeout=60, check=False)
    assert piped.returncode == 0, piped.stderr
    assert HINT not in err and HINT not in piped.stderr.decode()
