"""Issue 13: installing connectors. ``sluice install -j 4`` against ``meltano install`` (default settings).

    .venv/bin/python bench/installbench.py [--repeat K] [--empty-cache]

The same 4 public connectors (two on singer-sdk, two on singer-python with pins the others cannot
share) are declared in a sluice.yml and in a meltano.yml (custom plugins: name, namespace,
pip_url, executable), under bench/.data/install/. Both tools read the same package cache: one
``UV_CACHE_DIR`` (bench/.data/install/uv-cache), filled by an unmeasured first install of each,
since Meltano's default venv backend is uv too. Then, alternating, K rounds of

- **cold**: the project as a fresh checkout has it (no ``.sluice``, no ``.meltano``; sluice.lock
  is a project file, committed next to sluice.yml): every environment is built, the packages
  come from the cache; sluice installs what the lock lists, with no resolution;
- **cold, no lock**: the same without sluice.lock: sluice resolves every pip_url (and writes the
  lock), as Meltano always does;
- **warm**: the same command again, nothing changed: nothing should be installed.

``--empty-cache`` adds a round with an empty cache each (every package downloaded again).
Meltano runs from its own venv, bench/.venvs/meltano (made by peers.py when missing).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import _bootstrap  # noqa: F401 - first: re-runs in the project venv if needed
import peers
import yaml
from cmp_runner import MELTANO
from datagen import DATA_DIR

HOME = DATA_DIR / "install"
SLUICE = Path(sys.executable).parent / "sluice"
CONNECTORS = (  # name, pip_url, kind
    ("tap-jsonl", "tap-jsonl==0.3.1", "extractors"),
    ("tap-exchangeratesapi", "tap-exchangeratesapi==0.1.1", "extractors"),
    ("target-jsonl", "target-jsonl==0.1.4", "loaders"),
    ("target-csv", "meltanolabs-target-csv==0.5.0", "loaders"),
)
MELTANO_ENV = {"MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false", "MELTANO_DISABLE_TRACKING": "true"}


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def write_projects() -> tuple[Path, Path]:
    ours, theirs = HOME / "sluice", HOME / "meltano"
    ours.mkdir(parents=True, exist_ok=True)
    theirs.mkdir(parents=True, exist_ok=True)
    (ours / "sluice.yml").write_text(yaml.safe_dump({"connectors": [
        {"name": name, "executable": name, "pip_url": pip_url} for name, pip_url, _ in CONNECTORS]}, sort_keys=False))
    plugins: dict[str, list[dict[str, str]]] = {"extractors": [], "loaders": []}
    for name, pip_url, kind in CONNECTORS:
        plugins[kind].append({"name": name, "namespace": name.replace("-", "_"), "pip_url": pip_url,
                              "executable": name})
    (theirs / "meltano.yml").write_text(yaml.safe_dump({
        "version": 1, "default_environment": "dev", "project_id": "sluice-bench-install",
        "environments": [{"name": "dev"}], "plugins": plugins}, sort_keys=False))
    return ours, theirs


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.monotonic()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return seconds


def environ(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLUICE_", "MELTANO_", "VIRTUAL_ENV"))}
    return {**env, **MELTANO_ENV, "UV_CACHE_DIR": str(cache)}


def sides(ours: Path, theirs: Path, meltano: Path) -> dict[str, tuple[list[str], Path, Path]]:
    """name -> (argv, working directory, what a cold start removes)."""
    return {"sluice": ([str(SLUICE), "install", "-j", "4"], ours, ours / ".sluice"),
            "meltano": ([str(meltano), "install"], theirs, theirs / ".meltano")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--empty-cache", action="store_true")
    args = parser.parse_args()
    meltano = peers.ensure_venv(MELTANO, say) / "meltano"
    ours, theirs = write_projects()
    cache = HOME / "uv-cache"
    runs = sides(ours, theirs, meltano)
    say("filling the package cache (unmeasured)")
    for argv, cwd, state in runs.values():
        shutil.rmtree(state, ignore_errors=True)
        timed(argv, cwd, environ(cache))
    figures: dict[tuple[str, str], list[float]] = {}

    def measure(name: str, case: str, fresh: list[Path]) -> None:
        argv, cwd, _ = runs[name]
        for path in fresh:
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
        figures.setdefault((name, case), []).append(timed(argv, cwd, environ(cache)))

    for round_ in range(args.repeat):
        measure("sluice", "cold, no lock", [ours / ".sluice", ours / "sluice.lock"])
        measure("sluice", "warm", [])
        measure("sluice", "cold", [ours / ".sluice"])
        measure("meltano", "cold", [theirs / ".meltano"])
        measure("meltano", "warm", [])
        say(f"round {round_ + 1}: " + ", ".join(f"{n} {c} {v[-1]:.2f} s" for (n, c), v in figures.items()))
    if args.empty_cache:
        for name, (argv, cwd, state) in runs.items():
            empty = HOME / f"empty-cache-{name}"
            shutil.rmtree(empty, ignore_errors=True)
            shutil.rmtree(state, ignore_errors=True)
            (cwd / "sluice.lock").unlink(missing_ok=True)
            figures[(name, "empty cache")] = [timed(argv, cwd, environ(empty))]
            shutil.rmtree(empty, ignore_errors=True)
    report(figures, args.repeat)


def report(figures: dict[tuple[str, str], list[float]], repeat: int) -> None:
    print(f"4 connectors ({', '.join(p for _, p, _ in CONNECTORS)}); median of {repeat} alternating rounds\n")
    print("| case | sluice install -j 4 | meltano install | meltano / sluice |")
    print("|---|---:|---:|---:|")
    for case, peer in (("cold", "cold"), ("cold, no lock", "cold"), ("warm", "warm"),
                       ("empty cache", "empty cache")):
        if (case_s := figures.get(("sluice", case))) and (case_m := figures.get(("meltano", peer))):
            s, m = statistics.median(case_s), statistics.median(case_m)
            print(f"| {case} | {s:.2f} s | {m:.2f} s | {m / s:.1f}x |")
    cold = statistics.median(figures[("meltano", "cold")]) / statistics.median(figures[("sluice", "cold")])
    warm = statistics.median(figures[("sluice", "warm")])
    print(f"\ngoal cold >= 3x: {'met' if cold >= 3 else 'NOT met'} ({cold:.1f}x); "
          f"goal warm no-op < 1 s: {'met' if warm < 1 else 'NOT met'} ({warm:.2f} s)")


if __name__ == "__main__":
    main()
