"""What the fixture Airbyte sources share: their command line and two streams. Standard library only.

A fixture source is run as ``python SCRIPT COMMAND --config FILE [--catalog FILE] [--state FILE]``,
the way any Airbyte source program is. ``read`` copies the catalog and state files it is given
into the config's ``record_dir`` (when set), so a test can compare them byte for byte.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

SPEC = {"connectionSpecification": {
    "type": "object", "required": ["records"],
    "properties": {"records": {"type": "integer", "description": "Records per stream"},
                   "api_key": {"type": "string", "airbyte_secret": True, "description": "Unused key"},
                   "account_sid": {"type": "string", "airbyte_secret": True, "description": "A secret named plainly"},
                   "record_dir": {"type": "string"},
                   "extra_streams": {"type": "array", "description": "Streams discover offers besides STREAMS"}}}}

STREAMS = [
    {"name": "orders", "json_schema": {"type": "object", "properties": {
        "id": {"type": "integer"}, "updated": {"type": "integer"}, "note": {"type": "string"}}},
     "supported_sync_modes": ["full_refresh", "incremental"], "source_defined_cursor": True,
     "default_cursor_field": ["updated"], "source_defined_primary_key": [["id"]]},
    {"name": "events", "namespace": "app", "json_schema": {"type": "object", "properties": {
        "seq": {"type": "integer"}, "kind": {"type": ["null", "string"]}}},
     "supported_sync_modes": ["full_refresh"]},
]


def emit(message: dict[str, Any], *, spaced: bool = False) -> None:
    text = json.dumps(message) if spaced else json.dumps(message, separators=(",", ":"))
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def record(stream: str, data: dict[str, Any], namespace: str | None = None) -> None:
    body: dict[str, Any] = {"stream": stream, "data": data, "emitted_at": 1700000000000}
    if namespace:
        body["namespace"] = namespace
    emit({"type": "RECORD", "record": body})


def log(level: str, message: str) -> None:
    emit({"type": "LOG", "log": {"level": level, "message": message}})


def main(read: Callable[[dict[str, Any], dict[str, Any], Any], None]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["spec", "check", "discover", "read"])
    parser.add_argument("--config")
    parser.add_argument("--catalog")
    parser.add_argument("--state")
    args = parser.parse_args()
    if args.command == "spec":
        emit({"type": "SPEC", "spec": SPEC})
        return
    config = json.loads(Path(args.config).read_text())
    if args.command == "check":
        ok = isinstance(config.get("records"), int)
        emit({"type": "CONNECTION_STATUS", "connectionStatus": {
            "status": "SUCCEEDED" if ok else "FAILED", "message": None if ok else "'records' must be\nan integer"}})
        return
    if args.command == "discover":
        emit({"type": "CATALOG", "catalog": {"streams": STREAMS + config.get("extra_streams", [])}})
        return
    record_dir = config.get("record_dir")
    if record_dir:
        for name, path in (("config", args.config), ("catalog", args.catalog), ("state", args.state)):
            if path:
                shutil.copyfile(path, Path(record_dir) / f"given_{name}.json")
    catalog = json.loads(Path(args.catalog).read_text())
    state = json.loads(Path(args.state).read_text()) if args.state else None
    read(config, catalog, state)
