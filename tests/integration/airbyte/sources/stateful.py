"""A source that checkpoints per stream (``orders``) and globally, written with blanks and
unicode as a Python program might write them, and logs at every level.

``orders`` resumes after the ``updated`` value of its last state; the global state counts runs.
"""

from __future__ import annotations

import sys
from typing import Any

from airbyte_fixture import emit, log, main, record


def _stream_state(state: Any, name: str) -> dict[str, Any]:
    for item in state if isinstance(state, list) else []:
        if item.get("type") == "STREAM" and item["stream"]["stream_descriptor"]["name"] == name:
            return dict(item["stream"]["stream_state"])
    return {}


def _global_runs(state: Any) -> int:
    for item in state if isinstance(state, list) else []:
        if item.get("type") == "GLOBAL":
            return int(item["global"]["shared_state"]["runs"])
    return 0


def read(config: dict[str, Any], catalog: dict[str, Any], state: Any) -> None:
    selected = {c["stream"]["name"] for c in catalog["streams"]}
    for level in ("TRACE", "DEBUG", "INFO", "WARN", "ERROR"):
        log(level, f"a {level} line")
    if "api_key" in config:  # a careless source: a request URL with its key, and its OAuth client in full
        log("INFO", f"GET https://api.example.test/v1/orders?api_key={config['api_key']}&mode={config.get('mode')}")
        log("WARN", f"refreshing the token with {config.get('credentials')}")
        log("INFO", f"account {config.get('account_sid')}")
        print(f"urllib3 retrying https://api.example.test/v1/orders?api_key={config['api_key']}", file=sys.stderr,
              flush=True)
    runs = _global_runs(state) + 1
    if "orders" in selected:
        start = _stream_state(state, "orders").get("updated", 0)
        for i in range(start + 1, start + config["records"] + 1):
            record("orders", {"id": i, "updated": i, "note": f"n\u00e9 {i}"})
            if i % 3 == 0:
                emit({"type": "STATE", "state": {"type": "STREAM", "stream": {
                    "stream_descriptor": {"name": "orders"}, "stream_state": {"updated": i, "ratio": 1.0}},
                    "sourceStats": {"recordCount": 3.0}}}, spaced=True)
        emit({"type": "STATE", "state": {"type": "STREAM", "stream": {
            "stream_descriptor": {"name": "orders"},
            "stream_state": {"updated": start + config["records"], "ratio": 1.0, "label": "\u00e9t\u00e9"}}}},
            spaced=True)
    if "events" in selected:
        for seq in range(1, config["records"] + 1):
            record("events", {"seq": seq, "kind": None}, namespace="app")
    emit({"type": "TRACE", "trace": {"type": "STREAM_STATUS", "emitted_at": 1.0, "stream_status": {
        "stream_descriptor": {"name": "orders"}, "status": "COMPLETE"}}})
    emit({"type": "STATE", "state": {"type": "GLOBAL", "global": {
        "shared_state": {"runs": runs}, "stream_states": []}}})
    print("not an Airbyte message, as some sources print")


if __name__ == "__main__":
    main(read)
