"""Running an HTTP tap as a real subprocess and reading what it wrote."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from protocol import MessageReader
from tests.tapio import TapResult, run_tap


class Result(TapResult):
    def validate(self) -> None:
        """Every stdout line is a Singer message and every record matches its schema (the strict reader)."""
        assert sum(1 for _ in MessageReader(io.BytesIO(self.stdout))) == len(self.stdout.splitlines())


def tap(name: str, tmp_path: Path, config: dict[str, Any], *args: str, state: dict[str, Any] | None = None,
        catalog: dict[str, Any] | None = None, ok: bool = True) -> Result:
    return run_tap(name, tmp_path, config, *args, result=Result, state=state, catalog=catalog, ok=ok, timeout=60)


def select(discovered: dict[str, Any], *streams: str) -> dict[str, Any]:
    """The discovered catalog with only these streams."""
    return {"streams": [s for s in discovered["streams"] if s["tap_stream_id"] in streams]}
