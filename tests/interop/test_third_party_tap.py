"""A third-party singer-sdk tap from PyPI (tap-jsonl), in its own venv, under spec, check,
discover, select and run: the runner treats it exactly as it treats ours."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import IN_CI
from tests.integration.runner.helpers import sluice, sluice_env

pytestmark = pytest.mark.slow

PACKAGE = "tap-jsonl==0.3.1"  # reads local files only: works offline once installed


@pytest.fixture(scope="module")
def tap_jsonl(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = getattr(request.config, "cache", None)
    base = cache.mkdir("third-party-venvs") if cache is not None else tmp_path_factory.mktemp("venvs")
    venv = base / PACKAGE.replace("==", "-")
    program = venv / "bin" / "tap-jsonl"
    marker = venv / ".installed"
    if not marker.exists():
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        done = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", PACKAGE],
                              capture_output=True, timeout=1200, check=False)
        if done.returncode != 0:
            reason = f"cannot install {PACKAGE}: {done.stderr.decode()[-500:]}"
            if IN_CI:
                pytest.fail(reason)
            pytest.skip(reason)
        marker.touch()
    return program


@pytest.fixture
def project(tmp_path: Path, tap_jsonl: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.jsonl").write_text("".join(
        json.dumps({"id": i, "name": f"n{i}", "note": f"private {i}"}) + "\n" for i in range(1, 6)))
    (tmp_path / "sluice.yml").write_text(yaml.safe_dump({
        "connectors": [
            {"name": "tap-jsonl", "executable": str(tap_jsonl), "catalog": "catalogs/tap-jsonl.json",
             "config": {"path": str(data / "*.jsonl"), "stream_name": "items", "primary_keys": ["id"]}},
            {"name": "tap-jsonl-misconfigured", "executable": str(tap_jsonl), "config": {"stream_name": "items"}},
            {"name": "target-jsonl", "executable": "target-jsonl",
             "config": {"destination_path": str(tmp_path / "out")}},
        ],
        "pipelines": [{"name": "items", "tap": "tap-jsonl", "target": "target-jsonl"}],
    }))
    return tmp_path


def test_spec_gives_the_settings_schema(project: Path) -> None:
    done = sluice(["spec", "tap-jsonl"], project)
    assert done.returncode == 0, done.stderr
    schema = json.loads(done.stdout)
    assert schema["type"] == "object" and "path" in schema["properties"]


def test_check_passes_and_fails_with_the_connectors_message(project: Path) -> None:
    done = sluice(["check", "tap-jsonl"], project)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("tap-jsonl: ok:")
    done = sluice(["check", "tap-jsonl-misconfigured"], project)
    assert done.returncode == 1
    assert "check failed: singer_sdk.exceptions.ConfigValidationError: Config validation failed" in done.stderr


def test_discover_select_and_run_into_our_target(project: Path) -> None:
    done = sluice(["discover", "tap-jsonl", "-o", "catalogs/tap-jsonl.json"], project)
    assert done.returncode == 0, done.stderr
    catalog = json.loads((project / "catalogs" / "tap-jsonl.json").read_text())
    assert [s["tap_stream_id"] for s in catalog["streams"]] == ["items"]
    done = sluice(["select", "tap-jsonl", "items.*", "!items.note"], project)
    assert done.returncode == 0, done.stderr
    assert "  items.note [excluded]" in done.stdout

    done = sluice(["run", "items"], project)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in (project / "out" / "items.jsonl").read_text().splitlines()]
    assert sorted(r["id"] for r in rows) == [1, 2, 3, 4, 5]
    assert all("note" not in r and r["name"] == f"n{r['id']}" for r in rows)
    row = next(line for line in done.stderr.splitlines() if line.strip().startswith("sluice |   items"))
    assert row.split()[-2:] == ["5", "5"]  # the SDK tap's METRIC lines and ours agree

    stored = json.loads(sluice(["state", "get", "items"], project).stdout)
    bookmark = stored["bookmarks"]["items"]["replication_key_value"]
    again = sluice(["run", "items"], project)
    assert again.returncode == 0, again.stderr
    assert "resuming from the stored state" in again.stderr
    assert bookmark in again.stderr  # the SDK tap logs the bookmark it was given with --state


def test_spec_check_and_discover_outside_a_project_by_program_name(tmp_path: Path, tap_jsonl: Path) -> None:
    """No sluice.yml: the tap named as a program on PATH, its config given with --config FILE."""
    (tmp_path / "a.jsonl").write_text(json.dumps({"id": 1, "name": "n1"}) + "\n")
    (tmp_path / "c.json").write_text(json.dumps({"path": str(tmp_path / "*.jsonl"), "stream_name": "items",
                                                 "primary_keys": ["id"]}))
    env = sluice_env(PATH=f"{tap_jsonl.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    done = sluice(["spec", "tap-jsonl"], tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert "path" in json.loads(done.stdout)["properties"]
    done = sluice(["check", "tap-jsonl", "--config", "c.json"], tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("tap-jsonl: ok:")
    done = sluice(["discover", "tap-jsonl", "--config", "c.json"], tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert [s["tap_stream_id"] for s in json.loads(done.stdout)["streams"]] == ["items"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl", "c.json"]  # no .sluice/ left behind
