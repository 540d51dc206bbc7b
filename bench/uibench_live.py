"""bench/uibench.py --live: what `sluice ui`'s live progress costs a running pipeline.

The same `sluice run` (bench/tools/paced_tap.py emitting N records over S seconds with a METRIC
line per 1,000, into bench/tools/count_target.py; the default SQLite store) with the progress timer
on and with ``SLUICE_LIVE_PROGRESS=0``:

- instructions of the runner process (every thread of it, the timer's included; not the tap, the
  target or SQLite's file I/O wait) under valgrind's callgrind, once each: load does not move them;
- wall time, alternating on/off, best of ``repeat``: the run is paced by the tap, so a cost would
  show as a longer run; on a loaded machine compare the instruction counts.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / "bench" / "tools"
COLLECTED = re.compile(rb"==\d+== Collected : (\d+)")

__all__ = ["live_cost"]


def _project(root: Path, records: int, seconds: float) -> None:
    py = sys.executable
    data = {"connectors": [
        {"name": "paced", "executable": py, "args": [str(TOOLS / "paced_tap.py")],
         "config": {"records": records, "seconds": seconds, "batch": 1000}},
        {"name": "count", "executable": py, "args": [str(TOOLS / "count_target.py")], "config": {}},
    ], "pipelines": [{"name": "live", "tap": "paced", "target": "count"}]}
    (root / "sluice.yml").write_text(yaml.safe_dump(data, sort_keys=False))


def _env(on: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    env["SLUICE_LIVE_PROGRESS"] = "1" if on else "0"
    env["PYTHONHASHSEED"] = "0"
    return env


def _run(root: Path, on: bool, prefix: list[str] | None = None) -> tuple[float, bytes]:
    argv = [*(prefix or []), sys.executable, "-m", "runner", "run", "live"]
    t0 = time.perf_counter()
    done = subprocess.run(argv, cwd=root, env=_env(on), capture_output=True, check=False)
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"sluice run failed ({done.returncode}): {done.stderr.decode()[-500:]}")
    return elapsed, done.stderr


def live_cost(records: int, seconds: float, repeat: int) -> None:
    print(f"\nlive progress: `sluice run` of {records:,} records paced over {seconds:g} s, timer on vs "
          f"SLUICE_LIVE_PROGRESS=0 (load average {' '.join(Path('/proc/loadavg').read_text().split()[:3])})")
    with tempfile.TemporaryDirectory(prefix="uibench-live-") as tmp:
        root = Path(tmp)
        _project(root, records, seconds)
        _run(root, True)  # warm-up: fills the --about cache, creates the store
        if shutil.which("valgrind"):
            counts = {}
            for key, on in (("on", True), ("off", False), ("off again", False)):  # off twice: the noise floor
                _, err = _run(root, on, ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"])
                found = COLLECTED.findall(err)
                counts[key] = int(found[-1]) if found else 0
            off = min(counts["off"], counts["off again"])
            diff, noise = counts["on"] - off, abs(counts["off"] - counts["off again"])
            print(f"  callgrind, runner process: on {counts['on'] / 1e6:,.1f} M, off {counts['off'] / 1e6:,.1f} M "
                  f"and {counts['off again'] / 1e6:,.1f} M instructions")
            print(f"  the timer: {diff / 1e6:+,.2f} M ({diff / max(off, 1):+.2%} of the runner), "
                  f"{diff / seconds / 1e3:+,.0f} k per second of run; off vs off again differ by {noise / 1e6:,.2f} M")
        else:
            print("  callgrind: skipped (valgrind not installed)")
        walls: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(repeat):
            for on in (True, False):
                walls[on].append(_run(root, on)[0])
        on_best, off_best = min(walls[True]), min(walls[False])
        print(f"  wall, best of {repeat}: on {on_best:.2f} s, off {off_best:.2f} s, "
              f"ratio on/off {on_best / off_best:.3f}")
