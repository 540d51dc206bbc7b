"""What ``environments:`` cost ``sluice run PIPELINE`` (the click-free path a cron host starts), in instructions.

    .venv/bin/python bench/envcost.py [--against DIR] [--repeat N]

Runs ``sluice run sync`` (tap-csv into target-jsonl, one row) under valgrind's callgrind, counting the
runner's own instructions (not its children's), for: a project without ``environments:``, the same
project with two environments and none chosen, and with one chosen (``--environment dev``). Each case
has its own project directory, run once first so the valid-project cache and the bytecode are warm
(bytecode is written even where PYTHONDONTWRITEBYTECODE is set: a cron host keeps its .pyc files).
``--against DIR`` runs the first case with the code of another checkout (``git archive main | tar -x
-C DIR``) through this venv's Python, and prints this / that. Also lists the modules the run imports
that the base checkout's does not (``-X importtime``): a project without environments should load none.
Counts are not time; machine load does not change them.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import _bootstrap  # noqa: F401 - first: re-runs in the project venv if needed

ROOT = Path(__file__).resolve().parent.parent
COLLECTED = re.compile(rb"==\d+== Collected : (\d+)")
PROJECT = """\
connectors:
  - {name: csv, executable: tap-csv, config: {files: [{entity: a, path: a.csv, keys: [id]}]}}
  - {name: jsonl, executable: target-jsonl, config: {destination_path: out}}
pipelines:
  - {name: sync, tap: csv, target: jsonl}
"""
ENVIRONMENTS = """\
environments:
  dev: {connectors: {jsonl: {config: {destination_path: out-dev}}}}
  prod: {state_id_scope: shared, pipelines: {sync: {schedule: "@daily"}}}
"""
CASES = {"no environments": (PROJECT, []), "environments, none chosen": (PROJECT + ENVIRONMENTS, []),
         "environments, dev chosen": (PROJECT + ENVIRONMENTS, ["--environment", "dev"])}


def _env(code: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_") and k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPATH": str(code), "PYTHONHASHSEED": "0"}


def _argv(extra: list[str]) -> list[str]:
    return [sys.executable, "-m", "runner", "run", "sync", *extra]


def count(workdir: Path, code: Path, text: str, extra: list[str]) -> int:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "a.csv").write_text("id,name\n1,a\n")
    (workdir / "sluice.yml").write_text(text)
    warm = subprocess.run(_argv(extra), cwd=workdir, env=_env(code), capture_output=True, check=False)
    if warm.returncode != 0:
        raise SystemExit(f"sluice run failed: {warm.stderr.decode()[-500:]}")
    done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *_argv(extra)],
                          cwd=workdir, env=_env(code), capture_output=True, check=False)
    found = COLLECTED.search(done.stderr)
    if done.returncode != 0 or not found:
        raise SystemExit(f"callgrind run failed: {done.stderr.decode()[-500:]}")
    return int(found.group(1))


def modules(workdir: Path, code: Path) -> set[str]:
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "runner", "run", "sync"], cwd=workdir,
                          env=_env(code), capture_output=True, check=False)
    return {line.rsplit("|", 1)[1].strip() for line in done.stderr.decode().splitlines()
            if line.startswith("import time:") and "|" in line}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", type=Path, help="a checkout of the code before environments (its root)")
    parser.add_argument("--repeat", type=int, default=2, help="callgrind runs per case; the lowest is kept")
    args = parser.parse_args()
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind is not installed")
    with tempfile.TemporaryDirectory(prefix="sluice-envcost-") as tmp:
        root = Path(tmp)
        rows: list[tuple[str, int]] = []
        for i, (name, (text, extra)) in enumerate(CASES.items()):
            rows.append((name, min(count(root / f"this-{i}", ROOT, text, extra) for _ in range(args.repeat))))
        base = rows[0][1]
        print("| case | instructions | / no environments |")
        print("|---|---|---|")
        for name, n in rows:
            print(f"| {name} | {n / 1e6:.2f} M | {n / base:.4f} |")
        if args.against:
            before = min(count(root / "against", args.against.resolve(), PROJECT, []) for _ in range(args.repeat))
            print(f"\nno environments, against {args.against}: {before / 1e6:.2f} M; this / that = {base / before:.4f}")
            extra_modules = modules(root / "this-0", ROOT) - modules(root / "against", args.against.resolve())
            print(f"modules imported that {args.against} does not: {', '.join(sorted(extra_modules)) or 'none'}")
        with open("/proc/loadavg") as load:
            print(f"\nload average: {load.read().split()[0]} (counts do not depend on it)")


if __name__ == "__main__":
    main()
