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
    sys.stdout.flush()
    out = sys.stdout.fileno()
    with open(config["path"], "rb") as fh:
        size, sent = os.fstat(fh.fileno()).st_size, 0
        try:  # in the kernel, no copy through this process
            while sent < size and (n := os.sendfile(out, fh.fileno(), sent, CHUNK)):
                sent += n
        except OSError:  # an stdout sendfile cannot write to: copy the rest
            fh.seek(sent)
            while chunk := fh.read(CHUNK):
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
