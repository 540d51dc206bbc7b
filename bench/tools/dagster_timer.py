"""Run inside the Dagster bench venv by bench/dagsterbench.py; prints one JSON object on stdout.

    python dagster_timer.py PROJECT REPEAT

Loads the project's definitions once (timed), materializes every asset once unmeasured (the
runner's --about cache, Dagster's first-run imports), then for REPEAT rounds, per pipeline,
alternately: ``sluice run PIPELINE --full-refresh`` as a subprocess, and ``materialize([asset])``
on an ephemeral instance (the asset runs the same command): both wall times, from this process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg

from runner.orchestrators.dagster import definitions_from_project


def main(project: str, repeat: int) -> None:
    started = time.perf_counter()
    defs = definitions_from_project(project, run_args=["--full-refresh"])
    load_s = time.perf_counter() - started
    assets = {str(a.metadata_by_key[a.key]["sluice/pipeline"]): a for a in defs.assets or []}
    sluice = [str(Path(sys.executable).parent / "sluice"), "--project", project, "run"]
    instance = dg.DagsterInstance.ephemeral()
    for asset in assets.values():
        if not dg.materialize([asset], instance=instance).success:
            raise SystemExit(f"warm-up materialization of {asset.key.to_user_string()} failed")
    figures: dict[str, dict[str, list[float]]] = {name: {"sluice": [], "dagster": []} for name in assets}
    for _ in range(repeat):
        for name, asset in assets.items():
            t0 = time.perf_counter()
            subprocess.run([*sluice, name, "--full-refresh"], check=True, capture_output=True)
            t1 = time.perf_counter()
            ok = dg.materialize([asset], instance=instance).success
            t2 = time.perf_counter()
            if not ok:
                raise SystemExit(f"materialization of {name} failed")
            figures[name]["sluice"].append(t1 - t0)
            figures[name]["dagster"].append(t2 - t1)
    sys.stdout.write(json.dumps({"load_s": load_s, "figures": figures}) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
