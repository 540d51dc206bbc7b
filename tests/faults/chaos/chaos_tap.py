"""A Singer tap for the chaos suite (stdlib only): a keyed and a keyless stream, known exactly.

Stream ``keyed`` (key ``id``) and stream ``events`` (no key properties) each hold ``rows``
distinct rows, interleaved. A STATE with both bookmarks follows every ``state_every``
positions and the end. Every ``pause_every`` positions the tap flushes and sleeps ``sleep``
seconds, so that a run lasts long enough to be killed anywhere between two STATEs, not
only just after one. ``--state`` resumes after the bookmarks.

The rows come from :func:`source_row`, which the tests also use as their oracle, and which
the tap-csv trials write into CSV files.
"""

import argparse
import hashlib
import json
import sys
import time

STREAMS = {"keyed": ["id"], "events": []}
SCHEMAS = {
    "keyed": {"type": "object", "properties": {"id": {"type": "integer"}, "label": {"type": "string"},
                                               "qty": {"type": "integer"}}},
    "events": {"type": "object", "properties": {"seq": {"type": "integer"}, "label": {"type": "string"},
                                                "qty": {"type": "integer"}}},
}
SETTINGS = {"type": "object", "properties": {"rows": {"type": "integer"}, "state_every": {"type": "integer"},
                                             "pause_every": {"type": "integer"}, "sleep": {"type": "number"}}}


def source_row(stream, i):
    """Row number i (from 1) of a stream: distinct, with text a CSV writer must quote."""
    tag = hashlib.md5(f"{stream}:{i}".encode()).hexdigest()[:8]
    if stream == "keyed":
        return {"id": i, "label": f"k{i:05d} café, \"q\" {tag}", "qty": (i * 7919) % 100003}
    return {"seq": i, "label": f"e{i:05d} ü;|{tag}", "qty": (i * i) % 99991}


def _bookmarks(position):
    pointer = {"keyed": "id", "events": "seq"}
    return {"bookmarks": {s: {"replication_key": pointer[s], "replication_key_value": position} for s in STREAMS}}


def _emit(out, message):
    out.write(json.dumps(message) + "\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", action="append", default=[])
    parser.add_argument("--about", action="store_true")
    parser.add_argument("--format")
    parser.add_argument("--state")
    args = parser.parse_args()
    if args.about:
        print(json.dumps({"name": "chaos-tap", "capabilities": ["state"], "settings": SETTINGS}))
        return 0
    config = {}
    for path in args.config:
        with open(path) as fh:
            config.update(json.load(fh))
    start = 0
    if args.state:
        with open(args.state) as fh:
            marks = json.load(fh).get("bookmarks", {})
        # both streams move together; resume after the smaller bookmark
        start = min(int(marks.get(s, {}).get("replication_key_value") or 0) for s in STREAMS)
        sys.stderr.write(f"chaos-tap | INFO | resuming after position {start}\n")
    total, every = int(config.get("rows", 100)), int(config.get("state_every", 10))
    pause, sleep = int(config.get("pause_every", 0)), float(config.get("sleep", 0))
    out = sys.stdout
    for stream, keys in STREAMS.items():
        _emit(out, {"type": "SCHEMA", "stream": stream, "schema": SCHEMAS[stream], "key_properties": keys})
    for i in range(start + 1, total + 1):
        for stream in STREAMS:
            _emit(out, {"type": "RECORD", "stream": stream, "record": source_row(stream, i)})
        if every and i % every == 0 and i < total:
            _emit(out, {"type": "STATE", "value": _bookmarks(i)})
        if pause and i % pause == 0:
            out.flush()
            time.sleep(sleep)
    _emit(out, {"type": "STATE", "value": _bookmarks(max(total, start))})
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
