"""What telemetry costs a run: `sluice run` with no OTEL_*, exporting to a live OTLP/HTTP receiver,
and with a dead collector (one that never answers, a closed port) under SLUICE_OTEL_EXPORT_TIMEOUT.

Issue 20. Each mode runs the same small pipeline (a tap of --records records, the runner's test
target) --repeat times; prints the median wall time of the whole `sluice` process, its difference
from the run without telemetry, and the median wait at the end of the run (the run log's last line
minus its summary line: the export). Also the import time of the SDK path (``-X importtime``).
Wall-clock figures need a quiet machine: the load average is printed with them.

    python bench/otelbench.py [--records 2000] [--repeat 5] [--bound 1]
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.integration.runner.helpers import fixture_connector, write_project  # noqa: E402
from tests.integration.telemetry.receiver import BlackHole, OtlpReceiver, closed_port  # noqa: E402

SLUICE = str(Path(sys.executable).parent / "sluice")


def _end_wait(root: Path) -> float:
    """Seconds between the newest run log's summary line and its last line (the export, if any)."""
    log = max((root / ".sluice" / "logs" / "demo").glob("*.log"), key=lambda p: p.stat().st_mtime)
    stamps = {}
    for line in log.read_text().splitlines():
        stamp, _, text = line.partition(" sluice | ")
        if "STATE value" in text or text.startswith("log: "):
            stamps["last" if text.startswith("log: ") else "summary"] = datetime.datetime.strptime(
                stamp, "%Y-%m-%dT%H:%M:%S.%fZ")
    return (stamps["last"] - stamps["summary"]).total_seconds() if len(stamps) == 2 else float("nan")


def _mode(root: Path, env: dict[str, str], repeat: int) -> tuple[float, float]:
    walls, waits = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run([SLUICE, "run", "demo", "--full-refresh"], cwd=root, env=env, capture_output=True,
                              check=False)
        walls.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise SystemExit(f"sluice run failed: {done.stderr.decode()[-500:]}")
        waits.append(_end_wait(root))
    return statistics.median(walls), statistics.median(waits)


def _import_seconds() -> float:
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", "import runner.run, runner.telemetry.otel"],
                          capture_output=True, text=True, check=True, cwd=ROOT)
    line = next(x for x in done.stderr.splitlines() if x.rstrip().endswith("| runner.telemetry.otel"))
    return int(line.split("|")[1]) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--bound", type=float, default=1.0, help="SLUICE_OTEL_EXPORT_TIMEOUT for the dead collectors")
    args = parser.parse_args()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "SLUICE_", "TRACE"))}
    receiver, hole = OtlpReceiver(), BlackHole()
    modes = {
        "no OTEL_*": base,
        "live receiver": {**base, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url},
        "never answers": {**base, "OTEL_EXPORTER_OTLP_ENDPOINT": hole.url,
                          "SLUICE_OTEL_EXPORT_TIMEOUT": str(args.bound)},
        "closed port": {**base, "OTEL_EXPORTER_OTLP_ENDPOINT": closed_port(),
                        "SLUICE_OTEL_EXPORT_TIMEOUT": str(args.bound)},
    }
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; {args.records:,} records, "
          f"median of {args.repeat}; bound {args.bound:g} s")
    print(f"import of runner.telemetry.otel (SDK, exporter, protobuf): {_import_seconds():.3f} s")
    print("| mode | wall (s) | vs no OTEL_* (s) | wait at the end (s) |")
    print("|---|---:|---:|---:|")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            write_project(root, connectors=[
                fixture_connector("tap-fix", "fixture_tap.py", {"records": args.records, "state_every": 500}),
                fixture_connector("target-fix", "fixture_target.py", {"path": str(root / "out.jsonl")})])
            off = None
            for name, env in modes.items():
                wall, wait = _mode(root, env, args.repeat)
                off = wall if off is None else off
                print(f"| {name} | {wall:.3f} | {wall - off:+.3f} | {wait:.3f} |")
    finally:
        receiver.close()
        hole.close()
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
