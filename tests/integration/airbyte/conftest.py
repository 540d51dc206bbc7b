"""Fixtures of tap-airbyte's tests: the real ``source-faker`` in a venv of its own, and helpers to run the tap.

``airbyte-source-faker`` (generated data, no network) is installed with ``uv`` into a venv cached
under $SLUICE_TEST_CACHE (or ~/.cache/sluice-tests), built once per machine: its pins (numpy < 2,
pydantic, the Airbyte CDK) stay out of ours. Without uv or the package index the faker tests are
skipped, except under CI=true, where they fail.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import exe, run
from tests.venvs import cached_venv

FAKER = "airbyte-source-faker==7.2.1"
SOURCES = Path(__file__).parent / "sources"


@pytest.fixture(scope="session")
def faker_exe() -> str:
    """The ``source-faker`` program of the cached venv (built on first use, a few seconds with uv's cache)."""
    return str(cached_venv("airbyte-faker", [FAKER], "source-faker"))


@pytest.fixture(autouse=True)
def _spec_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tap-airbyte caches each source's spec under $XDG_CACHE_HOME: one of the test session's own."""
    cache = tmp_path_factory.getbasetemp() / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    return cache


def fixture_config(script: str, **airbyte: Any) -> dict[str, Any]:
    """tap-airbyte's config running the fixture source ``script`` (under this interpreter)."""
    return {"executable": sys.executable, "executable_args": [str(SOURCES / script)], "airbyte_config": airbyte}


def tap(tmp_path: Path, config: dict[str, Any], *args: str, state: Any = None,
        catalog: dict[str, Any] | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run tap-airbyte with ``config`` (and a state value / catalog, when given)."""
    cfg = tmp_path / "tap.json"
    cfg.write_text(json.dumps(config))
    extra: list[str] = []
    if state is not None:
        (tmp_path / "state.json").write_text(json.dumps(state))
        extra += ["--state", str(tmp_path / "state.json")]
    if catalog is not None:
        (tmp_path / "catalog.json").write_text(json.dumps(catalog))
        extra += ["--catalog", str(tmp_path / "catalog.json")]
    return run([exe("tap-airbyte"), "--config", str(cfg), *extra, *args], timeout=180)


def messages(stdout: bytes) -> list[dict[str, Any]]:
    """Every stdout line, each of which must be a Singer message."""
    out = [json.loads(line) for line in stdout.splitlines()]
    assert all(m.get("type") in ("SCHEMA", "RECORD", "STATE") for m in out), stdout[:2000]
    return out


def records(out: list[dict[str, Any]], stream: str) -> list[dict[str, Any]]:
    return [m["record"] for m in out if m["type"] == "RECORD" and m["stream"] == stream]


def states(out: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m["value"] for m in out if m["type"] == "STATE"]
