"""N runner hosts sharing one PostgreSQL store: `sluice run --all` on 1, 2, 4 hosts at once.

Each host is a directory with its own copy of a project of P pipelines (tests/faults/hosts/
counter_tap.py | the runner tests' fixture target) and its own SLUICE_HOST; all start
`sluice run --all -j J` at the same moment against one fresh database. The hosts share the
pipelines out (each skips what another host is running or did since its batch began), so the
figure is the wall time until every host's batch is over, and the succeeded runs per second.
It also checks, from the run history, that no pipeline ran twice at once.

`--sleep S` makes each tap wait S seconds (a source that is slow to answer, as an API is): that
work needs no CPU here, so more hosts finish sooner even on one machine. With `--sleep 0` every
run is CPU (Python start-ups, the runner, the pipe), and hosts on one machine share its cores:
the figure then shows what the coordination costs, not a speed-up. Real hosts bring their own.

PostgreSQL: SLUICE_TEST_PG (a server URL) or a throwaway cluster from the installed server
binaries (tests/pgserver.py), as the tests use.

    python bench/hostsbench.py                       # 1, 2, 4 hosts x 30 pipelines, -j 2, sleep 1 and 0
    python bench/hostsbench.py --hosts 1 2 --sleep 0.5 --pipelines 60
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import yaml  # noqa: E402

from tests.faults.hosts.hosts import overlaps  # noqa: E402
from tests.pgserver import ThrowawayServer, find_server_bin  # noqa: E402

SLUICE = Path(sys.executable).parent / "sluice"
TAP = ROOT / "tests" / "faults" / "hosts" / "counter_tap.py"
TARGET = ROOT / "tests" / "integration" / "runner" / "fixtures" / "fixture_target.py"


def _project(dsn: str, pipelines: int, sleep: float) -> dict[str, object]:
    py = sys.executable
    return {"state_store": dsn, "connectors": [
        {"name": "counter", "executable": py, "args": [str(TAP)], "config": {"sleep": sleep}},
        {"name": "sink", "executable": py, "args": [str(TARGET)], "config": {"path": "out.jsonl"}},
    ], "pipelines": [{"name": f"p{i:03d}", "tap": "counter", "target": "sink"} for i in range(pipelines)]}


def trial(server: str, work: Path, hosts: int, pipelines: int, jobs: int, sleep: float) -> dict[str, object]:
    name = f"hostsbench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    dsn = server.rsplit("/", 1)[0] + f"/{name}"
    try:
        dirs = []
        for h in range(hosts):
            home = work / f"{name}-host{h}"
            home.mkdir(parents=True)
            (home / "sluice.yml").write_text(yaml.safe_dump(_project(dsn, pipelines, sleep), sort_keys=False))
            dirs.append(home)
        base = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
        # warm the --about cache of every host (not timed)
        for home in dirs:
            subprocess.run([str(SLUICE), "run", "p000", "--dry-run"], cwd=home, env=base, capture_output=True,
                           check=True)
        began = time.monotonic()
        procs = [subprocess.Popen([str(SLUICE), "run", "--all", "-j", str(jobs)], cwd=home,
                                  env={**base, "SLUICE_HOST": f"bench-host-{h}"}, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL) for h, home in enumerate(dirs)]
        codes = [proc.wait() for proc in procs]
        wall = time.monotonic() - began
        done = subprocess.run([str(SLUICE), "runs", "-n", "1000000", "--json"], cwd=dirs[0], env=base,
                              capture_output=True, text=True, check=True)
        history = [json.loads(line) for line in done.stdout.splitlines()]
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')
    succeeded = sum(1 for r in history if r["status"] == "succeeded")
    return {"hosts": hosts, "pipelines": pipelines, "jobs": jobs, "sleep": sleep, "wall_s": round(wall, 2),
            "runs": len(history), "succeeded": succeeded, "runs_per_s": round(succeeded / wall, 2),
            "exit_codes": codes, "overlaps": len(overlaps(history)),
            "pipelines_run": len({r["pipeline"] for r in history})}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--pipelines", type=int, default=30)
    parser.add_argument("-j", "--jobs", type=int, default=2)
    parser.add_argument("--sleep", type=float, nargs="+", default=[1.0, 0.0])
    args = parser.parse_args()
    server, cluster = os.environ.get("SLUICE_TEST_PG"), None
    if not server:
        bindir = find_server_bin()
        if bindir is None:
            sys.stderr.write("hostsbench: no PostgreSQL server binaries and SLUICE_TEST_PG is not set\n")
            return 2
        cluster = ThrowawayServer(bindir)
        server = cluster.start()
    try:
        with tempfile.TemporaryDirectory(prefix="hostsbench-") as tmp:
            print(f"{'hosts':>5} {'pipelines':>9} {'-j':>3} {'sleep':>5} {'wall s':>7} {'runs':>5} "
                  f"{'runs/s':>7}  check")
            for sleep in args.sleep:
                for hosts in args.hosts:
                    r = trial(server, Path(tmp), hosts, args.pipelines, args.jobs, sleep)
                    ok = (r["overlaps"] == 0 and r["pipelines_run"] == args.pipelines
                          and set(r["exit_codes"]) == {0})  # type: ignore[arg-type]
                    print(f"{hosts:>5} {args.pipelines:>9} {args.jobs:>3} {sleep:>5g} {r['wall_s']:>7} "
                          f"{r['succeeded']:>5} {r['runs_per_s']:>7}  {'ok' if ok else r}", flush=True)
    finally:
        if cluster is not None:
            cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
