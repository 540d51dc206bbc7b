"""Benchmark our connectors side by side with public ones, on the same input.

    .venv/bin/python bench/run.py [--records N] [--only NAME ...] [--repeat K] [--stat best|median]
                                  [--rss-check] [--label TEXT] [--no-write]

See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import _bootstrap  # noqa: F401 - first: re-runs in the project venv if needed
import datagen
import measure
import orjson
import peers

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "RESULTS.md"
OUT = datagen.DATA_DIR / "out"
RSS_SIZES = (200_000, 1_000_000)
CODE_PATHS = ("protocol", "taps", "targets", "runner")


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Figure:
    """One program's aggregated runs."""

    label: str
    rate: float | None        # records/s; None when it failed or was skipped
    rss_mb: float | None
    note: str = ""
    seconds: float | None = None    # wall seconds of the run the figure comes from
    startup: float | None = None    # wall seconds on an empty input (comparisons with startup=True)
    net_rate: float | None = None   # units / (seconds - startup)


# -- running programs ------------------------------------------------------------------

def _bin(program: peers.Program, bins: dict[str, Path]) -> Path:
    return bins[program.venv.name if program.venv else ""]


def _exe(program: peers.Program, bins: dict[str, Path]) -> Path:
    """Venv bin, else ours; a command not among ours (sh, psql, an absolute path) is looked up on PATH."""
    exe = _bin(program, bins) / program.exe
    if program.kind == "command" and program.venv is None and not exe.exists():
        found = shutil.which(program.exe)
        return Path(found) if found else exe
    return exe


def _skip_reason(program: peers.Program, bins: dict[str, Path]) -> str:
    """Empty when the program runs; else why it is skipped. Ours must answer ``--about``."""
    if program.venv is not None and program.venv.name not in bins:
        return "not installed"
    exe = _exe(program, bins)
    if not exe.exists():
        return f"{exe} not found"
    if program.venv is not None or program.kind == "command":
        return ""
    about = subprocess.run([str(exe), "--about"], capture_output=True, check=False)
    if about.returncode != 0:
        lines = about.stderr.decode("utf-8", "replace").strip().splitlines()
        why = lines[-1] if lines else str(about.returncode)
        return f"{program.exe} --about failed ({why}); not built yet?"
    return ""


def _set_up(program: peers.Program, bins: dict[str, Path], ds: datagen.Dataset) -> str:
    """Run the program's one-off setup (a warm-up run, a Meltano project); empty or why it failed."""
    if program.setup is None:
        return ""
    say(f"  setting up {program.label}")
    try:
        program.setup(_bin(program, bins), ds)
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        return f"setup failed: {exc}"
    return ""


@dataclass
class Command:
    """One run of a program, ready to start: its argv, stdin file, environment and output folder."""
    argv: list[str]
    stdin: Path | None
    env: dict[str, str] | None
    out: Path


def command(program: peers.Program, bins: dict[str, Path], ds: datagen.Dataset, work: Path) -> Command:
    """A fresh output folder under ``work`` and the program's command line there; the program's
    ``prepare`` (a fresh schema, say) has run. RuntimeError when that failed."""
    out = work / "out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    if program.prepare is not None:
        program.prepare(ds)
    if program.argv is not None:
        argv, stdin = program.argv(_bin(program, bins), out, ds), None
    else:
        assert program.config is not None, f"{program.label}: a {program.kind} needs a config builder"
        config = work / "config.json"
        config.write_bytes(orjson.dumps(program.config(out, ds)))
        argv = [str(_exe(program, bins)), "--config", str(config)]
        stdin = ds.stream_path if program.kind == "target" else None
    return Command(argv, stdin, {**os.environ, **program.env} if program.env else None, out)


def _run_once(program: peers.Program, bins: dict[str, Path], ds: datagen.Dataset, work: Path) -> measure.Run:
    stderr = work / "stderr.log"
    try:
        cmd = command(program, bins, ds, work)
    except RuntimeError as exc:
        say(f"  {program.label}: FAILED before the run: {exc}")
        return measure.Run(0.0, None, 1, str(exc))
    argv, stdin, env, out = cmd.argv, cmd.stdin, cmd.env, cmd.out
    run = measure.run_child(argv, stdin=stdin, cwd=out, stderr_path=stderr, env=env, rss=program.rss,
                            timing=program.timing)
    if run.ok:
        problem = program.verify(out, stderr, ds)
        if problem:
            run = measure.Run(run.seconds, run.peak_rss_mb, run.returncode, problem)
    if program.note is not None:
        run = dataclasses.replace(run, note=program.note())
    say(f"  {program.label}{' (empty input)' if ds.records == 0 else ''}: {run.seconds:.3f} s, "
        f"{run.peak_rss_mb or 0:.0f} MB" + (f", {run.note}" if run.note else "")
        + (f"  FAILED: {run.error}" if not run.ok else ""))
    shutil.rmtree(out, ignore_errors=True)
    return run


def _seconds(runs: Sequence[measure.Run], stat: str) -> float:
    return min(r.seconds for r in runs) if stat == "best" else statistics.median(r.seconds for r in runs)


def _aggregate(label: str, runs: Sequence[measure.Run], units: int, stat: str,
               empty: Sequence[measure.Run] = ()) -> Figure:
    bad = [r for r in (*runs, *empty) if not r.ok]
    if bad:
        why = bad[0].error.splitlines()[-1] if bad[0].error else f"exit {bad[0].returncode}"
        return Figure(label, None, None, f"FAILED: {why}")
    seconds = _seconds(runs, stat)
    rss = [r.peak_rss_mb for r in runs if r.peak_rss_mb is not None]
    startup = _seconds(empty, stat) if empty else None
    net = units / (seconds - startup) if startup is not None and seconds > startup else None
    note = min(runs, key=lambda r: abs(r.seconds - seconds)).note   # the run the figure comes from (or nearest)
    return Figure(label, units / seconds, max(rss) if rss else None, note, seconds=seconds, startup=startup,
                  net_rate=net)


def _alternate(programs: Sequence[peers.Program], bins: dict[str, Path], ds: datagen.Dataset, repeat: int,
               stat: str, work: Path, *, empty: datagen.Dataset | None = None, units: int | None = None
               ) -> list[Figure]:
    """ours, theirs, ours, theirs, ... ``repeat`` rounds; aggregate each side.

    With ``empty``, each side also runs on that empty input right before each measured run:
    its start-up, subtracted for the net rate.
    """
    runs: list[list[measure.Run]] = [[] for _ in programs]
    starts: list[list[measure.Run]] = [[] for _ in programs]
    for round_no in range(1, repeat + 1):
        say(f"round {round_no}/{repeat}")
        for i, program in enumerate(programs):
            side = work / f"side{i}"
            side.mkdir(parents=True, exist_ok=True)
            if empty is not None:
                starts[i].append(_run_once(program, bins, empty, side))
            runs[i].append(_run_once(program, bins, ds, side))
    n = ds.records if units is None else units
    return [_aggregate(p.label, r, n, stat, e) for p, r, e in zip(programs, runs, starts, strict=True)]


def _floors(ds: datagen.Dataset, repeat: int, stat: str) -> tuple[Figure, Figure]:
    work = OUT / "floors"
    work.mkdir(parents=True, exist_ok=True)
    oj = [measure.orjson_floor(ds.stream_path) for _ in range(repeat)]
    cat = [measure.cat_floor(ds.stream_path, work, work / "stderr.log") for _ in range(repeat)]
    return (_aggregate("floor: orjson.loads per line (in-process)", oj, ds.records, stat),
            _aggregate("floor: cat file > /dev/null", cat, ds.records, stat))


# -- the report --------------------------------------------------------------------------

def _fmt_rate(rate: float | None) -> str:
    return f"{rate:,.0f}" if rate is not None else "-"


def _fmt_rss(rss: float | None) -> str:
    return f"{rss:,.1f}" if rss is not None else "-"


def _fmt_s(seconds: float | None) -> str:
    return f"{seconds:.3f}" if seconds is not None else "-"


def _judge(goal: peers.Goal, ours: Figure, peer: Figure | None, figs: dict[str, Figure], orjson_rate: float | None,
           net: bool) -> str:
    """'<goal>: PASS' / 'FAIL' / 'n/a'; goals on records/s use the net rate when start-up was measured."""
    def rate(f: Figure | None) -> float | None:
        return None if f is None else (f.net_rate if net else f.rate)

    other = figs.get(goal.against) if goal.against else None
    text, ok = goal.text(), None
    if goal.kind == "peer" and rate(ours) and rate(peer):
        ok = rate(ours) >= goal.threshold * rate(peer)  # type: ignore[operator]
    elif goal.kind == "vs" and rate(ours) and rate(other):
        ok = rate(ours) >= goal.threshold * rate(other)  # type: ignore[operator]
        text += f" ({rate(ours) / rate(other):.0%})" if goal.threshold < 1 else ""  # type: ignore[operator]
    elif goal.kind == "floor" and ours.rate and orjson_rate:
        ok = ours.rate >= goal.threshold * orjson_rate
    elif goal.kind == "rate" and rate(ours):
        ok = rate(ours) >= goal.threshold  # type: ignore[operator]
    elif goal.kind == "overhead" and ours.seconds and other is not None and other.seconds:
        extra = (ours.seconds - other.seconds) / other.seconds * 100
        ok, text = extra <= goal.threshold, f"{text} ({extra:+.1f}%)"
    elif goal.kind == "startup" and ours.startup is not None and other is not None and other.startup is not None:
        extra = ours.startup - other.startup
        ok, text = extra <= goal.threshold, f"{text} ({extra:+.3f} s)"
    elif goal.kind == "mb" and ours.rss_mb is not None and ours.rss_mb == ours.rss_mb:
        ok = ours.rss_mb <= goal.threshold
    return f"{text}: {'n/a' if ok is None else 'PASS' if ok else 'FAIL'}"


HEADER = ["| comparison | program | records/s | wall s | start-up s | net records/s | peak RSS MB | vs peer "
          "| vs orjson floor | goals |", "|---|---|---|---|---|---|---|---|---|---|"]


def _row(name: str, fig: Figure, vs_peer: str, vs_floor: str, goals: str) -> str:
    cells = [name, fig.label, _fmt_rate(fig.rate), _fmt_s(fig.seconds), _fmt_s(fig.startup), _fmt_rate(fig.net_rate),
             _fmt_rss(fig.rss_mb), vs_peer, vs_floor, goals]
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _comparison_rows(comp: peers.Comparison, figs: list[Figure], orjson_rate: float | None, records: int,
                     n_arg: int) -> list[str]:
    """Ours first (its goals), then the peer and the other sides ("ours Nx": ours / that side).

    ``records``: what the comparison ran on; ``n_arg``: --records. A comparison with its own record
    count (``records=``, e.g. the HTTP taps) gets no orjson-floor ratio: that floor parses the bench
    stream, not what it read."""
    ours, peer = figs[0], (figs[1] if comp.peer is not None else None)
    by_label = {f.label: f for f in figs}

    def floor_ratio(f: Figure) -> str:
        return (f"{f.rate / orjson_rate:.0%}" if f.rate and orjson_rate and not comp.startup and comp.records is None
                else "-")

    def speed(f: Figure | None) -> float | None:
        return None if f is None else (f.net_rate if comp.startup else f.rate)

    def ratio(f: Figure | None) -> str:
        a, b = speed(ours), speed(f)
        return f"{a / b:.1f}x" if a and b else "-"

    goals = "; ".join(_judge(g, ours, peer, by_label, orjson_rate, comp.startup) for g in comp.goals
                      if g.kind != "rss")
    name = comp.name if comp.scale == 1 else f"{comp.name} (N x {comp.scale})"
    if comp.records is not None and records != n_arg:
        name = f"{comp.name} ({records:,} records)"
    rows = [_row(name, ours, ratio(peer), floor_ratio(ours), goals + (f" ({ours.note})" if ours.note else ""))]
    for fig in figs[1:]:
        rows.append(_row(name, fig, f"ours {ratio(fig)}" if speed(fig) else "-", floor_ratio(fig), fig.note))
    return rows


def _machine() -> list[str]:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor() or "?")
    mem_kb = next((int(ln.split()[1]) for ln in Path("/proc/meminfo").read_text().splitlines()
                   if ln.startswith("MemTotal:")), 0)
    date = subprocess.run(["date", "-u"], capture_output=True, text=True, check=False).stdout.strip()
    nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=False).stdout.strip()
    head = subprocess.run(["git", "-C", str(BENCH.parent), "log", "-1", "--format=%h %s"], capture_output=True,
                          text=True, check=False).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(BENCH.parent), "status", "--porcelain", "--", *CODE_PATHS],
                           capture_output=True, text=True, check=False).stdout.strip()
    return [f"- date: {date}",
            f"- code: {head or '?'}" + (" (plus uncommitted changes)" if dirty else ""),
            f"- machine: {nproc} cores, {cpu}, RAM {mem_kb / 1024 / 1024:.1f} GiB",
            f"- Python (harness, ours): {platform.python_version()} ({sys.executable})",
            "- peak RSS: " + ("child's own, via /usr/bin/time %M" if measure.rss_exact
                              else "os.wait4 ru_maxrss (no /usr/bin/time: may include the harness's RSS)")]


# -- main --------------------------------------------------------------------------------

def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    names = [c.name for c in peers.COMPARISONS]
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=200_000, metavar="N",
                        help="records in the stream (default 200000)")
    parser.add_argument("--only", nargs="+", choices=names, metavar="NAME", help=f"run only these: {', '.join(names)}")
    parser.add_argument("--repeat", type=int, default=1, metavar="K", help="alternating rounds ours/peer (default 1)")
    parser.add_argument("--stat", choices=["best", "median"], default="best",
                        help="how K runs become one figure: best (fastest wall time, default) or median")
    parser.add_argument("--rss-check", action="store_true",
                        help=f"also run our targets (and tap-postgres) at {RSS_SIZES[0]} and {RSS_SIZES[1]} records; "
                             "compare peak RSS")
    parser.add_argument("--label", default="", help="text added to the RESULTS.md heading (e.g. 'provisional')")
    parser.add_argument("--no-write", action="store_true", help="print only; do not append to bench/RESULTS.md")
    args = parser.parse_args(argv)
    if args.records < 1 or args.repeat < 1:
        parser.error("--records and --repeat must be positive")
    return args


def _rss_check(comps: Sequence[peers.Comparison], bins: dict[str, Path], skipped: set[str], stat: str,
               repeat: int) -> list[str]:
    rows = ["", "Peak RSS flatness (ours):", "",
            f"| ours | peak RSS MB at {RSS_SIZES[0]:,} | at {RSS_SIZES[1]:,} | change | goal |",
            "|---|---|---|---|---|"]
    for comp in comps:
        checked = comp.ours.kind == "target" or any(g.kind == "rss" for g in comp.goals)
        if not checked or comp.name in skipped:
            continue
        figs = []
        for size in RSS_SIZES:
            say(f"RSS check: {comp.name} at {size:,} records")
            ds = datagen.dataset(size, bins[""] / "tap-csv")
            why = _set_up(comp.ours, bins, ds)   # a tap's source is reloaded with this many rows
            figs.append(Figure(comp.ours.label, None, None, why) if why else
                        _alternate([comp.ours], bins, ds, repeat, stat, OUT / f"rss-{comp.name}")[0])
        small, big = figs[0].rss_mb, figs[1].rss_mb
        limit = next((g.threshold for g in comp.goals if g.kind == "rss"), 10.0)
        if small and big:
            change = (big - small) / small * 100
            verdict = f"+-{limit:g}%: {'PASS' if abs(change) <= limit else 'FAIL'}"
            rows.append(f"| {comp.name} | {small:,.1f} | {big:,.1f} | {change:+.1f}% | {verdict} |")
        else:
            why = figs[0].note or figs[1].note
            rows.append(f"| {comp.name} | {_fmt_rss(small)} | {_fmt_rss(big)} | - | n/a ({why}) |")
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    comps = [c for c in peers.COMPARISONS if not args.only or c.name in args.only]
    bins: dict[str, Path] = {"": peers.ours_bin()}
    notes: list[str] = []
    started = time.monotonic()
    load_start = os.getloadavg()[0]
    machine = _machine()
    when = time.strftime("%Y-%m-%d %H:%M", time.gmtime())

    say(f"inputs: {args.records:,} records")
    ds = datagen.dataset(args.records, bins[""] / "tap-csv")
    say(f"  {ds.stream_path} ({ds.stream_path.stat().st_size / 1e6:.1f} MB), {ds.csv_path}")

    venvs = {p.venv.name: p.venv for c in comps for p in (c.peer, *c.others) if p is not None and p.venv}
    for venv in venvs.values():
        try:
            bins[venv.name] = peers.ensure_venv(venv, say)
            quirk = f"; {venv.note}" if venv.note else ""
            notes.append(f"- peer {venv.name}: {peers.venv_description(venv)}{quirk}")
        except peers.InstallError as exc:
            notes.append(f"- peer {venv.name}: NOT INSTALLED: {exc}")

    orjson_fig, cat_fig = _floors(ds, args.repeat, args.stat)
    empty = datagen.dataset(0, bins[""] / "tap-csv") if any(c.startup for c in comps) else None
    table = list(HEADER)
    skipped: set[str] = set()
    for comp in comps:
        say(f"{comp.name}:")
        n = comp.records(args.records) if comp.records else args.records * comp.scale
        cds = ds if n == args.records and comp.data == "plain" else \
            datagen.dataset(n, bins[""] / "tap-csv", variant=comp.data)
        if comp.records and n != args.records:
            notes.append(f"- {comp.name}: runs on {n:,} records (its cap), not {args.records:,}")
        order = [p for p in (comp.ours, comp.peer, *comp.others) if p is not None]
        sides: list[peers.Program] = []
        placeholders: dict[str, Figure] = {}
        try:
            for program in order:
                why = _skip_reason(program, bins) or _set_up(program, bins, cds)
                if why:
                    notes.append(f"- skipped {program.label}: {why}")
                    placeholders[program.label] = Figure(program.label, None, None, f"skipped: {why}")
                    if program is comp.ours:
                        skipped.add(comp.name)
                    continue
                sides.append(program)
            units = comp.count(cds) if comp.count else cds.records
            measured = {f.label: f for f in _alternate(sides, bins, cds, args.repeat, args.stat, OUT / comp.name,
                                                       empty=empty if comp.startup else None, units=units)}
        finally:
            if comp.teardown is not None:
                comp.teardown()
        figs = [measured.get(p.label) or placeholders[p.label] for p in order]
        table += _comparison_rows(comp, figs, orjson_fig.rate, cds.records, args.records)
    table.append(_row("floor", orjson_fig, "-", "100%", ""))
    table.append(_row("floor", cat_fig, "-", f"{cat_fig.rate / orjson_fig.rate:.0%}" if cat_fig.rate and orjson_fig.rate
                      else "-", ""))
    if args.rss_check:
        table += _rss_check(comps, bins, skipped, args.stat, args.repeat)

    heading = (f"## {when} UTC: {args.records:,} records, "
               f"{args.repeat} round(s), {args.stat} of {args.repeat}" + (f" ({args.label})" if args.label else ""))
    command = "python bench/run.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    load_end = os.getloadavg()[0]
    section = [heading, "", *machine, f"- command: `{command.strip()}`",
               f"- elapsed: {time.monotonic() - started:.0f} s; 1-min load average {load_start:.2f} at start, "
               f"{load_end:.2f} at end", *notes, "", *table, ""]
    print("\n".join(section))
    if not args.no_write:
        with RESULTS.open("a", encoding="utf-8") as fh:
            fh.write("\n" + "\n".join(section))
        say(f"appended to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
