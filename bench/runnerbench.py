"""Inputs of the runner comparisons: tool launchers, a sluice project, a Meltano project, shell pipes.

The two bench tools (tools/cat_tap.py, tools/count_target.py) get launchers in
bench/.data/tools/: ``exec <this python> -S <script> "$@"``, so every side (sluice, Meltano, a
shell pipe) starts them the same way, in ~20 ms, without a pyenv shim in between.

Each pipeline is written afresh before every run (its paths point into that run's output
directory). The project directories themselves persist under bench/.data/, so the runner's
``--about`` cache and Meltano's system database are warm after the first (warm-up) run.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
from datagen import DATA_DIR, Dataset

__all__ = ["MELTANO_ENV", "meltano_argv", "meltano_setup", "shell_pipe_argv", "sluice_argv", "tool"]

BENCH = Path(__file__).resolve().parent
TOOLS = DATA_DIR / "tools"
PROJECTS = DATA_DIR / "projects"
MELTANO_PROJECT = DATA_DIR / "meltano-project"
MELTANO_ENV = {"MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false", "MELTANO_DISABLE_TRACKING": "true"}


def tool(name: str) -> Path:
    """The launcher of bench/tools/<name>.py (``cat_tap`` or ``count_target``), written once."""
    TOOLS.mkdir(parents=True, exist_ok=True)
    launcher = TOOLS / name.replace("_", "-")
    script = BENCH / "tools" / f"{name}.py"
    # the tool's own mtime in the text: a changed tool rewrites the launcher, whose mtime the runner's
    # --about cache goes by (it cannot see through a shell script)
    body = (f'#!/bin/sh\n# {script.stat().st_mtime_ns}\n'
            f'exec {shlex.quote(sys.executable)} -S {shlex.quote(str(script))} "$@"\n')
    if not launcher.exists() or launcher.read_text() != body:
        launcher.write_text(body)
        launcher.chmod(0o755)
    return launcher


def _write_json(path: Path, data: dict[str, Any]) -> Path:
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    return path


def sluice_argv(bin_dir: Path, name: str, connectors: list[dict[str, Any]]) -> list[str]:
    """``sluice --project P run NAME --full-refresh`` for a two-connector project (JSON is YAML)."""
    home = PROJECTS / name
    home.mkdir(parents=True, exist_ok=True)
    project = {"version": 1, "connectors": connectors,
               "pipelines": [{"name": name, "tap": connectors[0]["name"], "target": connectors[1]["name"]}]}
    path = _write_json(home / "sluice.yml", project)
    return [str(bin_dir / "sluice"), "--project", str(path), "run", name, "--full-refresh"]


def shell_pipe_argv(work: Path, tap: str, tap_config: dict[str, Any], target: str,
                    target_config: dict[str, Any]) -> list[str]:
    """``sh -c 'TAP --config A | TARGET --config B'``: the pipe a user would type."""
    a = _write_json(work / "tap-config.json", tap_config)
    b = _write_json(work / "target-config.json", target_config)
    return ["sh", "-c", f"{shlex.quote(tap)} --config {shlex.quote(str(a))} | "
                        f"{shlex.quote(target)} --config {shlex.quote(str(b))}"]


def _meltano_yml(ds: Dataset, count_path: Path) -> dict[str, Any]:
    def plugin(name: str, setting: str, value: str) -> dict[str, Any]:
        return {"name": name, "namespace": name.replace("-", "_"), "executable": str(tool(name.replace("-", "_"))),
                "settings": [{"name": setting}], "config": {setting: value}}

    return {"version": 1, "project_id": "sluice-bench", "send_anonymous_usage_stats": False,
            "default_environment": "bench", "environments": [{"name": "bench"}],
            "plugins": {"extractors": [plugin("cat-tap", "path", str(ds.stream_path))],
                        "loaders": [plugin("count-target", "count_path", str(count_path))]}}


def meltano_setup(bin_dir: Path, ds: Dataset) -> None:
    """Create the throwaway Meltano project and ``meltano install`` it (both plugins have no pip_url)."""
    MELTANO_PROJECT.mkdir(parents=True, exist_ok=True)
    _write_json(MELTANO_PROJECT / "meltano.yml", _meltano_yml(ds, MELTANO_PROJECT / "count.txt"))
    done = subprocess.run([str(bin_dir / "meltano"), "install"], cwd=MELTANO_PROJECT, capture_output=True, text=True,
                          env={**os.environ, **MELTANO_ENV}, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"meltano install failed: {done.stderr.strip().splitlines()[-1:]}")


def meltano_argv(bin_dir: Path, out: Path, ds: Dataset) -> list[str]:
    """``meltano --cwd PROJECT run --full-refresh cat-tap count-target``, counting into ``out``."""
    _write_json(MELTANO_PROJECT / "meltano.yml", _meltano_yml(ds, out / "count.txt"))
    return [str(bin_dir / "meltano"), "--cwd", str(MELTANO_PROJECT), "run", "--full-refresh", "cat-tap",
            "count-target"]
