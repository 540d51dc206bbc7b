#!/usr/bin/env python3
"""The HTTP floor: a bare ``requests`` loop over the same pages the taps read, nothing else.

    http_floor.py offset URL PAGE_SIZE RECORDS_KEY      GET URL?offset=K&limit=PAGE_SIZE until a short page
    http_floor.py link URL PAGE_SIZE [TOKEN]            GET URL?per_page=PAGE_SIZE, then each rel="next" Link

One keep-alive session; each body is parsed with orjson (to count its records). The count is
written to stderr as a Singer ``record_count`` METRIC line, so the taps' output check counts it too.
This is the fake API's ceiling as seen by a Python client: a tap cannot page faster than this.
"""

from __future__ import annotations

import sys

import orjson
import requests


def _offset(session: requests.Session, url: str, size: int, key: str) -> int:
    total = offset = 0
    while True:
        response = session.get(url, params={"offset": offset, "limit": size}, timeout=30)
        response.raise_for_status()
        rows = orjson.loads(response.content)[key]
        total += len(rows)
        offset += size
        if len(rows) < size:
            return total


def _link(session: requests.Session, url: str, size: int) -> int:
    total = 0
    next_url: str | None = f"{url}?per_page={size}"
    while next_url:
        response = session.get(next_url, timeout=30)
        response.raise_for_status()
        total += len(orjson.loads(response.content))
        next_url = response.links.get("next", {}).get("url")
    return total


def main(argv: list[str]) -> int:
    style, url, size = argv[0], argv[1], int(argv[2])
    with requests.Session() as session:
        if style == "offset":
            count = _offset(session, url, size, argv[3])
        else:
            if len(argv) > 3:
                session.headers["Authorization"] = f"token {argv[3]}"
            count = _link(session, url, size)
    point = {"type": "counter", "metric": "record_count", "value": count, "tags": {"stream": "floor"}}
    sys.stderr.write(f"METRIC: {orjson.dumps(point).decode()}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
