"""Issue 15: the Dagster path against ``sluice run``, per pipeline (goal: at most 1 s more).

    .venv/bin/python bench/dagsterbench.py [--records N] [--pipelines K] [--repeat R] [--cli-repeat C]

K pipelines, each our tap-csv (the bench CSV of N records) into our target-jsonl, in one
sluice.yml under bench/.data/dagster/. Dagster runs from its own venv, bench/.venvs/dagster-sluice
(``uv``: this checkout, editable, with the ``dagster`` extra; made when missing). Inside it,
bench/tools/dagster_timer.py loads ``definitions_from_project`` once, warms every asset up once,
then for R rounds, per pipeline, alternately times ``sluice run P --full-refresh`` and
``dagster.materialize([asset])`` (which runs that same command). The overhead is the median of
the per-round differences. Also timed, for reference: ``dagster asset materialize -f
definitions.py --select ASSET`` from a shell, which pays Dagster's own start-up (several seconds)
on every call; that is the price of a CLI run, not of a step in a running Dagster.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import _bootstrap  # noqa: F401 - first: re-runs in the project venv if needed
import yaml
from datagen import DATA_DIR, dataset

ROOT = Path(__file__).resolve().parent.parent
HOME = DATA_DIR / "dagster"
VENV = ROOT / "bench" / ".venvs" / "dagster-sluice"
BIN = Path(sys.executable).parent
GOAL_S = 1.0


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def dagster_venv() -> Path:
    if not (VENV / "bin" / "dagster").exists():
        say(f"installing sluice[dagster] into {VENV}")
        subprocess.run([str(BIN / "uv"), "venv", "-q", str(VENV)], check=True)
        subprocess.run([str(BIN / "uv"), "pip", "install", "-q", "--python", str(VENV / "bin" / "python"),
                        f"-e{ROOT}[dagster]"], check=True)
    return VENV / "bin"


def write_project(records: int, pipelines: int) -> Path:
    ds = dataset(records, BIN / "tap-csv")
    config = json.loads(ds.tap_csv_config.read_text())
    shutil.rmtree(HOME, ignore_errors=True)
    HOME.mkdir(parents=True)
    connectors = [{"name": "tap-csv", "executable": str(BIN / "tap-csv"), "config": config}]
    names = [f"bench-{i}" for i in range(1, pipelines + 1)]
    for name in names:
        connectors.append({"name": f"jsonl-{name}", "executable": str(BIN / "target-jsonl"),
                           "config": {"destination_path": str(HOME / "out" / name), "do_timestamp_file": False}})
    project = {"connectors": connectors,
               "pipelines": [{"name": name, "tap": "tap-csv", "target": f"jsonl-{name}"} for name in names]}
    (HOME / "sluice.yml").write_text(yaml.safe_dump(project, sort_keys=False))
    (HOME / "definitions.py").write_text("from runner.orchestrators.dagster import definitions_from_project\n\n"
                                         "defs = definitions_from_project('sluice.yml', run_args=['--full-refresh'])\n")
    return HOME / "sluice.yml"


def cli_seconds(bin_dir: Path, asset: str, repeat: int) -> list[float]:
    env = {**os.environ, "DAGSTER_HOME": str(HOME / "dagster-home")}
    (HOME / "dagster-home").mkdir(exist_ok=True)
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run([str(bin_dir / "dagster"), "asset", "materialize", "-f", "definitions.py", "--select", asset],
                       cwd=HOME, env=env, check=True, capture_output=True)
        out.append(time.perf_counter() - started)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--pipelines", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cli-repeat", type=int, default=1, help="runs of the `dagster asset materialize` reference")
    args = parser.parse_args()
    bin_dir = dagster_venv()
    project = write_project(args.records, args.pipelines)
    say(f"timing {args.pipelines} pipelines x {args.repeat} rounds")
    done = subprocess.run([str(bin_dir / "python"), str(ROOT / "bench" / "tools" / "dagster_timer.py"), str(project),
                           str(args.repeat)], cwd=HOME, check=True, capture_output=True, text=True)
    timed = json.loads(done.stdout.strip().splitlines()[-1])
    cli = cli_seconds(bin_dir, "bench_1", args.cli_repeat)
    report(timed, cli, args)


def report(timed: dict[str, Any], cli: list[float], args: argparse.Namespace) -> None:
    print(f"tap-csv -> target-jsonl, {args.records:,} records per pipeline; median of {args.repeat} alternating "
          f"rounds; definitions loaded in {timed['load_s']:.2f} s\n")
    print("| pipeline | sluice run | Dagster materialize | overhead |")
    print("|---|---:|---:|---:|")
    worst = 0.0
    for name, fig in timed["figures"].items():
        s, d = statistics.median(fig["sluice"]), statistics.median(fig["dagster"])
        over = statistics.median(b - a for a, b in zip(fig["sluice"], fig["dagster"], strict=True))
        worst = max(worst, over)
        print(f"| {name} | {s:.2f} s | {d:.2f} s | {over:+.2f} s |")
    print(f"\n`dagster asset materialize --select bench_1` from a shell (Dagster start-up included): "
          f"{statistics.median(cli):.2f} s median")
    print(f"goal overhead <= {GOAL_S:g} s per pipeline: {'met' if worst <= GOAL_S else 'NOT met'} "
          f"(worst {worst:+.2f} s)")


if __name__ == "__main__":
    main()
