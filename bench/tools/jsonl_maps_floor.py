#!/usr/bin/env python3
"""The floor of a JSONL target applying the bench's map set, in one Python process.

    jsonl_maps_floor.py --config CONFIG     (reads destination_path from it)

For each RECORD line: ``orjson.loads``, the filter ``id > 0``, ``sha256`` of ``name`` and of
``email``, ``note_len = len(note or '')``, the alias ``orders``, ``orjson.dumps``; appended to
``<destination_path>/orders.jsonl``. STATE lines are echoed on stdout. No validation, no
checks, no exactness, no error handling: what any Python target must at least do to apply these
maps (bench/cmp_maps_connectors.py puts it beside target-jsonl with and without them).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import orjson

PREFIX = b'{"type":"RECORD"'


def main() -> None:
    config = json.loads(Path(sys.argv[sys.argv.index("--config") + 1]).read_text())
    out_dir = Path(config["destination_path"])
    out_dir.mkdir(parents=True, exist_ok=True)
    loads, dumps, sha256 = orjson.loads, orjson.dumps, hashlib.sha256
    parts: list[bytes] = []
    with (out_dir / "orders.jsonl").open("ab") as sink:
        for line in sys.stdin.buffer:
            if not line.startswith(PREFIX):
                if b'"STATE"' in line:
                    sink.write(b"".join(parts))
                    parts.clear()
                    sys.stdout.buffer.write(line)
                continue
            record = loads(line)["record"]
            if not record["id"] > 0:
                continue
            record["name"] = sha256(record["name"].encode()).hexdigest()
            record["email"] = sha256(record["email"].encode()).hexdigest()
            record["note_len"] = len(record["note"] or "")
            parts.append(dumps(record) + b"\n")
            if len(parts) >= 1000:
                sink.write(b"".join(parts))
                parts.clear()
        sink.write(b"".join(parts))
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
