"""Run target-sqlite / target-postgres / target-duckdb as real subprocesses and read back what landed."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import set_json_loads

from tests.conftest import exe, run, service_unavailable

TARGETS = ("sqlite", "postgres", "duckdb")


@dataclass
class Dest:
    """One destination database: how to configure the target, and how to read it back."""

    kind: str
    config_path: Path
    sqlite_path: Path | None = None  # SQLite and DuckDB: the database file
    dsn: str | None = None
    schema: str = "public"

    @property
    def exe(self) -> str:
        return exe(f"target-{self.kind}")

    def load(self, data: bytes, *extra: str, timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
        return run([self.exe, "--config", str(self.config_path), *extra], input=data, timeout=timeout)

    def tables(self, *, own: bool = False) -> set[str]:
        """The tables of the streams (``own``: also the target's own, named ``_sluice_*``)."""
        if self.kind == "sqlite":
            with _sqlite(self.sqlite_path) as conn:
                names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        elif self.kind == "duckdb":
            if self.sqlite_path is None or not self.sqlite_path.exists():
                return set()
            with _duckdb(self.sqlite_path) as conn:
                rows = conn.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = ?",
                                    [self.schema]).fetchall()
            names = {r[0] for r in rows}
        else:
            with psycopg.connect(self.dsn) as conn:
                rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (self.schema,)).fetchall()
                names = {r[0] for r in rows}
        return names if own else {n for n in names if not n.startswith("_sluice_")}

    def owners(self) -> dict[str, str]:
        """The target's record of which stream each table was created for."""
        table = "_sluice_tables" if self.kind == "sqlite" else f"{_q(self.schema)}._sluice_tables"
        return {str(t): str(s) for t, s in self.sql(f"SELECT table_name, stream FROM {table}")}

    def columns(self, table: str) -> dict[str, str]:
        """Column name -> declared SQL type (lower case)."""
        if self.kind == "sqlite":
            with _sqlite(self.sqlite_path) as conn:
                return {r[1]: str(r[2]).lower() for r in conn.execute(f"PRAGMA table_info({_q(table)})")}
        if self.kind == "duckdb":
            with _duckdb(self.sqlite_path) as conn:
                rows = conn.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = ? AND "
                                    "table_name = ? ORDER BY column_index", [self.schema, table]).fetchall()
            return {r[0]: str(r[1]).lower() for r in rows}
        with psycopg.connect(self.dsn) as conn:
            rows = conn.execute(
                "SELECT a.attname, format_type(a.atttypid, NULL) FROM pg_attribute a WHERE a.attrelid = "
                "to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
                (f"{_q(self.schema)}.{_q(table)}",)).fetchall()
            return {r[0]: r[1] for r in rows}

    def rows(self, table: str, columns: list[str] | None = None) -> list[dict[str, Any]]:
        """Every row, values normalised: numbers exact (Decimal or int), JSON parsed, booleans bool."""
        types = self.columns(table)
        cols = columns or list(types)
        select = ", ".join(_q(c) for c in cols)
        if self.kind == "sqlite":
            with _sqlite(self.sqlite_path) as conn:
                raw = conn.execute(f"SELECT {select} FROM {_q(table)}").fetchall()
            return [{c: _from_sqlite(v, types[c]) for c, v in zip(cols, r, strict=True)} for r in raw]
        if self.kind == "duckdb":
            raw = self.sql(f"SELECT {select} FROM {_q(self.schema)}.{_q(table)}")
            return [{c: _from_duckdb(v, types[c]) for c, v in zip(cols, r, strict=True)} for r in raw]
        with psycopg.connect(self.dsn, row_factory=dict_row) as conn:
            set_json_loads(_exact_json, conn)
            return [dict(r) for r in conn.execute(f"SELECT {select} FROM {_q(self.schema)}.{_q(table)}")]

    def execute(self, *statements: str) -> None:
        """Run statements and commit them (set-up done by hand, not by the target)."""
        if self.kind == "sqlite":
            with _sqlite(self.sqlite_path) as conn:
                for statement in statements:
                    conn.execute(statement)
                conn.commit()
            return
        if self.kind == "duckdb":
            with _duckdb(self.sqlite_path) as conn:
                for statement in statements:
                    conn.execute(statement)
            return
        with psycopg.connect(self.dsn) as conn:
            for statement in statements:
                conn.execute(statement.encode())

    def sql(self, query: str) -> list[tuple[Any, ...]]:
        if self.kind == "sqlite":
            with _sqlite(self.sqlite_path) as conn:
                return list(conn.execute(query).fetchall())
        if self.kind == "duckdb":
            with _duckdb(self.sqlite_path) as conn:
                return list(conn.execute(query).fetchall())
        with psycopg.connect(self.dsn) as conn:
            return list(conn.execute(query.encode()).fetchall())


class _sqlite:  # a context manager that closes (sqlite3's own only commits)
    def __init__(self, path: Path | None) -> None:
        self.conn = sqlite3.connect(str(path))

    def __enter__(self) -> sqlite3.Connection:
        return self.conn

    def __exit__(self, *exc: object) -> None:
        self.conn.close()


class _duckdb:  # a context manager that closes the file (DuckDB lets one process at a time open it)
    def __init__(self, path: Path | None) -> None:
        import duckdb

        self.conn = duckdb.connect(str(path))

    def __enter__(self) -> Any:
        return self.conn

    def __exit__(self, *exc: object) -> None:
        self.conn.close()


def _from_duckdb(value: Any, declared: str) -> Any:
    if value is not None and declared == "json":
        return json.loads(value, parse_float=Decimal)
    return value


def _exact_json(text: str | bytes) -> Any:
    return json.loads(text, parse_float=Decimal)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _from_sqlite(value: Any, declared: str) -> Any:
    if value is None:
        return None
    if declared == "decimal_text":
        return Decimal(value)
    if declared == "boolean":
        return bool(value)
    if declared == "json_text":
        return json.loads(value, parse_float=Decimal)
    return value


def require_duckdb() -> None:
    """Skip (fail under CI=true) when the duckdb extra is not installed."""
    try:
        import duckdb  # noqa: F401
    except ImportError:
        service_unavailable("duckdb is not installed: pip install 'sluice[duckdb]'")


def make_dest(kind: str, tmp_path: Path, pg_dsn: str | None, **settings: Any) -> Dest:
    config: dict[str, Any] = {"state_flush_seconds": 0, **settings}
    if kind == "sqlite":
        path = tmp_path / "warehouse.db"
        config.setdefault("database", str(path))
        dest = Dest(kind, tmp_path / "sqlite.json", sqlite_path=Path(config["database"]))
    elif kind == "duckdb":
        require_duckdb()
        config.setdefault("path", str(tmp_path / "warehouse.duckdb"))
        config.setdefault("default_target_schema", "main")
        dest = Dest(kind, tmp_path / "duckdb.json", sqlite_path=Path(config["path"]),
                    schema=config["default_target_schema"])
    else:
        assert pg_dsn is not None
        config.setdefault("sqlalchemy_url", pg_dsn)
        config.setdefault("default_target_schema", "public")
        dest = Dest(kind, tmp_path / "postgres.json", dsn=pg_dsn, schema=config["default_target_schema"])
    dest.config_path.write_text(json.dumps(config))
    return dest


def singer(*messages: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(m).encode() + b"\n" for m in messages)


def stdout_states(out: bytes) -> list[Any]:
    """The states a target emitted: bare state values (a STATE envelope is unwrapped)."""
    states = []
    for line in out.splitlines():
        if line.strip():
            obj = json.loads(line)
            is_envelope = isinstance(obj, dict) and obj.get("type") == "STATE" and "value" in obj
            states.append(obj["value"] if is_envelope else obj)
    return states


def error_lines(stderr: bytes) -> list[str]:
    return [line for line in stderr.decode().splitlines() if "| ERROR" in line]
