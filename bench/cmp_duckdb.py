"""Issue 16: target-duckdb (upsert on key ``id``) against PyPI target-duckdb and DuckDB by itself.

The floor, tools/duckdb_floor.py, loads the same records from a JSON-lines file (written once
from the stream file, before the first run) into the same table with DuckDB's own JSON reader;
it runs as a subprocess and is timed whole, as ours is. Each side writes a fresh database file
in its own output directory; a run counts only when the table holds every record, each id once.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson
from checks import Check
from datagen import Dataset
from model import Comparison, Goal, Program, Venv

__all__ = ["DUCKDB_COMPARISONS", "PYPI_TARGET_DUCKDB"]

BENCH = Path(__file__).resolve().parent
TABLE = "bench"

PYPI_TARGET_DUCKDB = Venv(
    "target-duckdb", ("target-duckdb==0.8.0", "duckdb==1.1.3"),
    note="the Meltano Hub default variant (a PipelineWise-style target): CSV files through DuckDB's COPY, "
         "upserts by key; default settings. duckdb pinned to 1.1.3: with duckdb 2.0.1 (the newest when this was "
         "written, which its 'duckdb>=1.0.0' picks) its COPY takes the first CSV row for a header and the first "
         "record of every batch is lost",
)
FLOOR = "floor: DuckDB read_json (JSON lines, PK)"


def _records_path(ds: Dataset) -> Path:
    return ds.stream_path.with_suffix(".records.jsonl")


def _write_records(_bin: Path, ds: Dataset) -> None:
    """The "record" of every RECORD of the stream file, one per line, byte for byte (once per data set)."""
    path = _records_path(ds)
    if path.exists():
        return
    tmp = path.with_suffix(".tmp")
    with ds.stream_path.open("rb") as src, tmp.open("wb") as out:
        for line in src:
            if orjson.loads(line).get("type") == "RECORD":
                start = line.index(b'"record":') + len(b'"record":')
                out.write(line[start:line.rstrip().rindex(b"}")] + b"\n")
    tmp.replace(path)


def _check(db_name: str, schema: str = "main") -> Check:
    def check(out: Path, _stderr: Path, ds: Dataset) -> str:
        import duckdb  # the bench venv is ours: it has the extra

        path = out / db_name
        if not path.exists():
            return f"no database {path}"
        try:
            with duckdb.connect(str(path), read_only=True) as conn:
                found = conn.execute(f'SELECT count(*), count(DISTINCT id) FROM "{schema}".{TABLE}').fetchone()
        except duckdb.Error as exc:
            return f"cannot count {path}: {exc}"
        rows, ids = found or (0, 0)
        return "" if rows == ids == ds.records else f"{path} holds {rows} rows ({ids} ids), expected {ds.records}"
    return check


def _ours(out: Path, _ds: Dataset) -> dict[str, Any]:
    return {"path": str(out / "ours.duckdb"), "load_method": "upsert"}


def _peer(out: Path, _ds: Dataset) -> dict[str, Any]:
    return {"path": str(out / "peer.duckdb"), "filepath": str(out / "peer.duckdb"), "default_target_schema": "main"}


DUCKDB_COMPARISONS: tuple[Comparison, ...] = (
    Comparison(
        "target-duckdb",
        ours=Program("sluice target-duckdb", "target-duckdb", "target", _ours, _check("ours.duckdb")),
        peer=Program("PyPI target-duckdb", "target-duckdb", "target", _peer, _check("peer.duckdb"),
                     venv=PYPI_TARGET_DUCKDB),
        others=(Program(FLOOR, sys.executable, "command", None, _check("floor.duckdb"),
                        argv=lambda _bin, out, ds: [sys.executable, str(BENCH / "tools" / "duckdb_floor.py"),
                                                    str(_records_path(ds)), str(out / "floor.duckdb")],
                        setup=_write_records),),
        goals=(Goal("peer", 10), Goal("vs", 0.5, FLOOR, "DuckDB read_json")),
    ),
)
