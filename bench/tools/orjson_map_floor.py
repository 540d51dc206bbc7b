#!/usr/bin/env python3
"""The floor of a Singer mapper: read each line, ``orjson.loads``, ``orjson.dumps``, write. Nothing else.

    orjson_map_floor.py --config CONFIG     (the config is ignored: the same argv as a mapper)

stdin to stdout, buffered; no validation, no mapping. What any mapper in Python must at least do.
"""

from __future__ import annotations

import sys

import orjson


def main() -> None:
    loads, dumps = orjson.loads, orjson.dumps
    out = sys.stdout.buffer
    parts: list[bytes] = []
    size = 0
    for line in sys.stdin.buffer:
        data = dumps(loads(line)) + b"\n"
        parts.append(data)
        size += len(data)
        if size >= 1 << 18:
            out.write(b"".join(parts))
            parts.clear()
            size = 0
    out.write(b"".join(parts))
    out.flush()


if __name__ == "__main__":
    main()
