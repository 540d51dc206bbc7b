#!/usr/bin/env python3
"""DuckDB by itself: the bench records from a JSON-lines file into a table, in one transaction.

    duckdb_floor.py RECORDS_JSONL DATABASE

RECORDS_JSONL holds one record object per line (the "record" of every RECORD of the stream
file, written before the first run, not timed). A fresh DATABASE gets the table target-duckdb
makes for the stream (the same column types, PRIMARY KEY (id)) and one
``INSERT INTO bench SELECT ... FROM read_json(...)``: DuckDB's own JSON reader, in C, in
parallel. The harness times this whole program (interpreter, import, connect, load, commit),
as it times ours; ``seconds=`` on stderr is the load alone, for reference.
"""

from __future__ import annotations

import sys
import time

import duckdb

COLUMNS = {"id": "HUGEINT", "name": "VARCHAR", "email": "VARCHAR", "amount": "DECIMAL(38,18)",
           "quantity": "HUGEINT", "active": "BOOLEAN", "created_at": "TIMESTAMPTZ", "updated_at": "TIMESTAMPTZ",
           "category": "VARCHAR", "note": "VARCHAR"}


def main(records: str, db_path: str) -> int:
    started = time.perf_counter()
    conn = duckdb.connect(db_path)
    try:
        ddl = ", ".join(f"{name} {kind}" for name, kind in COLUMNS.items())
        spec = ", ".join(f"'{name}': '{kind}'" for name, kind in COLUMNS.items())
        conn.execute("BEGIN TRANSACTION")
        conn.execute(f"CREATE TABLE bench ({ddl}, PRIMARY KEY (id))")
        conn.execute(f"INSERT INTO bench SELECT * FROM read_json('{records}', format='newline_delimited', "
                     f"columns={{{spec}}})")
        conn.execute("COMMIT")
        (rows,) = conn.execute("SELECT count(*) FROM bench").fetchone() or (0,)
    finally:
        conn.close()
    sys.stderr.write(f"seconds={time.perf_counter() - started:.6f} rows={rows}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
