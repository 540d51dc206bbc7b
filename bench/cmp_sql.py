"""Issue 4: the SQL targets, in upsert mode (key ``id``), against public targets and raw floors.

target-postgres: ours, pipelinewise-target-postgres, meltanolabs-target-postgres and the
``psql \\copy`` floor (the bench CSV into a fresh table with the 10 columns and PRIMARY KEY (id)).
Each writes into its own schema of the database ``sluice_bench``, dropped and re-created before
every run. target-sqlite: ours against a raw ``executemany`` floor (tools/sqlite_floor.py).
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import datagen
import pgbench
from checks import Check
from datagen import Dataset
from model import Comparison, Goal, Program, Venv

__all__ = ["MELTANOLABS_TARGET_POSTGRES", "PIPELINEWISE_TARGET_POSTGRES", "SQL_COMPARISONS", "fresh", "ours_pg",
           "rows_check"]

BENCH = Path(__file__).resolve().parent

PIPELINEWISE_TARGET_POSTGRES = Venv(
    "pipelinewise-target-postgres", ("pipelinewise-target-postgres==2.1.2",),
    pythons=("python3.11", "python3.10", "python3.12", "python3.9"),
    note="2.1.2 (2023) with psycopg2-binary 2.9.5 installs from wheels on CPython 3.11; it always upserts "
         "(MERGE through a temp table) when the stream has key properties",
)
MELTANOLABS_TARGET_POSTGRES = Venv(
    "meltanolabs-target-postgres", ("meltanolabs-target-postgres",),
    note="built on singer-sdk; load_method upsert, add_record_metadata false (no _sdc_ columns, as ours) and so "
         "activate_version false (it refuses one without the other), otherwise default settings (validate_records on)",
)


# -- PostgreSQL ------------------------------------------------------------------------------

def rows_check(schema: str, table: str = pgbench.TABLE) -> Check:
    """Every record of the data set landed in ``schema.table``, each id once."""
    def check(_out: Path, _stderr: Path, ds: Dataset) -> str:
        counted = pgbench.count_rows(schema, table)
        if isinstance(counted, str):
            return counted
        rows, ids = counted
        if rows == ids == ds.records:
            return ""
        return f"{schema}.{table} holds {rows} rows ({ids} ids), expected {ds.records}"
    return check


def fresh(schema: str) -> Callable[[Dataset], None]:
    return lambda _ds: pgbench.fresh_schema(schema)


def ours_pg(schema: str) -> dict[str, Any]:
    s = pgbench.settings()
    return {"host": s["host"], "port": s["port"], "user": s["user"], "password": s["password"],
            "database": pgbench.DATABASE, "default_target_schema": schema, "load_method": "upsert"}


def _pipelinewise_pg(schema: str) -> dict[str, Any]:
    """It insists on a non-empty password; under trust auth the server never asks for it."""
    s = pgbench.settings()
    return {"host": s["host"], "port": s["port"], "user": s["user"], "password": s["password"] or "unused",
            "dbname": pgbench.DATABASE, "default_target_schema": schema, "primary_key_required": True}


# As ours: no _sdc_* columns. It refuses activate_version without them; the stream has no ACTIVATE_VERSION.
_NO_METADATA = {"add_record_metadata": False, "activate_version": False}
OURS_PG, PW_PG, ML_PG = "bench_sluice", "bench_pipelinewise", "bench_meltanolabs"
PSQL_FLOOR = "floor: psql \\copy (CSV, PK)"
MELTANOLABS = "meltanolabs-target-postgres"

# -- SQLite -----------------------------------------------------------------------------------

def _sqlite_check(db_name: str) -> Check:
    def check(out: Path, _stderr: Path, ds: Dataset) -> str:
        path = out / db_name
        if not path.exists():
            return f"no database {path}"
        conn = sqlite3.connect(path)
        try:
            rows, ids = conn.execute("SELECT count(*), count(DISTINCT id) FROM bench").fetchone()
        except sqlite3.Error as exc:
            return f"cannot count {path}: {exc}"
        finally:
            conn.close()
        return "" if rows == ids == ds.records else f"{path} holds {rows} rows ({ids} ids), expected {ds.records}"
    return check


SQLITE_FLOOR = "floor: sqlite3 executemany (in-process)"

# -- escaped text (issue 12) -----------------------------------------------------------------

PLAIN_SAME = "sluice target-postgres, plain data"


def _plain_argv(bin_dir: Path, out: Path, ds: Dataset) -> list[str]:
    """Ours on the plain data set of the same size, as a command (stdin from the plain stream file)."""
    plain = datagen.dataset(ds.records, bin_dir / "tap-csv")
    config = out / "config.json"
    config.write_bytes(json.dumps(ours_pg(PLAIN_PG)).encode())
    return ["sh", "-c", 'exec "$0" --config "$1" < "$2"', str(bin_dir / "target-postgres"), str(config),
            str(plain.stream_path)]


ESC_PG, PLAIN_PG = "bench_sluice_escaped", "bench_sluice_plain"

SQL_COMPARISONS: tuple[Comparison, ...] = (
    Comparison(
        "target-postgres",
        ours=Program("sluice target-postgres", "target-postgres", "target", lambda _out, _ds: ours_pg(OURS_PG),
                     rows_check(OURS_PG), prepare=fresh(OURS_PG)),
        peer=Program("pipelinewise-target-postgres 2.1.2", "target-postgres", "target",
                     lambda _out, _ds: _pipelinewise_pg(PW_PG), rows_check(PW_PG), venv=PIPELINEWISE_TARGET_POSTGRES,
                     prepare=fresh(PW_PG)),
        others=(
            Program(MELTANOLABS, "target-postgres", "target",
                    lambda _out, _ds: {**ours_pg(ML_PG), **_NO_METADATA}, rows_check(ML_PG),
                    venv=MELTANOLABS_TARGET_POSTGRES, prepare=fresh(ML_PG)),
            Program(PSQL_FLOOR, "psql", "command", None, rows_check(pgbench.FLOOR_SCHEMA),
                    argv=lambda _bin, _out, ds: pgbench.psql_copy_argv(ds.csv_path),
                    prepare=lambda _ds: pgbench.fresh_floor_table()),
        ),
        goals=(Goal("vs", 0.5, PSQL_FLOOR, "psql \\copy"), Goal("peer", 5), Goal("vs", 18, MELTANOLABS, "meltanolabs"),
               Goal("mb", 150), Goal("rss", 10)),
    ),
    Comparison(
        "target-sqlite",
        ours=Program("sluice target-sqlite", "target-sqlite", "target",
                     lambda out, _ds: {"database": str(out / "bench.db"), "load_method": "upsert"},
                     _sqlite_check("bench.db")),
        peer=None,
        others=(Program(SQLITE_FLOOR, sys.executable, "command", None, _sqlite_check("floor.db"),
                        argv=lambda _bin, out, ds: [sys.executable, str(BENCH / "tools" / "sqlite_floor.py"),
                                                    str(ds.csv_path), str(out / "floor.db")],
                        timing="reported"),),
        goals=(Goal("rss", 10),),
    ),
    Comparison(
        # Every record with a quote, a newline and \u-escaped non-ASCII text, as singer-python
        # writes it; against the COPY floor of the same rows and ours on the plain rows.
        "target-postgres-escaped",
        ours=Program("sluice target-postgres, escaped data", "target-postgres", "target",
                     lambda _out, _ds: ours_pg(ESC_PG), rows_check(ESC_PG), prepare=fresh(ESC_PG)),
        peer=None,
        others=(
            Program(PLAIN_SAME, "sh", "command", None, rows_check(PLAIN_PG), argv=_plain_argv,
                    prepare=fresh(PLAIN_PG)),
            Program(PSQL_FLOOR, "psql", "command", None, rows_check(pgbench.FLOOR_SCHEMA),
                    argv=lambda _bin, _out, ds: pgbench.psql_copy_argv(ds.csv_path),
                    prepare=lambda _ds: pgbench.fresh_floor_table()),
        ),
        goals=(Goal("vs", 0.5, PSQL_FLOOR, "psql \\copy"), Goal("vs", 0.91, PLAIN_SAME, "plain data (time +<= 10%)")),
        data="escaped",
    ),
)
