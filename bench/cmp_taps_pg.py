"""Issue 5: tap-postgres, full table, into /dev/null, against public taps and a ``psql \\copy`` floor.

The source is ``src.bench`` in ``sluice_bench``: the bench CSV (N records, 10 columns, PRIMARY KEY
(id)) loaded once with ``psql \\copy`` before the first run. Each tap discovers once (not timed);
the harness selects ``src.bench`` with replication-method FULL_TABLE and deselects the rest. A
tap's run counts when its ``record_count`` METRIC lines add up to N. The floor is
``psql -c "\\copy (SELECT * FROM src.bench) TO '/dev/null'"``.

tap-postgres-e2e: ``sluice run`` of tap-postgres (the same catalog) into target-postgres (upsert into
a fresh schema before every run); it counts when the destination holds N rows with N distinct ids.
No goal: the figure is recorded. With ``--rss-check``, our tap's peak RSS is also measured at
200,000 and 1,000,000 rows: its setup reloads src.bench whenever it does not hold N rows.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pgbench
from checks import metric_count_check
from cmp_runner import warm
from cmp_sql import ours_pg, rows_check
from datagen import DATA_DIR, Dataset
from model import Comparison, Goal, Program, Venv
from runnerbench import sluice_argv

__all__ = ["MELTANOLABS_TAP_POSTGRES", "PIPELINEWISE_TAP_POSTGRES", "TAP_PG_COMPARISONS"]

SOURCE = "src"
CATALOGS = DATA_DIR / "catalogs"

PIPELINEWISE_TAP_POSTGRES = Venv("pipelinewise-tap-postgres", ("pipelinewise-tap-postgres",),
                                 pythons=("python3.11", "python3.10", "python3.12", "python3.9"))
MELTANOLABS_TAP_POSTGRES = Venv("meltanolabs-tap-postgres", ("meltanolabs-tap-postgres",),
                                note="built on singer-sdk; default settings")


def _ours_config(_out: Path | None = None, _ds: Dataset | None = None) -> dict[str, Any]:
    s = pgbench.settings()
    return {**s, "database": pgbench.DATABASE, "filter_schemas": [SOURCE]}


def _pipelinewise_config(_out: Path | None = None, _ds: Dataset | None = None) -> dict[str, Any]:
    s = pgbench.settings()
    return {**s, "password": s["password"] or "unused", "dbname": pgbench.DATABASE, "filter_schemas": SOURCE}


def _select(catalog: dict[str, Any]) -> dict[str, Any]:
    """Select src.bench (FULL_TABLE), deselect every other stream."""
    for stream in catalog.get("streams", []):
        top = next((m for m in stream.get("metadata", []) if m.get("breadcrumb") == []), None)
        if top is None:
            top = {"breadcrumb": [], "metadata": {}}
            stream.setdefault("metadata", []).append(top)
        md = top["metadata"]
        ours = md.get("schema-name", SOURCE) == SOURCE and (md.get("table-name") or stream.get("table_name")) == "bench"
        md["selected"] = bool(ours)
        if ours:
            md["replication-method"] = "FULL_TABLE"
    return catalog


def _discover(name: str, config: Callable[[], dict[str, Any]]) -> Callable[[Path, Path, Dataset], list[str]]:
    """An argv builder: ``EXE --config C --catalog CAT`` (``--properties`` for pipelinewise)."""
    def argv(bin_dir: Path, out: Path, _ds: Dataset) -> list[str]:
        conf = out.parent / "config.json"
        conf.write_bytes(orjson.dumps(config()))
        flag = "--properties" if "pipelinewise" in name else "--catalog"
        return [str(bin_dir / "tap-postgres"), "--config", str(conf), flag, str(CATALOGS / f"{name}.json")]
    return argv


def _setup(name: str, config: Callable[[], dict[str, Any]], load: bool) -> Callable[[Path, Dataset], None]:
    """Once: (for ours) load src.bench from the CSV unless it holds N rows already; discover with this tap
    and keep its selected catalog."""
    def setup(bin_dir: Path, ds: Dataset) -> None:
        if load and pgbench.count_rows(SOURCE) != (ds.records, ds.records):
            pgbench.fresh_schema(SOURCE, ddl=pgbench.FLOOR_DDL)
            subprocess.run(pgbench.psql_copy_argv(ds.csv_path, SOURCE), check=True, capture_output=True)
            subprocess.run(pgbench.psql_argv("VACUUM ANALYZE src.bench"), check=True, capture_output=True)
        CATALOGS.mkdir(parents=True, exist_ok=True)
        conf = CATALOGS / f"{name}.config.json"
        conf.write_bytes(orjson.dumps(config()))
        done = subprocess.run([str(bin_dir / "tap-postgres"), "--config", str(conf), "--discover"],
                              capture_output=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{name} --discover failed: {done.stderr.decode(errors='replace').strip()[-300:]}")
        (CATALOGS / f"{name}.json").write_bytes(orjson.dumps(_select(orjson.loads(done.stdout))))
    return setup


def _sluice_e2e(bin_dir: Path, _out: Path, _ds: Dataset) -> list[str]:
    """``sluice run`` of a throwaway project: tap-postgres (our selected catalog) | target-postgres (upsert)."""
    return sluice_argv(bin_dir, "tap-postgres-e2e", [
        {"name": "tap-postgres", "executable": str(bin_dir / "tap-postgres"), "config": _ours_config(),
         "catalog": str(CATALOGS / f"{OURS}.json")},
        {"name": "target-postgres", "executable": str(bin_dir / "target-postgres"), "config": ours_pg(E2E_SCHEMA)},
    ])


def _e2e_before(bin_dir: Path, ds: Dataset) -> None:
    """Before the warm-up run: src.bench holds N rows, our catalog exists, the destination schema is empty."""
    _setup(OURS, _ours_config, load=True)(bin_dir, ds)
    pgbench.fresh_schema(E2E_SCHEMA)


OURS, PW, ML = "sluice-tap-postgres", "pipelinewise-tap-postgres", "meltanolabs-tap-postgres"
PSQL_FLOOR = "floor: psql \\copy (SELECT ...) TO /dev/null"
E2E_SCHEMA = "bench_e2e"
E2E = "sluice run tap-postgres target-postgres"
COPY_OUT = f"\\copy (SELECT * FROM {SOURCE}.bench) TO '/dev/null'"

TAP_PG_COMPARISONS: tuple[Comparison, ...] = (
    Comparison(
        "tap-postgres",
        ours=Program("sluice tap-postgres", "tap-postgres", "command", None, metric_count_check,
                     argv=_discover(OURS, _ours_config), setup=_setup(OURS, _ours_config, load=True)),
        peer=Program(PW, "tap-postgres", "command", None, metric_count_check, venv=PIPELINEWISE_TAP_POSTGRES,
                     argv=_discover(PW, _pipelinewise_config), setup=_setup(PW, _pipelinewise_config, load=False)),
        others=(
            Program(ML, "tap-postgres", "command", None, metric_count_check, venv=MELTANOLABS_TAP_POSTGRES,
                    argv=_discover(ML, _ours_config), setup=_setup(ML, _ours_config, load=False)),
            Program(PSQL_FLOOR, "psql", "command", None, lambda _out, _err, _ds: "",
                    argv=lambda _bin, _out, _ds: pgbench.psql_argv(COPY_OUT)),
        ),
        # Issue 5: >= 25% of the psql floor, >= 8x pipelinewise, >= 12x meltanolabs, flat RSS.
        goals=(Goal("vs", 0.25, PSQL_FLOOR, "psql \\copy"), Goal("peer", 8), Goal("vs", 12, ML, "meltanolabs"),
               Goal("rss", 10)),
    ),
    Comparison(
        "tap-postgres-e2e",
        ours=Program(E2E, "sluice", "command", None, rows_check(E2E_SCHEMA), argv=_sluice_e2e,
                     setup=warm(_sluice_e2e, _e2e_before),
                     prepare=lambda _ds: pgbench.fresh_schema(E2E_SCHEMA), rss="self"),
        peer=None,
        goals=(),  # none: the end-to-end figure is recorded
    ),
)
