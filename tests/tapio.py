"""Running a tap as a real subprocess and reading what it wrote (shared by the tap tests)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from tests.conftest import exe, run


class TapResult:
    """A finished tap run. ``exact_numbers``: JSON numbers are read as Decimal (exactly as written)."""

    exact_numbers = False

    def __init__(self, proc: Any) -> None:
        self.code: int = proc.returncode
        self.stdout: bytes = proc.stdout
        self.stderr: str = proc.stderr.decode()

    @property
    def messages(self) -> list[dict[str, Any]]:
        parse_float = Decimal if self.exact_numbers else None
        return [json.loads(line, parse_float=parse_float) for line in self.stdout.splitlines()]

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


R = TypeVar("R", bound=TapResult)


def run_tap(name: str, tmp_path: Path, config: dict[str, Any], *args: str, result: type[R],
            state: dict[str, Any] | None = None, catalog: dict[str, Any] | None = None, ok: bool = True,
            timeout: float = 120) -> R:
    """Run ``name --config`` (with ``--state``/``--catalog`` files when given); with ``ok``, assert a clean exit."""
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    argv = [exe(name), "--config", str(config_file), *args]
    if state is not None:
        (tmp_path / "state.json").write_text(json.dumps(state))
        argv += ["--state", str(tmp_path / "state.json")]
    if catalog is not None:
        (tmp_path / "catalog.json").write_text(json.dumps(catalog))
        argv += ["--catalog", str(tmp_path / "catalog.json")]
    done = result(run(argv, timeout=timeout))
    if ok:
        assert done.code == 0, done.stderr
        assert "Traceback" not in done.stderr
    return done
