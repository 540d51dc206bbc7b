#!/usr/bin/env python3
"""A Singer tap that copies a file of Singer messages to stdout: the cheapest possible tap.

    cat_tap.py --config CONFIG      CONFIG: {"path": "stream.singer"}

Used to measure a runner's own throughput ceiling; stdlib only, so it starts in ~20 ms.
"""

from __future__ import annotations

import os
import sys

from _singer_cli import parse

CHUNK = 1 << 20


def main() -> int:
    config = parse("cat-tap", "Copies a file of Singer messages to stdout.",
                   {"path": {"type": "string", "description": "The file to copy."}}, tap=True)
    if config is None:
        return 0
    out = sys.stdout.buffer
    with open(config["path"], "rb") as fh:
        while chunk := fh.read(CHUNK):
            out.write(chunk)
    out.flush()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
