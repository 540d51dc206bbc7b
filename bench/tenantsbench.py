"""Many small pipelines on one host: ``sluice run --all -j 4`` over 100 tenants of one pipeline.

Not run by the tests. ``python bench/tenantsbench.py [--tenants 100] [--jobs 4] [--pipes 10]``
prints two figures (issue 15, point 5):

1. **batch**: the wall time of ``sluice run --all -j J`` over N tenants (``for_each:``, each
   tap-csv with a 5-row CSV into target-jsonl in its own directory) against
   ``sum(each run's own time) / min(J, cores) + 2 s``, where a run's own time is the one its
   history row records (start to end, inside its runner). Goal: ratio <= 1.3.
2. **per pipeline**: the mean wall time of ``sluice run NAME@ID`` (one tenant, sequentially, K
   of them) minus that of the bare shell pipe ``tap-csv --config A | target-jsonl --config B``
   of the same two connectors and settings. Goal: <= 0.1 s.

Also printed, to show where the per-pipeline cost goes: the start of a bare ``python -m runner
--version`` (interpreter and imports) and the runner's own time per run from its history.
The project lives in a temporary directory (removed at the end); the ``--about`` cache and
the byte code of the modules are warmed by one run first.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _bootstrap  # noqa: F401  (re-runs under the project's .venv)

BIN = Path(sys.executable).parent
#: as an installed sluice runs: with its modules' byte code cached (some shells set PYTHONDONTWRITEBYTECODE,
#: which makes every start compile the runner's modules again)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _sluice(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "sluice"), "--project", str(root / "sluice.yml"), *args],
                          capture_output=True, text=True, check=False, env=ENV)


def write_project(root: Path, tenants: int) -> list[str]:
    """N tenants of one pipeline ``sync``: tap-csv (5 rows each) into target-jsonl; their ids."""
    ids = [f"t{i:03d}" for i in range(tenants)]
    (root / "data").mkdir()
    for tid in ids:
        rows = "\n".join(f"{n},{tid}-{n},2024-01-0{n}T00:00:00+00:00" for n in range(1, 6))
        (root / "data" / f"{tid}.csv").write_text(f"id,name,updated\n{rows}\n")
    (root / "tenants.json").write_text(json.dumps([{"id": tid} for tid in ids]))
    project = {
        "connectors": [
            {"name": "csv", "executable": "tap-csv",
             "config": {"files": [{"entity": "rows", "path": "data/${tenant.id}.csv", "keys": ["id"],
                                   "replication_key": "updated"}]}},
            {"name": "jsonl", "executable": "target-jsonl", "config": {"destination_path": "out/${tenant.id}"}},
        ],
        "pipelines": [{"name": "sync", "tap": "csv", "target": "jsonl", "for_each": "tenants.json"}],
    }
    (root / "sluice.yml").write_text(json.dumps(project, indent=2))
    return ids


def _timed(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, capture_output=True, check=False, env=ENV)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {shlex.join(argv)}\n{done.stderr.decode()[-2000:]}")
    return elapsed


def own_times(root: Path, limit: int) -> list[float]:
    """The duration of each run in the history (start to end, as its runner recorded it)."""
    done = _sluice(root, "runs", "--json", "-n", str(limit))
    runs = [json.loads(line) for line in done.stdout.splitlines()]
    return [r["ended_at"] - r["started_at"] for r in runs if r["ended_at"] is not None]


def batch(root: Path, tenants: int, jobs: int) -> dict[str, float]:
    wall = _timed([str(BIN / "sluice"), "--project", str(root / "sluice.yml"), "run", "--all", "-j", str(jobs),
                   "--full-refresh"], root)
    durations = own_times(root, tenants)
    assert len(durations) == tenants, f"{len(durations)} runs in the history, {tenants} expected"
    lanes = min(jobs, os.cpu_count() or 1)
    goal_base = sum(durations) / lanes + 2.0
    return {"wall_s": wall, "sum_own_s": sum(durations), "lanes": lanes, "bound_s": goal_base,
            "ratio": wall / goal_base}


def per_pipeline(root: Path, ids: list[str], pipes: int) -> dict[str, float]:
    """Sequential single runs against the bare pipe of the same connectors and settings."""
    scratch = root / "bare"
    scratch.mkdir()
    sluice_times, bare_times = [], []
    for tid in ids[:pipes]:
        sluice_times.append(_timed([str(BIN / "sluice"), "--project", str(root / "sluice.yml"), "run",
                                    f"sync@{tid}", "--full-refresh"], root))
        tap = scratch / f"{tid}-tap.json"
        tap.write_text(json.dumps({"files": [{"entity": "rows", "path": str(root / "data" / f"{tid}.csv"),
                                              "keys": ["id"], "replication_key": "updated"}]}))
        target = scratch / f"{tid}-target.json"
        target.write_text(json.dumps({"destination_path": str(scratch / tid)}))
        pipe = (f"{shlex.quote(str(BIN / 'tap-csv'))} --config {shlex.quote(str(tap))} | "
                f"{shlex.quote(str(BIN / 'target-jsonl'))} --config {shlex.quote(str(target))} > /dev/null")
        bare_times.append(_timed(["sh", "-c", pipe], root))
    start_up = [_timed([sys.executable, "-m", "runner", "--version"], root) for _ in range(5)]
    own = own_times(root, pipes)
    return {"sluice_s": statistics.mean(sluice_times), "bare_s": statistics.mean(bare_times),
            "cost_s": statistics.mean(sluice_times) - statistics.mean(bare_times),
            "runner_start_s": statistics.median(start_up), "own_s": statistics.mean(own)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--pipes", type=int, default=10, help="single runs measured against the bare pipe")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="sluice-tenants-") as tmp:
        root = Path(tmp)
        ids = write_project(root, args.tenants)
        _timed([str(BIN / "sluice"), "--project", str(root / "sluice.yml"), "run", f"sync@{ids[0]}"], root)  # warm
        b = batch(root, args.tenants, args.jobs)
        p = per_pipeline(root, ids, args.pipes)
    print(f"load average at start: {load:.2f} on {os.cpu_count()} cores")
    print(f"batch: {args.tenants} pipelines, -j {args.jobs}: {b['wall_s']:.1f} s; runs' own times sum "
          f"{b['sum_own_s']:.1f} s; bound sum/{b['lanes']:.0f} + 2 s = {b['bound_s']:.1f} s; "
          f"ratio {b['ratio']:.2f}x (goal <= 1.3x)")
    print(f"per pipeline: sluice run {p['sluice_s']:.3f} s, bare shell pipe {p['bare_s']:.3f} s: cost "
          f"{p['cost_s']:.3f} s (goal <= 0.1 s); runner start (python -m runner --version) "
          f"{p['runner_start_s']:.3f} s; a run's own time in its history {p['own_s']:.3f} s")


if __name__ == "__main__":
    main()
