"""Instruction counts of our programs: before/after comparisons that machine load cannot blur.

    .venv/bin/python bench/instructions.py [--records N] [--only NAME ...] [--against DIR]

Each comparison's own program (ours, never a peer) runs once under valgrind's callgrind, which
counts the instructions the process executes: all its threads, not its children (the runner's
tap and target) and not the database server. The same program, input and environment give the
same count (within a fraction of a percent: thread interleaving) whatever else the machine is
doing, where wall times on a busy 2-core machine vary by tens of percent. ``--against DIR``
runs the same comparisons with another checkout's programs (``DIR/.venv/bin``, e.g. a worktree
at the commit before a change, with this bench/ copied in) and prints after/before ratios.
Counts are not speed: I/O waits, the server's work and cache misses are outside them; run.py
measures time.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import _bootstrap  # noqa: F401 - first: re-runs in the project venv if needed
import datagen
import peers
import run

VALGRIND = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
COLLECTED = re.compile(rb"==\d+== Collected : (\d+)")
DEFAULT = ("target-jsonl", "target-csv", "tap-csv", "runner-overhead", "target-postgres", "target-sqlite",
           "target-postgres-escaped", "tap-postgres")


def count(comp: peers.Comparison, bin_dir: Path, records: int) -> int | str:
    """The instructions of one run of ``comp``'s own program from ``bin_dir``, or why none."""
    program = comp.ours
    bins = {"": bin_dir}
    ds = _dataset(comp, bin_dir, records)
    why = run._skip_reason(program, bins) or run._set_up(program, bins, ds)
    if why:
        return why
    work = run.OUT / f"instructions-{comp.name}"
    try:
        cmd = run.command(program, bins, ds, work)
    except RuntimeError as exc:
        return f"prepare failed: {exc}"
    env = {**(cmd.env or os.environ), "PYTHONHASHSEED": "0"}
    with open(cmd.stdin or os.devnull, "rb") as fin:
        # a program started through ``sh -c 'exec ...'`` (its redirections): follow the exec, or the
        # count would be the shell's; no other program's children are counted
        follow = ["--trace-children=yes"] if Path(cmd.argv[0]).name == "sh" else []
        done = subprocess.run([*VALGRIND, *follow, *cmd.argv], stdin=fin, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, cwd=cmd.out, env=env, check=False)
    shutil.rmtree(cmd.out, ignore_errors=True)
    found = COLLECTED.findall(done.stderr)
    if done.returncode != 0 or not found:
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        return f"exit {done.returncode}: {' | '.join(tail)}"
    return int(found[-1])


def _dataset(comp: peers.Comparison, bin_dir: Path, records: int) -> datagen.Dataset:
    n = comp.records(records) if comp.records else records * comp.scale
    return datagen.dataset(n, bin_dir / "tap-csv", variant=comp.data)


def _fmt(value: int | str) -> str:
    return f"{value / 1e6:,.1f} M" if isinstance(value, int) else f"({value})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=20_000, metavar="N", help="records in the stream (20000)")
    parser.add_argument("--only", nargs="+", metavar="NAME", default=list(DEFAULT),
                        help="comparisons to count (run.py's names); default: " + " ".join(DEFAULT))
    parser.add_argument("--against", type=Path, metavar="DIR",
                        help="another checkout: count its programs too (DIR/.venv/bin) and print ratios")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind is not installed", file=sys.stderr)
        return 2
    sides = {"this": peers.ours_bin()}
    if args.against is not None:
        sides["against"] = args.against.resolve() / ".venv" / "bin"
    comps = [c for c in peers.COMPARISONS if c.name in args.only]
    rows = ["| comparison | program | " + " | ".join(f"{name} (instructions)" for name in sides)
            + (" | this / against |" if args.against else " |"),
            "|---|---|" + "---|" * len(sides) + ("---|" if args.against else "")]
    for comp in comps:
        counts = {name: count(comp, bin_dir, args.records) for name, bin_dir in sides.items()}
        ratio = ""
        if args.against is not None:
            this, other = counts["this"], counts["against"]
            ratio = f" {this / other:.3f} |" if isinstance(this, int) and isinstance(other, int) else " - |"
        row = f"| {comp.name} | {comp.ours.label} | " + " | ".join(_fmt(v) for v in counts.values()) + " |" + ratio
        print(row, file=sys.stderr, flush=True)
        rows.append(row)
    print(f"{args.records:,} records, one run each under callgrind (PYTHONHASHSEED=0)\n")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
