"""A source that dies mid-stream: records, a STATE, more records, then SIGKILL on itself (or, with
``"death": "exit"``, exit code 3), without a word; with ``"death": "cut"`` a RECORD line cut short
and exit code 0."""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from airbyte_fixture import emit, main, record


def read(config: dict[str, Any], catalog: dict[str, Any], state: Any) -> None:
    for i in range(1, config["records"] + 1):
        record("orders", {"id": i, "updated": i, "note": "x"})
    emit({"type": "STATE", "state": {"type": "STREAM", "stream": {
        "stream_descriptor": {"name": "orders"}, "stream_state": {"updated": config["records"]}}}})
    for i in range(config["records"] + 1, config["records"] + 4):
        record("orders", {"id": i, "updated": i, "note": "not covered by a state"})
    if config.get("death") == "exit":
        sys.exit(3)
    if config.get("death") == "cut":  # a RECORD cut short, then a clean exit
        sys.stdout.write('{"type": "RECORD", "record": {"stream": "orders", "data": {"id": 9\n')
        sys.stdout.flush()
        sys.exit(0)
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    main(read)
