"""What the target-parquet tests share: Singer lines, configs, and reading the files back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from protocol import dumps
from tests.conftest import exe, run, service_unavailable

__all__ = ["config", "duckdb_rows", "line", "need_readers", "parquet_files", "pyarrow_rows", "record",
           "run_target", "schema", "state"]


def need_readers() -> None:
    """pyarrow and DuckDB (both in the dev extra); skipped with the reason when absent (failed under CI)."""
    for module in ("pyarrow", "duckdb"):
        try:
            __import__(module)
        except ImportError:
            service_unavailable(f"{module} is not installed (pip install -e '.[dev]')")


def line(msg: dict[str, Any]) -> bytes:
    return dumps(msg) + b"\n"


def schema(stream: str, properties: dict[str, Any], **extra: Any) -> bytes:
    return line({"type": "SCHEMA", "stream": stream, "key_properties": ["id"],
                 "schema": {"type": "object", "properties": properties, **extra}})


def record(stream: str, rec: dict[str, Any]) -> bytes:
    return line({"type": "RECORD", "stream": stream, "record": rec})


def state(n: int) -> bytes:
    return line({"type": "STATE", "value": {"n": n}})


def config(tmp_path: Path, **settings: Any) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"destination_path": str(tmp_path / "out"), **settings}))
    return path


def run_target(tmp_path: Path, data: bytes, **settings: Any) -> Any:
    return run([exe("target-parquet"), "--config", str(config(tmp_path, **settings))], input=data)


def parquet_files(root: Path) -> list[Path]:
    """Every visible Parquet file under ``root`` (what a ``**/*.parquet`` glob sees)."""
    return sorted(root.rglob("*.parquet"))


def pyarrow_rows(directory: Path, sort: str = "id") -> list[dict[str, Any]]:
    """The rows of one file set as pyarrow's dataset reader sees them (hive partitions as columns)."""
    import pyarrow.dataset as ds

    table = ds.dataset(directory, format="parquet", partitioning="hive").to_table()
    return sorted(table.to_pylist(), key=lambda r: r[sort])


def duckdb_rows(directory: Path, columns: str = "*", order: str = "id") -> list[tuple[Any, ...]]:
    import duckdb

    query = (f"SELECT {columns} FROM read_parquet('{directory}/**/*.parquet', hive_partitioning = true) "
             f"ORDER BY {order}")
    with duckdb.connect() as conn:
        conn.execute("SET TimeZone = 'UTC'")
        return conn.execute(query).fetchall()
