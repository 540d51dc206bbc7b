#!/usr/bin/env python3
"""A Singer target that only counts lines, then echoes the last STATE: the cheapest possible target.

    count_target.py --config CONFIG      CONFIG: {"count_path": "count.txt"} (optional)

Reads stdin in chunks of up to 1 MB into one buffer and counts newlines (no per-line parsing;
only a chunk that holds '"STATE"' is copied and searched for the line). At EOF it writes the
count to ``count_path`` and, if any STATE line came in, that line's value as one STATE message
on stdout, so a runner stores it as it would a real target's.
"""

from __future__ import annotations

import io
import json
import sys

from _singer_cli import parse

CHUNK = 1 << 20
MARK = b'"STATE"'


def _last_state(block: bytes) -> bytes | None:
    """The last complete line of ``block`` that is a STATE message."""
    end = len(block)
    while (hit := block.rfind(MARK, 0, end)) >= 0:
        start = block.rfind(b"\n", 0, hit) + 1
        stop = block.find(b"\n", hit)
        line = block[start:stop if stop >= 0 else len(block)]
        try:
            if json.loads(line).get("type") == "STATE":
                return line
        except (ValueError, AttributeError):
            pass
        end = start
    return None


def _count(stdin: io.FileIO) -> tuple[int, bytes | None]:
    """(newlines, the last STATE line) of everything ``stdin`` holds."""
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    lines = 0
    carry = b""  # the partial line after the last newline seen
    state: bytes | None = None
    while n := stdin.readinto(buf):
        lines += buf.count(b"\n", 0, n)
        cut = buf.rfind(b"\n", 0, n)
        if cut < 0:
            carry += view[:n]
            continue
        # a MARK before the last newline, or one begun in the carried partial line
        if buf.find(MARK, 0, cut) >= 0 or MARK in carry + view[:len(MARK)]:
            state = _last_state(carry + view[:cut]) or state
        carry = bytes(view[cut + 1:n])
    view.release()
    if carry:
        lines += 1
        if MARK in carry:
            state = _last_state(carry) or state
    return lines, state


def main() -> int:
    config = parse("count-target", "Counts the lines on stdin; echoes the last STATE.",
                   {"count_path": {"type": "string", "description": "Where to write the line count."}}, tap=False)
    if config is None:
        return 0
    with io.FileIO(sys.stdin.fileno(), "rb", closefd=False) as stdin:  # one read(2) per call, no extra copy
        lines, state = _count(stdin)
    if config.get("count_path"):
        with open(config["count_path"], "w", encoding="utf-8") as fh:
            fh.write(f"{lines}\n")
    sys.stderr.write(f"count-target: {lines} lines\n")
    if state is not None:
        value = json.loads(state)["value"]
        sys.stdout.write(json.dumps({"type": "STATE", "value": value}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
