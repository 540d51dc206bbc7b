#!/usr/bin/env python3
"""The pyarrow floor of target-parquet: pyarrow by itself, JSON lines to one Parquet file.

    parquet_floor.py RECORDS_JSONL OUT_PARQUET [--compression snappy]

Reads the bench records (the "record" values of the stream, one JSON object per line) with
``pyarrow.json.read_json`` and the 10 columns' explicit types, the types target-parquet gives the
bench stream (amount float64, the date-times timestamp[us, UTC]), and writes them with
``pyarrow.parquet.write_table`` and the same compression. Timed by the harness as a whole process,
as ours is: start-up, the pyarrow import, reading and writing.
"""

from __future__ import annotations

import argparse

import pyarrow as pa
import pyarrow.json as pj
import pyarrow.parquet as pq

TIMESTAMP = pa.timestamp("us", tz="UTC")
SCHEMA = pa.schema([
    ("id", pa.int64()), ("name", pa.string()), ("email", pa.string()), ("amount", pa.float64()),
    ("quantity", pa.int64()), ("active", pa.bool_()), ("created_at", TIMESTAMP), ("updated_at", TIMESTAMP),
    ("category", pa.string()), ("note", pa.string()),
])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("records")
    parser.add_argument("out")
    parser.add_argument("--compression", default="snappy")
    args = parser.parse_args()
    table = pj.read_json(args.records, parse_options=pj.ParseOptions(explicit_schema=SCHEMA))
    pq.write_table(table, args.out, compression=args.compression)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
