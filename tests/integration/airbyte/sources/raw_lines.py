"""A source whose ``read`` writes the config's ``lines`` to stdout as they are (each a line of hex, so
that a test can write bytes that are not UTF-8), then exits 0: a source writing broken messages."""

from __future__ import annotations

import sys
from typing import Any

from airbyte_fixture import main


def read(config: dict[str, Any], catalog: dict[str, Any], state: Any) -> None:
    for line in config["lines"]:
        sys.stdout.buffer.write(bytes.fromhex(line) + b"\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main(read)
