"""The few Singer CLI flags the two bench tools answer: --config, --about, --state, --catalog."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def parse(name: str, description: str, settings: dict[str, Any], *, tap: bool) -> dict[str, Any] | None:
    """The merged config, or None after ``--about`` was answered on stdout."""
    parser = argparse.ArgumentParser(prog=name, description=description)
    parser.add_argument("--config", action="append", default=[])
    parser.add_argument("--about", action="store_true")
    parser.add_argument("--format", default="json")
    if tap:
        parser.add_argument("--state")
        parser.add_argument("--catalog")
        parser.add_argument("--properties")
        parser.add_argument("--discover", action="store_true")
    args = parser.parse_args()
    if args.about:
        # a tap says it is one (the runner refuses a program whose --about lists no tap capability)
        capabilities = ["about", "catalog", "discover", "state"] if tap else ["about"]
        about = {"name": name, "description": description, "capabilities": capabilities,
                 "settings": {"type": "object", "properties": settings}}
        sys.stdout.write(json.dumps(about) + "\n")
        return None
    if tap and args.discover:
        sys.stdout.write(json.dumps({"streams": []}) + "\n")
        return None
    config: dict[str, Any] = {}
    for path in args.config:
        with open(path, encoding="utf-8") as fh:
            config.update(json.load(fh))
    return config
