"""What one PostgreSQL state store takes: lock round trips and state writes per second.

Issue 15's scale notes (docs/scaling.md, "Where the limits are"). With W worker processes, each
with its own store (as W concurrent runs have), every worker repeats, for its own state id:
take the pipeline's lock, start a run, write S states under the lock, finish the run, release.
Prints per-second rates of whole lock cycles and of state writes, against the local server
(pgbench.settings(), database sluice_bench, tables dropped first) or SLUICE_TEST_PG.

    python bench/storebench.py [--workers 1 4 8] [--cycles 50] [--states 20]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import pgbench  # noqa: E402
import psycopg  # noqa: E402

from runner.stores import open_store  # noqa: E402


def _url() -> str:
    url = os.environ.get("SLUICE_TEST_PG")
    if url:
        return url
    s = pgbench.settings()
    password = f":{s['password']}" if s["password"] else ""
    return f"postgresql://{s['user']}{password}@{s['host']}:{s['port']}/{pgbench.DATABASE}"


def _worker(args: tuple[str, int, int, int]) -> None:
    url, index, cycles, states = args
    store = open_store(url, Path("."))
    state_id = f"bench-{index}"
    try:
        for cycle in range(cycles):
            lock = store.lock(state_id)
            run = store.start_run(state_id, state_id)
            for n in range(states):
                store.set_state(state_id, {"bookmarks": {"s": {"position": cycle * states + n}}})
            store.finish_run(run.id, "succeeded", states, states, None)
            lock.release()
    finally:
        store.close()


def _reset(url: str) -> None:
    pgbench.fresh_schema("bench_store_unused")  # makes sure the database exists
    with psycopg.connect(url, autocommit=True) as conn:
        for table in ("sluice_state", "sluice_generation", "sluice_runs", "sluice_locks"):
            conn.execute(f"drop table if exists {table}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--cycles", type=int, default=50)
    parser.add_argument("--states", type=int, default=20)
    args = parser.parse_args()
    url = _url()
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print("| workers | lock cycles/s | state writes/s |")
    print("|---:|---:|---:|")
    for workers in args.workers:
        _reset(url)
        _worker((url, -1, 1, 1))  # creates the tables once, outside the timing
        started = time.perf_counter()
        with multiprocessing.Pool(workers) as pool:
            pool.map(_worker, [(url, i, args.cycles, args.states) for i in range(workers)])
        wall = time.perf_counter() - started
        cycles = workers * args.cycles
        print(f"| {workers} | {cycles / wall:,.0f} | {cycles * args.states / wall:,.0f} |")


if __name__ == "__main__":
    main()
