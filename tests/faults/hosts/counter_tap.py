"""A Singer tap for the many-hosts tests (stdlib only): every run moves the bookmark on by one.

It reads ``n`` from its state (0 without one), emits one record with id ``n + 1`` and then the
state ``{"n": n + 1}``. So a pipeline's stored ``n`` is the number of its runs that stored their
state: two runs at once, or an old run writing after a newer one, leave it short of that.
Config: sleep (seconds between the record and the state), started_file (a path written first).
"""

import argparse
import json
import sys
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", action="append", default=[])
    parser.add_argument("--about", action="store_true")
    parser.add_argument("--format")
    parser.add_argument("--state")
    parser.add_argument("--catalog")
    args = parser.parse_args()
    if args.about:
        settings = {"type": "object", "properties": {"sleep": {"type": "number"}, "started_file": {"type": "string"}}}
        print(json.dumps({"name": "counter-tap", "capabilities": ["state"], "settings": settings}))
        return 0
    config = {}
    for path in args.config:
        with open(path) as fh:
            config.update(json.load(fh))
    if config.get("started_file"):
        with open(config["started_file"], "w") as fh:
            fh.write("started\n")
    n = 0
    if args.state:
        with open(args.state) as fh:
            n = int(json.load(fh).get("n", 0))
    schema = {"type": "object", "properties": {"id": {"type": "integer"}}}
    out = sys.stdout
    out.write(json.dumps({"type": "SCHEMA", "stream": "n", "schema": schema, "key_properties": ["id"]}) + "\n")
    out.write(json.dumps({"type": "RECORD", "stream": "n", "record": {"id": n + 1}}) + "\n")
    out.flush()
    time.sleep(float(config.get("sleep", 0)))
    out.write(json.dumps({"type": "STATE", "value": {"n": n + 1}}) + "\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
