#!/usr/bin/env python3
"""A Singer tap that emits ``records`` records evenly over about ``seconds`` seconds, in batches.

    paced_tap.py --config CONFIG      CONFIG: {"records": 200000, "seconds": 8, "batch": 1000}

After each batch it logs a METRIC ``record_count`` line on stderr (as our taps do about every
second), so a runner's live progress has something to show; a STATE closes the stream. Used by
bench/uibench.py to run the same pipeline for the same time with and without the live view.
"""

from __future__ import annotations

import json
import os
import sys
import time

from _singer_cli import parse


def main() -> int:
    config = parse("paced-tap", "Emits records evenly over a given time.", {
        "records": {"type": "integer"}, "seconds": {"type": "number"}, "batch": {"type": "integer"}}, tap=True)
    if config is None:
        return 0
    total, seconds = int(config.get("records", 200_000)), float(config.get("seconds", 8.0))
    batch = max(1, int(config.get("batch", 1000)))
    out = sys.stdout
    out.write(json.dumps({"type": "SCHEMA", "stream": "paced", "key_properties": ["id"],
                          "schema": {"type": "object", "properties": {"id": {"type": "integer"}}}}) + "\n")
    started, sent = time.monotonic(), 0
    while sent < total:
        n = min(batch, total - sent)
        out.write("".join(f'{{"type":"RECORD","stream":"paced","record":{{"id":{sent + k + 1}}}}}\n' for k in range(n)))
        out.flush()
        sent += n
        point = {"type": "counter", "metric": "record_count", "value": n, "tags": {"stream": "paced"}}
        sys.stderr.write(f"INFO METRIC: {json.dumps(point)}\n")
        sys.stderr.flush()
        ahead = started + seconds * sent / total - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
    out.write(json.dumps({"type": "STATE", "value": {"bookmarks": {"paced": {"id": sent}}}}) + "\n")
    out.flush()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
