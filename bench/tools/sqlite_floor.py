#!/usr/bin/env python3
"""The raw SQLite floor: one executemany of every row, in one transaction, WAL mode.

    sqlite_floor.py CSV DATABASE

Reads the bench CSV into tuples first (not timed), then times: connect, WAL, CREATE TABLE
with the 10 columns and PRIMARY KEY (id), executemany of all tuples, commit. Prints
``seconds=<float>`` on stderr; the harness reads that instead of its wall time.
"""

from __future__ import annotations

import csv
import sqlite3
import sys
import time

DDL = ("CREATE TABLE bench (id INTEGER PRIMARY KEY, name TEXT, email TEXT, amount NUMERIC, quantity INTEGER, "
       "active INTEGER, created_at TEXT, updated_at TEXT, category TEXT, note TEXT)")


def main(csv_path: str, db_path: str) -> int:
    with open(csv_path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        next(reader)
        rows = [(int(r[0]), r[1], r[2], r[3], int(r[4]), r[5] == "true", r[6], r[7], r[8], r[9]) for r in reader]
    started = time.perf_counter()
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(DDL)
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO bench VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
        conn.execute("COMMIT")
    finally:
        conn.close()
    sys.stderr.write(f"seconds={time.perf_counter() - started:.6f} rows={len(rows)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
