"""PostgreSQL for the SQL-target comparisons: the bench database, fresh schemas, row counts.

Every run writes into its own schema of the database ``sluice_bench`` (127.0.0.1:5432, user
postgres, or the PG* environment variables), dropped and re-created before the run, so each
run starts from an empty table. The ``psql \\copy`` floor loads the bench CSV into
``floor.bench``: the 10 columns and PRIMARY KEY (id), created fresh before each run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

__all__ = ["DATABASE", "FLOOR_SCHEMA", "PgUnavailable", "conninfo", "count_rows", "fresh_floor_table", "fresh_schema",
           "psql_argv", "psql_copy_argv", "settings"]

DATABASE = "sluice_bench"
FLOOR_SCHEMA = "floor"
TABLE = "bench"
FLOOR_DDL = """CREATE TABLE {}.bench (
    id bigint PRIMARY KEY, name text, email text, amount numeric, quantity bigint, active boolean,
    created_at timestamptz, updated_at timestamptz, category text, note text)"""


class PgUnavailable(RuntimeError):
    """The bench database could not be prepared (PostgreSQL down, no rights, ...)."""


def settings() -> dict[str, Any]:
    return {"host": os.environ.get("PGHOST", "127.0.0.1"), "port": int(os.environ.get("PGPORT", "5432")),
            "user": os.environ.get("PGUSER", "postgres"), "password": os.environ.get("PGPASSWORD", "")}


def conninfo(dbname: str = DATABASE) -> str:
    s = settings()
    return psycopg.conninfo.make_conninfo(host=s["host"], port=s["port"], user=s["user"], password=s["password"],
                                          dbname=dbname)


def _ensure_database() -> None:
    with psycopg.connect(conninfo("postgres"), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))


def fresh_schema(schema: str, *, ddl: str = "") -> None:
    """Drop ``schema`` with everything in it and create it empty again (then run ``ddl`` in it)."""
    try:
        _ensure_database()
        with psycopg.connect(conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
            if ddl:
                conn.execute(sql.SQL(ddl).format(sql.Identifier(schema)))  # type: ignore[arg-type]
            conn.execute("CHECKPOINT")  # the previous run's dirty pages are not this run's cost
    except psycopg.Error as exc:
        raise PgUnavailable(f"cannot prepare schema {schema} in {DATABASE}: {str(exc).strip()}") from exc


def fresh_floor_table() -> None:
    fresh_schema(FLOOR_SCHEMA, ddl=FLOOR_DDL)


def count_rows(schema: str, table: str = TABLE) -> tuple[int, int] | str:
    """(rows, distinct ids) of schema.table, or why they cannot be counted."""
    try:
        with psycopg.connect(conninfo()) as conn:
            row = conn.execute(sql.SQL("SELECT count(*), count(DISTINCT id) FROM {}.{}").format(
                sql.Identifier(schema), sql.Identifier(table))).fetchone()
    except psycopg.Error as exc:
        return f"cannot count {schema}.{table}: {str(exc).strip().splitlines()[0]}"
    assert row is not None
    return int(row[0]), int(row[1])


def psql_argv(command: str) -> list[str]:
    """``psql -c COMMAND`` on the bench database, stopping at the first error."""
    s = settings()
    return ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", s["host"], "-p", str(s["port"]), "-U", s["user"],
            "-d", DATABASE, "-c", command]


def psql_copy_argv(csv_path: Path, schema: str = FLOOR_SCHEMA) -> list[str]:
    """``\\copy SCHEMA.bench FROM 'CSV' WITH (FORMAT csv, HEADER)``."""
    return psql_argv(f"\\copy {schema}.{TABLE} FROM '{csv_path}' WITH (FORMAT csv, HEADER)")
