"""`sluice ui` over a big history: the dashboard's queries with 100,000 runs, and what the live view costs a run.

1. **Queries.** Fills a state store (SQLite, PostgreSQL or both) with ``--runs`` runs (100,000)
   across ``--pipelines`` pipelines (50; a few of them tenants' pipelines), from two hosts, each run
   with 1-3 streams' emitted/committed counts and its commands, the newest 100 of each pipeline
   with a 200-line log tail (as the runner keeps them), about 1 in 10 failed; then times what the
   pages ask of runner/ui/data.py: ``pipelines()`` (with a schedule's next due time per pipeline),
   ``history()`` (the newest 200 runs, and the page before them), ``run()``, ``progress()``,
   ``states()`` and ``locks()``: median and slowest of ``--repeat`` calls, in milliseconds.
2. **Live progress** (``--live``): the same real `sluice run` (a tap emitting ``--live-records``
   records over about ``--live-seconds`` s into bench/tools/count_target.py) with the progress
   timer on and with ``SLUICE_LIVE_PROGRESS=0``: the runner process's instructions under callgrind
   (all its threads; not the tap, the target or the database; machine load does not change them)
   and its wall time, alternating, best of ``--live-repeat``. The difference is the timer's cost.

PostgreSQL: SLUICE_TEST_PG (a server URL) or a throwaway cluster from the installed server binaries
(tests/pgserver.py), as the tests use. Wall-clock figures on a loaded machine mean little: the load
average is printed with them.

    python bench/uibench.py                          # both stores, 100,000 runs x 50 pipelines
    python bench/uibench.py --store sqlite --runs 20000 --repeat 5
    python bench/uibench.py --store sqlite --runs 1000 --live   # + the live view's cost to a run

:func:`filled` is reusable: it yields a project (sluice.yml with the pipelines and their schedules)
whose state store holds the history, for timing the rendering of the pages on top.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from protocol import dumps  # noqa: E402
from runner.project import Project, load_project  # noqa: E402
from runner.stores import open_store  # noqa: E402
from runner.stores.dashboard import LOG_TAIL_LINES, LOG_TAILS_KEPT  # noqa: E402
from runner.ui.data import DashboardData, open_dashboard_store  # noqa: E402

FIXTURES = ROOT / "tests" / "integration" / "runner" / "fixtures"
DAY = 86_400.0


def _pipelines(count: int) -> list[tuple[str, str | None]]:
    """(name, tenant): a fifth of them one tenant's copy of a for_each: pipeline."""
    names: list[tuple[str, str | None]] = []
    for i in range(count):
        names.append((f"orders@t{i:02d}", f"t{i:02d}") if i % 5 == 4 else (f"pipe-{i:02d}", None))
    return names


def _history(runs: int, pipelines: int, seed: int = 19) -> list[tuple[Any, ...]]:
    """Rows of sluice_runs in id order: (id, pipeline, tenant, started, ended, status, emitted,
    committed, error, host, number, keeps its log tail?), and their streams as a last item."""
    rng = random.Random(seed)
    names = _pipelines(pipelines)
    numbers = dict.fromkeys((name for name, _ in names), 0)
    start = time.time() - runs * 60.0
    rows = []
    for i in range(1, runs + 1):
        name, tenant = names[rng.randrange(len(names))]
        numbers[name] += 1
        started = start + i * 60.0
        failed = rng.random() < 0.1
        streams = [(f"stream_{k}", rng.randrange(10_000), None) for k in range(rng.randrange(1, 4))]
        streams = [(s, e, rng.randrange(e + 1) if failed else e) for s, e, _ in streams]
        emitted, committed = sum(s[1] for s in streams), sum(s[2] for s in streams)
        error = f"tap 'src' failed: connection reset at record {emitted}" if failed else None
        rows.append([i, name, tenant, started, started + rng.uniform(1, 300), "failed" if failed else "succeeded",
                     emitted, committed, error, "host-a" if i % 2 else "host-b", numbers[name], False, streams])
    for row in rows:  # as the runner keeps them: the log tails of each pipeline's newest runs only
        row[11] = row[10] > numbers[row[1]] - LOG_TAILS_KEPT
    return [tuple(row) for row in rows]


_RUN_COLUMNS = ("id, pipeline, state_id, tenant, started_at, ended_at, status, records_emitted, records_committed, "
                "error, host, pid, run_number")
_COMMANDS = dumps([["/usr/bin/tap-src", "--config", "/run/tap-src.config.json", "--state", "/run/state.json"],
                   ["/usr/bin/target-dst", "--config", "/run/target-dst.config.json"]]).decode()
_TAIL = "\n".join(f"2026-01-01T00:00:{k % 60:02d}.000Z tap    src | INFO fetched page {k} of the orders, "
                  "password=*** (redacted)" for k in range(LOG_TAIL_LINES))


def _rows(runs: int, pipelines: int) -> Iterator[tuple[tuple[Any, ...], tuple[Any, ...], list[tuple[Any, ...]]]]:
    """(run row, details row, stream rows) of each run."""
    for rid, name, tenant, started, ended, status, emitted, committed, error, host, number, tail, st in _history(
            runs, pipelines):
        yield ((rid, name, name, tenant, started, ended, status, emitted, committed, error, host, 1, number),
               (rid, _COMMANDS, _TAIL if tail else None), [(rid, s, e, c) for s, e, c in st])


def _fill_sqlite(path: Path, runs: int, pipelines: int) -> None:
    open_store(f"sqlite:{path}", path.parent).close()  # the schema, as the runner creates it
    db = sqlite3.connect(str(path), isolation_level=None)
    db.execute("begin")
    for run, details, streams in _rows(runs, pipelines):
        db.execute(f"insert into sluice_runs ({_RUN_COLUMNS}) values ({', '.join('?' * 13)})", run)
        db.execute("insert into sluice_run_details (run_id, commands, log_tail) values (?, ?, ?)", details)
        db.executemany("insert into sluice_run_streams (run_id, stream, emitted, committed) values (?, ?, ?, ?)",
                       streams)
    db.execute("commit")
    db.execute("analyze")
    db.close()


def _fill_postgres(url: str, runs: int, pipelines: int) -> None:
    import psycopg

    open_store(url, Path(".")).close()
    rows = list(_rows(runs, pipelines))
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.cursor() as cur:
            with cur.copy(f"copy sluice_runs ({_RUN_COLUMNS}) from stdin") as copy:
                for run, _, _ in rows:
                    copy.write_row((*run[:4], _ts(run[4]), _ts(run[5]), *run[6:]))
            with cur.copy("copy sluice_run_details (run_id, commands, log_tail) from stdin") as copy:
                for _, details, _ in rows:
                    copy.write_row(details)
            with cur.copy("copy sluice_run_streams (run_id, stream, emitted, committed) from stdin") as copy:
                for _, _, streams in rows:
                    for item in streams:
                        copy.write_row(item)
        conn.execute("select setval('sluice_runs_id_seq', (select max(id) from sluice_runs))")
        conn.execute("analyze")


def _ts(epoch: float) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC)


def _states(url: str, root: Path, pipelines: int) -> None:
    """A stored state per pipeline, as its runs left it (a bookmark per stream)."""
    with open_store(url, root) as store:
        for i, (name, _) in enumerate(_pipelines(pipelines)):
            store.set_state(name, {"bookmarks": {f"stream_{k}": {"replication_key": "updated_at",
                                                                 "replication_key_value": f"2026-01-{k + 1:02d}"}
                                                 for k in range(3)}})
            if i % 7 == 0:
                store.bump_generation(name)


def _write_project(root: Path, url: str, pipelines: int) -> Project:
    data = {"state_store": url,
            "connectors": [{"name": "src", "executable": "true"}, {"name": "dst", "executable": "true"}],
            "pipelines": [{"name": name, "tap": "src", "target": "dst", "schedule": f"{i % 60} */2 * * *"}
                          for i, (name, tenant) in enumerate(_pipelines(pipelines)) if tenant is None]}
    path = root / "sluice.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    _states(url, root, pipelines)
    return load_project(path)


@contextlib.contextmanager
def filled(kind: str, runs: int, pipelines: int, pg_server: str | None = None) -> Iterator[Project]:
    """A project whose state store (``kind``: sqlite or postgres on ``pg_server``) holds the history."""
    with tempfile.TemporaryDirectory(prefix="uibench-") as tmp:
        root = Path(tmp)
        if kind == "sqlite":
            path = root / "state.db"
            _fill_sqlite(path, runs, pipelines)
            yield _write_project(root, f"sqlite:{path}", pipelines)
            return
        import psycopg

        assert pg_server is not None
        name = f"uibench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f'create database "{name}"')
        try:
            url = pg_server.rsplit("/", 1)[0] + f"/{name}"
            _fill_postgres(url, runs, pipelines)
            yield _write_project(root, url, pipelines)
        finally:
            with psycopg.connect(pg_server, autocommit=True) as conn:
                conn.execute(f'drop database if exists "{name}" with (force)')


def _timed(call: Callable[[], object], repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        call()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), max(times)


def queries(data: DashboardData, repeat: int) -> list[tuple[str, float, float, int]]:
    """(query, median ms, slowest ms, rows) for each of the dashboard's reads."""
    rows = data.pipelines()
    busiest = max(rows, key=lambda row: row.last_run.number if row.last_run else 0)
    page = data.history(busiest.pipeline)
    some_run = page[len(page) // 2].id
    calls: list[tuple[str, Callable[[], list[Any] | Any]]] = [
        ("pipelines()", data.pipelines),
        (f"history('{busiest.pipeline}', 200)", lambda: data.history(busiest.pipeline)),
        ("history(.., before=200th)", lambda: data.history(busiest.pipeline, before=page[-1].id)),
        ("run(id)", lambda: data.run(some_run)),
        ("progress(id)", lambda: data.progress(some_run)),
        ("states()", data.states),
        ("locks()", data.locks),
    ]
    out = []
    for name, call in calls:
        result = call()
        median, worst = _timed(call, repeat)
        out.append((name, median, worst, len(result) if isinstance(result, list) else 1))
    return out


def _pg_server(stack: contextlib.ExitStack) -> str | None:
    server = os.environ.get("SLUICE_TEST_PG")
    if server:
        return server
    from tests.pgserver import ThrowawayServer, find_server_bin

    bindir = find_server_bin()
    if bindir is None:
        return None
    cluster = ThrowawayServer(bindir)
    stack.callback(cluster.stop)
    return cluster.start()


def _pages(project: Project, repeat: int) -> None:
    """The rendering half (bench/uibench_pages.py): the pages served, whole requests timed."""
    try:
        import uibench_pages
    except ImportError as exc:  # the extra 'ui' (Starlette, Uvicorn, Jinja2) is not installed
        print(f"pages: skipped ({exc}: pip install -e '.[ui]')")
        return
    uibench_pages.report(project, repeat)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--pipelines", type=int, default=50)
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=20, help="calls of each query timed (20)")
    parser.add_argument("--live", action="store_true", help="also: the live progress timer's cost to a real run")
    parser.add_argument("--live-records", type=int, default=200_000)
    parser.add_argument("--live-seconds", type=float, default=8.0)
    parser.add_argument("--live-repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"load average: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    with contextlib.ExitStack() as stack:
        for kind in (["sqlite", "postgres"] if args.store == "both" else [args.store]):
            server = _pg_server(stack) if kind == "postgres" else None
            if kind == "postgres" and server is None:
                print("postgres: skipped (no server binaries and SLUICE_TEST_PG is not set)")
                continue
            t0 = time.perf_counter()
            project = stack.enter_context(filled(kind, args.runs, args.pipelines, server))
            print(f"\n{kind}: {args.runs:,} runs across {args.pipelines} pipelines, filled in "
                  f"{time.perf_counter() - t0:.1f} s")
            with open_dashboard_store(project) as data:
                print(f"{'query':<34} {'median ms':>10} {'slowest ms':>11} {'rows':>6}")
                for name, median, worst, rows in queries(data, args.repeat):
                    print(f"{name:<34} {median:>10.2f} {worst:>11.2f} {rows:>6}")
            _pages(project, args.repeat)
    if args.live:
        from uibench_live import live_cost

        live_cost(args.live_records, args.live_seconds, args.live_repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
