"""Issue 16: target-parquet against pyarrow by itself (tools/parquet_floor.py).

The floor reads the same records from a JSON-lines file (the stream's "record" values, written
once per record count under bench/.data/, not timed) with pyarrow's JSON reader and writes one
Parquet file with the same types and compression (snappy). Both are timed as whole processes.
Ours runs with its defaults (one commit at the end: the stream's STATEs come within
state_flush_seconds), so it writes one file too.
"""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
from datagen import Dataset
from model import Comparison, Goal, Program

__all__ = ["PARQUET_COMPARISONS", "records_jsonl"]

BENCH = Path(__file__).resolve().parent
FLOOR = "floor: pyarrow by itself (JSON lines -> Parquet)"


def records_jsonl(ds: Dataset) -> Path:
    """The stream's records as JSON lines (the floor's input), written once beside the stream file."""
    path = ds.stream_path.with_name(ds.stream_path.stem + "-records.jsonl")
    if path.exists():
        return path
    temp = path.with_suffix(".tmp")
    with ds.stream_path.open("rb") as src, temp.open("wb") as out:
        for raw in src:
            msg = orjson.loads(raw)
            if msg.get("type") == "RECORD":
                out.write(orjson.dumps(msg["record"]) + b"\n")
    temp.replace(path)
    return path


def _write_records(_bin: Path, ds: Dataset) -> None:
    records_jsonl(ds)


def _rows_check(out: Path, _stderr: Path, ds: Dataset) -> str:
    import pyarrow.parquet as pq

    files = sorted(out.rglob("*.parquet"))
    rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    if rows == ds.records:
        return ""
    return f"{rows} rows in {len(files)} Parquet file(s) under {out}, expected {ds.records}"


PARQUET_COMPARISONS: tuple[Comparison, ...] = (
    Comparison(
        "target-parquet",
        ours=Program("sluice target-parquet", "target-parquet", "target",
                     lambda out, _ds: {"destination_path": str(out), "compression": "snappy"}, _rows_check),
        peer=None,
        others=(Program(FLOOR, sys.executable, "command", None, _rows_check,
                        argv=lambda _bin, out, ds: [sys.executable, str(BENCH / "tools" / "parquet_floor.py"),
                                                    str(records_jsonl(ds)), str(out / "floor.parquet"),
                                                    "--compression", "snappy"],
                        setup=_write_records),),
        goals=(Goal("vs", 0.5, FLOOR, "pyarrow"),),
    ),
)
