"""What secret references cost `sluice run PIPELINE` (the click-free start-up path), in instructions.

    .venv/bin/python bench/secretsbench.py [--against DIR] [--rounds N]

One small pipeline (the runner tests' fixture tap and target, 5 records) in four projects: its
secret from ``${ENV}`` only, from ``.env``, from ``${file:PATH}`` and from ``${cmd:...}``. Each
``sluice run`` process is counted under valgrind's callgrind (the process itself: not the tap, the
target or the command of ``${cmd:...}``), warm: modules compiled, project checks cached, no stored
state. ``--against DIR`` counts the ``${ENV}`` project with another checkout's runner too (``DIR`` on
PYTHONPATH, e.g. ``git worktree add /tmp/before main``) and prints the ratio: the start-up of a
project that uses only ``${ENV}`` must not change. Also printed: whether ``runner.secrets`` was
imported (not for ``${ENV}``; for ``.env``, its parser only). Counts are not wall time; they do not move
with machine load.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "integration" / "runner" / "fixtures"
COLLECTED = re.compile(rb"==\d+== Collected : (\d+)")
SECRET = "bench-Secret-77"
RUN = ("import sys; sys.argv = ['sluice', 'run', 'demo']; from runner.entry import main\n"
       "try:\n    main()\nfinally:\n"
       "    sys.stderr.write('SECRETS-IMPORTED=%s\\n' % ('runner.secrets' in sys.modules))")

KINDS = {
    "env": "${BENCH_KEY}",
    "dotenv": "${BENCH_DOTENV_KEY}",
    "file": "${file:secrets/key}",
    "cmd": "${cmd:cat secrets/key}",
}


def _project(root: Path, reference: str) -> None:
    py = sys.executable
    root.mkdir(parents=True)
    (root / "secrets").mkdir()
    (root / "secrets" / "key").write_text(SECRET + "\n")
    if "DOTENV" in reference:  # the others are projects without a .env file
        (root / ".env").write_text(f"BENCH_DOTENV_KEY={SECRET}\n")
    (root / "sluice.yml").write_text(
        "connectors:\n"
        f"  - {{name: tap-fix, executable: {py}, args: [{FIXTURES / 'fixture_tap.py'}],\n"
        f"     config: {{records: 5, api_key: \"{reference}\", host: \"${{BENCH_HOST:-localhost}}\"}}}}\n"
        f"  - {{name: target-fix, executable: {py}, args: [{FIXTURES / 'fixture_target.py'}],\n"
        "     config: {path: out.jsonl}}\n"
        "pipelines:\n"
        "  - {name: demo, tap: tap-fix, target: target-fix}\n")


def _env(tree: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_") and k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPATH=str(tree), PYTHONHASHSEED="0", BENCH_KEY=SECRET)
    return env


def count(tree: Path, project: Path) -> tuple[int, bool]:
    """Instructions of one warm ``sluice run demo`` of ``project`` with the runner of ``tree``."""
    env = _env(tree)
    argv = [sys.executable, "-c", RUN]
    warm = subprocess.run(argv, cwd=project, env=env, capture_output=True, check=False)
    if warm.returncode != 0:
        raise SystemExit(f"{project.name}: sluice run failed: {warm.stderr.decode(errors='replace')[-500:]}")
    for stale in project.glob(".sluice/state.db*"):
        stale.unlink()
    done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv], cwd=project,
                          env=env, capture_output=True, check=False)
    found = COLLECTED.findall(done.stderr)
    if done.returncode != 0 or not found:
        raise SystemExit(f"{project.name}: callgrind run failed: {done.stderr.decode(errors='replace')[-500:]}")
    return int(found[-1]), b"SECRETS-IMPORTED=True" in done.stderr


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", type=Path, metavar="DIR",
                        help="another checkout: its runner on the ${ENV} project")
    parser.add_argument("--rounds", type=int, default=1, metavar="N", help="runs per figure; the lowest is shown")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind is not installed", file=sys.stderr)
        return 2
    rows = ["| project | instructions | runner.secrets imported |", "|---|---|---|"]
    with tempfile.TemporaryDirectory(prefix="secretsbench-") as tmp:
        figures: dict[str, int] = {}
        for kind, reference in KINDS.items():
            project = Path(tmp) / kind
            _project(project, reference)
            results = [count(ROOT, project) for _ in range(args.rounds)]
            figures[kind] = min(n for n, _ in results)
            rows.append(f"| `{reference}` | {figures[kind] / 1e6:,.2f} M | {'yes' if results[0][1] else 'no'} |")
        if args.against is not None:
            project = Path(tmp) / "env-against"
            _project(project, KINDS["env"])
            before = min(count(args.against.resolve(), project)[0] for _ in range(args.rounds))
            rows.append(f"| `{KINDS['env']}`, {args.against} | {before / 1e6:,.2f} M | - |")
            rows.append(f"| this / against (`${{ENV}}` only) | {figures['env'] / before:.4f} | |")
    print("`sluice run demo`, one process under callgrind (PYTHONHASHSEED=0), warm, lowest of "
          f"{args.rounds}\n")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
