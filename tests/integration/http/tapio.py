"""Running an HTTP tap as a real subprocess and reading what it wrote."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from protocol import MessageReader
from tests.conftest import exe, run


class Result:
    def __init__(self, proc: Any) -> None:
        self.code: int = proc.returncode
        self.stdout: bytes = proc.stdout
        self.stderr: str = proc.stderr.decode()

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines()]

    def records(self, stream: str) -> list[dict[str, Any]]:
        return [m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream]

    def schema(self, stream: str) -> dict[str, Any]:
        return next(m for m in self.messages if m["type"] == "SCHEMA" and m["stream"] == stream)

    @property
    def state(self) -> dict[str, Any]:
        return [m for m in self.messages if m["type"] == "STATE"][-1]["value"]

    @property
    def errors(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if "| ERROR" in line or "Traceback" in line]

    def validate(self) -> None:
        """Every stdout line is a Singer message and every record matches its schema (the strict reader)."""
        assert sum(1 for _ in MessageReader(io.BytesIO(self.stdout))) == len(self.stdout.splitlines())


def tap(name: str, tmp_path: Path, config: dict[str, Any], *args: str, state: dict[str, Any] | None = None,
        catalog: dict[str, Any] | None = None, ok: bool = True) -> Result:
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    argv = [exe(name), "--config", str(config_file), *args]
    if state is not None:
        (tmp_path / "state.json").write_text(json.dumps(state))
        argv += ["--state", str(tmp_path / "state.json")]
    if catalog is not None:
        (tmp_path / "catalog.json").write_text(json.dumps(catalog))
        argv += ["--catalog", str(tmp_path / "catalog.json")]
    result = Result(run(argv, timeout=60))
    if ok:
        assert result.code == 0, result.stderr
        assert "Traceback" not in result.stderr
    return result


def select(discovered: dict[str, Any], *streams: str) -> dict[str, Any]:
    """The discovered catalog with only these streams."""
    return {"streams": [s for s in discovered["streams"] if s["tap_stream_id"] in streams]}
