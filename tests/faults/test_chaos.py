"""The chaos suite: `sluice run` into each of our targets, one process killed at a random moment.

Per target kind, TRIALS trials (16 by default): the victim is the tap, the target or the
runner; the signal SIGKILL or SIGTERM; the delay drawn from the trial's seed; half the
trials run the chaos tap (a STATE every 100 rows per stream), half tap-csv (its bookmark moves only
at the end). Each kill is followed by reruns until one succeeds; then the keyed stream and
the keyless stream must each hold exactly the source's rows: the same count, no row twice,
the same checksum (computed in plain Python, tests/faults/chaos/source.py).

Environment: SLUICE_CHAOS_SEED (base seed; random when unset, printed on failure),
SLUICE_CHAOS_SEEDS (comma-separated trial seeds: run exactly those), SLUICE_CHAOS_TRIALS,
SLUICE_CHAOS_WORKERS (trials run at once, default 4).
"""

from __future__ import annotations

import os
import random
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.faults.chaos.source import KINDS, Destination
from tests.faults.chaos.trial import Trial, TrialResult, run_trial

TRIALS = int(os.environ.get("SLUICE_CHAOS_TRIALS", "16"))
WORKERS = int(os.environ.get("SLUICE_CHAOS_WORKERS", "4"))
BASE_SEED = int(os.environ.get("SLUICE_CHAOS_SEED") or random.SystemRandom().randrange(1, 1_000_000))

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def trial_seeds() -> list[int]:
    explicit = os.environ.get("SLUICE_CHAOS_SEEDS")
    if explicit:
        return [int(s) for s in explicit.split(",") if s.strip()]
    return [BASE_SEED * 1000 + i for i in range(TRIALS)]


@dataclass
class Chaos:
    kind: str
    results: list[TrialResult]

    def report(self, stream: str) -> str | None:
        failed = [r for r in self.results if r.failed(stream)]
        if not failed:
            return None
        by = Counter(f"{r.trial.tap}/{r.trial.victim}/{r.trial.sig.name}" for r in failed)
        head = (f"stream '{stream}' into target-{self.kind}: {len(failed)} of {len(self.results)} trials failed "
                f"(base seed {BASE_SEED}: rerun with SLUICE_CHAOS_SEED={BASE_SEED}, or one trial with "
                f"SLUICE_CHAOS_SEEDS=<seed>); by tap/victim/signal: {dict(sorted(by.items()))}")
        return head + "\n" + "\n".join(r.describe(stream) for r in failed)


@pytest.fixture(scope="module")
def about_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One --about cache for every trial (the runner keys it by program and version)."""
    return tmp_path_factory.mktemp("about-cache")


def _params() -> list[object]:
    return [pytest.param(k, marks=pytest.mark.postgres) if k == "postgres" else k for k in KINDS]


@pytest.fixture(scope="module", params=_params())
def chaos(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, about_cache: Path) -> Chaos:
    kind = request.param
    base = tmp_path_factory.mktemp(f"chaos-{kind}")
    database = _database(request.getfixturevalue("pg_server_dsn"), request) if kind == "postgres" else None

    def one(seed: int) -> TrialResult:
        root = base / f"trial-{seed}"
        (root / ".sluice").mkdir(parents=True)
        (root / ".sluice" / "cache").symlink_to(about_cache)
        dest = Destination(kind, root, dsn=database, schema=f"chaos_{seed}")
        return run_trial(Trial.from_seed(seed, kind), root, dest)

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        chaos = Chaos(kind, list(pool.map(one, trial_seeds())))
    (base / "trials.txt").write_text("".join(  # one line per trial, beside each trial's stderr files
        f"{r.trial.describe()}: victim {r.killed}; exits {r.first_rc} {r.reruns}; "
        + "; ".join(f"{s} {'ok' if not r.failed(s) else 'FAILED'}" for s in r.checks) + "\n"
        for r in chaos.results))
    return chaos


def _database(server: str, request: pytest.FixtureRequest) -> str:
    name = f"sluice_test_chaos_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')

    def drop() -> None:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')

    request.addfinalizer(drop)
    return server.rsplit("/", 1)[0] + f"/{name}"


def test_kills_reach_their_victims(chaos: Chaos) -> None:
    """The suite proves something only if most signals land while the victim still runs."""
    landed = [r for r in chaos.results if r.killed.startswith("sent")]
    assert len(landed) * 2 >= len(chaos.results), "\n".join(
        f"{r.trial.describe()}: victim {r.killed}" for r in chaos.results)


def test_keyed_stream_exactly_once_after_any_kill(chaos: Chaos) -> None:
    report = chaos.report("keyed")
    assert report is None, report


def test_keyless_stream_exactly_once_after_any_kill(chaos: Chaos) -> None:
    report = chaos.report("events")
    assert report is None, report
