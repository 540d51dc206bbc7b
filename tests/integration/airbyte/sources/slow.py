"""A source that writes records and a STATE, then waits (a long read): the test stops tap-airbyte
meanwhile. Its pid goes to ``record_dir``/pid, so the test can see it was stopped too."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from airbyte_fixture import emit, main, record


def read(config: dict[str, Any], catalog: dict[str, Any], state: Any) -> None:
    Path(config["record_dir"], "pid").write_text(str(os.getpid()))
    for i in range(1, config["records"] + 1):
        record("orders", {"id": i, "updated": i, "note": "x"})
    emit({"type": "STATE", "state": {"type": "STREAM", "stream": {
        "stream_descriptor": {"name": "orders"}, "stream_state": {"updated": config["records"]}}}})
    time.sleep(120)


if __name__ == "__main__":
    main(read)
