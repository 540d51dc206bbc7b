"""tap-webhook's drain: spooled deliveries per second, and instructions per delivery against parsing.

    .venv/bin/python bench/webhookdrain.py [--deliveries 200000] [--shape issue|push] [--repeat 3]
                                           [--callgrind 5000]

A spool of N GitHub-shaped deliveries with 1 KB JSON bodies (cached in bench/.data/) is drained by
``tap-webhook`` as a user runs it (stdout to /dev/null): deliveries/s by wall clock and by the
process's CPU time (the goal is >= 100,000/s). ``--shape push`` gives bodies full of hexadecimal
hashes, which the number screen cannot tell from long exponents (those bodies are parsed by orjson).

The same drain is then run in-process two ways over the same rows: ``splice`` (the tap's path: raw
bodies into lines) and ``parse`` (what a plain tap does: each body parsed with orjson, the record
dict encoded again). ``--callgrind M`` counts both under valgrind at M and 2M deliveries; the
difference over M is the marginal instructions per delivery (start-up cancels out), which machine
load cannot blur. Wall-clock figures on a loaded machine mean little: the load average is printed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402

from protocol import Catalog, MessageWriter  # noqa: E402
from taps.webhook.drain import Routes, drain  # noqa: E402
from taps.webhook.lines import Heads  # noqa: E402
from taps.webhook.reader import SqliteSpoolReader  # noqa: E402
from taps.webhook.settings import WebhookSettings  # noqa: E402
from taps.webhook.spool import SCHEMA  # noqa: E402
from taps.webhook.tap import TapWebhook  # noqa: E402

DATA = ROOT / "bench" / ".data"
TAP = Path(sys.executable).parent / "tap-webhook"
COLLECTED = re.compile(rb"==\d+== Collected : (\d+)")


def body(i: int, shape: str) -> bytes:
    """About 1 KB of JSON shaped like a GitHub delivery."""
    repo = {"id": 1296269, "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5", "full_name": "octocat/Hello-World",
            "html_url": "https://github.com/octocat/Hello-World", "private": False}
    if shape == "push":
        sha = [hashlib.sha1(f"{i}:{k}".encode()).hexdigest() for k in range(8)]
        doc = {"ref": "refs/heads/main", "before": sha[0], "after": sha[1], "repository": repo,
               "commits": [{"id": sha[k], "tree_id": sha[k + 1], "message": f"Fix #{i}",
                            "timestamp": "2026-12-05T03:03:06Z",
                            "author": {"name": "Mona", "email": "mona@example.com"}}
                           for k in range(2, 6)], "pusher": {"name": "mona"}, "sender": {"login": "octocat", "id": 1}}
    else:
        doc = {"action": "opened", "issue": {"number": i, "title": f"Issue {i}: the spool drains fast",
                                             "body": "Steps to reproduce: " + "lorem ipsum dolor sit amet " * 20,
                                             "labels": [{"name": "bug"}, {"name": "webhooks"}], "state": "open",
                                             "created_at": "2026-12-05T03:03:06Z", "comments": i % 7},
               "repository": repo, "sender": {"login": "octocat", "id": 1, "type": "User"}}
    return orjson.dumps(doc)


def spool(n: int, shape: str) -> Path:
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"webhook-drain-{shape}-{n}.db"
    if path.exists():
        return path
    part = path.with_suffix(".part")
    part.unlink(missing_ok=True)
    with closing(sqlite3.connect(part)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(SCHEMA)
        event = "push" if shape == "push" else "issues"
        db.executemany("INSERT INTO deliveries (source, delivery_id, event_type, received_at, headers, body) "
                       "VALUES (?, ?, ?, ?, ?, ?)",
                       (("gh", f"{i:08x}-cc78-11e3-81ab-4c9367dc0958", event, 1_764_900_000 + i / 1000,
                         json.dumps({"x-github-event": event, "x-github-hook-id": "292"}), body(i, shape))
                        for i in range(n)))
        db.commit()
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    part.rename(path)
    for extra in ("-wal", "-shm"):
        Path(str(part) + extra).unlink(missing_ok=True)
    return path


def config(path: Path) -> dict[str, object]:
    return {"spool": {"path": str(path)}, "sources": {"gh": {"provider": "github", "secrets": ["x"]}}}


def run_tap(path: Path) -> tuple[float, float]:
    """One drain by the console script: (wall seconds, CPU seconds)."""
    cfg = path.with_suffix(".json")
    cfg.write_text(json.dumps(config(path)))
    with open(os.devnull, "wb") as sink:
        start = time.perf_counter()
        proc = subprocess.Popen([str(TAP), "--config", str(cfg)], stdout=sink, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"tap-webhook exited {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime


def inner(path: Path, mode: str) -> None:
    """Drain in this process to /dev/null: the tap's splice path, or parse-and-encode-again."""
    tap = TapWebhook(config(path))
    settings = WebhookSettings.from_config(config(path))
    catalog = Catalog([s.catalog_entry() for s in tap.streams()])
    for entry in catalog:
        entry.select_all()
    with open(os.devnull, "wb") as sink:
        writer = MessageWriter(sink)
        reader = SqliteSpoolReader(str(path))
        upto = reader.horizon()
        routes = Routes(settings.sources, catalog, writer)
        if mode == "splice":
            drain(reader, 0, upto, routes, writer, lambda seq: writer.write_state({"seq": seq}))
        else:  # the same rows and record heads; each body parsed, each record encoded again
            loads, write = orjson.loads, writer.write_record
            heads = Heads(reader)
            for rows in reader.batches(0, upto, 5000):
                seqs, _sources, types, ids, micros, headers, bodies = zip(*rows, strict=True)
                columns = heads.columns(seqs, types, ids, micros, headers)
                for *parts, raw in zip(*columns, bodies, strict=False):  # columns may repeat a constant
                    record = loads(b"".join(parts) + b"null}")
                    record["body"] = loads(raw)
                    write("gh", record)
                writer.write_state({"seq": rows[-1][0]})
        writer.close()
        reader.close()


def callgrind(path: Path, mode: str) -> int:
    argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, __file__,
            "--inner", mode, "--spool", str(path)]
    done = subprocess.run(argv, capture_output=True, check=False, env={**os.environ, "PYTHONHASHSEED": "0"})
    found = COLLECTED.findall(done.stderr)
    if done.returncode != 0 or not found:
        raise SystemExit(f"callgrind failed: {done.stderr.decode(errors='replace')[-500:]}")
    return int(found[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--deliveries", type=int, default=200_000)
    ap.add_argument("--shape", choices=["issue", "push"], default="issue")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--callgrind", type=int, default=0, metavar="M", help="also count instructions at M and 2M")
    ap.add_argument("--inner", choices=["splice", "parse"], help=argparse.SUPPRESS)
    ap.add_argument("--spool", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inner:
        inner(Path(args.spool), args.inner)
        return
    path = spool(args.deliveries, args.shape)
    with closing(sqlite3.connect(path)) as db:
        size = db.execute("SELECT avg(length(body)) FROM deliveries").fetchone()[0]
    print(f"spool: {args.deliveries:,} deliveries, {args.shape} bodies of {size:.0f} bytes on average")
    print(f"load average: {open('/proc/loadavg').read().split()[:3]}")
    best_wall = best_cpu = float("inf")
    for _ in range(args.repeat):
        wall, cpu = run_tap(path)
        best_wall, best_cpu = min(best_wall, wall), min(best_cpu, cpu)
    n = args.deliveries
    print(f"tap-webhook (console script, stdout to /dev/null): {n / best_wall:,.0f} deliveries/s by wall clock, "
          f"{n / best_cpu:,.0f}/s by CPU time (best of {args.repeat}); goal >= 100,000/s")
    for mode in ("splice", "parse"):
        start = time.process_time()
        inner(path, mode)
        print(f"in-process {mode:6}: {n / (time.process_time() - start):,.0f} deliveries/s by CPU time")
    if args.callgrind:
        m = args.callgrind
        small, large = spool(m, args.shape), spool(2 * m, args.shape)
        per = {mode: (callgrind(large, mode) - callgrind(small, mode)) / m for mode in ("splice", "parse")}
        print(f"callgrind, marginal instructions per delivery ({m:,} -> {2 * m:,}): splice {per['splice']:,.0f}, "
              f"parse {per['parse']:,.0f} (parse / splice = {per['parse'] / per['splice']:.2f}x)")


if __name__ == "__main__":
    main()
