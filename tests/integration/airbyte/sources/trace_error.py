"""A source that writes records and a STATE, then a TRACE error for ``orders`` and exits 1, as the
Airbyte CDK does. The config's ``failure_type`` is the error's (default ``system_error``)."""

from __future__ import annotations

import sys
from typing import Any

from airbyte_fixture import emit, main, record


def read(config: dict[str, Any], catalog: dict[str, Any], state: Any) -> None:
    for i in range(1, config["records"] + 1):
        record("orders", {"id": i, "updated": i, "note": "x"})
    emit({"type": "STATE", "state": {"type": "STREAM", "stream": {
        "stream_descriptor": {"name": "orders"}, "stream_state": {"updated": config["records"]}}}})
    record("orders", {"id": 999, "updated": 999, "note": "after the state"})
    emit({"type": "TRACE", "trace": {"type": "ERROR", "emitted_at": 1.0, "error": {
        "message": "The API answered 403 Forbidden\nfor /orders", "internal_message": "HTTPError 403",
        "failure_type": config.get("failure_type", "system_error"),
        "stream_descriptor": {"name": "orders"}}}})
    sys.exit(1)


if __name__ == "__main__":
    main(read)
