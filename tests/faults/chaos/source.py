"""The chaos suite's source, oracle and destinations: what was sent, and what landed.

Every row is reduced to canonical JSON of the source's own fields (extra columns a target
adds are ignored, values are read back to the source's types), so the same plain-Python
comparison serves the four targets: a multiset of rows (count, duplicates, missing,
unexpected) and a checksum (the sum of the md5 of each canonical row).
"""

from __future__ import annotations

import csv
import hashlib
import json
import sqlite3
from collections import Counter
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from tests.faults.chaos.chaos_tap import SCHEMAS, STREAMS, source_row
from tests.integration.sql.helpers import require_duckdb

__all__ = ["KINDS", "STREAMS", "Check", "canonical", "check_stream", "read_rows", "source_rows", "target_config",
           "write_source_csv"]

KINDS = ("jsonl", "csv", "sqlite", "postgres", "duckdb")
FIELDS = {stream: list(schema["properties"]) for stream, schema in SCHEMAS.items()}
INTEGER_FIELDS = {stream: {f for f, p in schema["properties"].items() if p["type"] == "integer"}
                  for stream, schema in SCHEMAS.items()}


def canonical(stream: str, row: dict[str, Any]) -> str:
    """The row's own fields, integers as integers, as compact sorted JSON."""
    ints = INTEGER_FIELDS[stream]
    values = {f: (int(row[f]) if f in ints and row.get(f) is not None else row.get(f)) for f in FIELDS[stream]}
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def source_rows(stream: str, rows: int) -> list[str]:
    return [canonical(stream, source_row(stream, i)) for i in range(1, rows + 1)]


def write_source_csv(directory: Path, rows: int) -> dict[str, Path]:
    """One CSV file per stream, holding exactly the chaos tap's rows."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for stream in STREAMS:
        path = directory / f"{stream}.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, FIELDS[stream])
            writer.writeheader()
            writer.writerows(source_row(stream, i) for i in range(1, rows + 1))
        paths[stream] = path
    return paths


@dataclass
class Destination:
    kind: str
    root: Path
    dsn: str | None = None
    schema: str | None = None


def target_config(dest: Destination, batch_rows: int) -> dict[str, Any]:
    common: dict[str, Any] = {"batch_size_rows": batch_rows, "state_flush_seconds": 0}
    if dest.kind == "jsonl":
        return {**common, "destination_path": str(dest.root / "out")}
    if dest.kind == "csv":
        # append: a resumed run adds to the file (replace_file would keep only the last run's rows)
        return {**common, "output_path": str(dest.root / "out"), "overwrite_behavior": "append_records"}
    if dest.kind == "sqlite":
        return {**common, "database": str(dest.root / "warehouse.db")}
    if dest.kind == "duckdb":
        require_duckdb()
        return {**common, "path": str(dest.root / "warehouse.duckdb")}
    return {**common, "sqlalchemy_url": dest.dsn, "default_target_schema": dest.schema}


def read_rows(dest: Destination, stream: str) -> list[dict[str, Any]]:
    """Every row of a stream in the destination (none when the target never created it)."""
    cols = FIELDS[stream]
    if dest.kind == "jsonl":
        path = dest.root / "out" / f"{stream}.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if dest.kind == "csv":
        path = dest.root / "out" / f"{stream}.csv"
        if not path.exists():
            return []
        with path.open(newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    select = "select " + ", ".join(f'"{c}"' for c in cols)
    if dest.kind == "sqlite":
        path = dest.root / "warehouse.db"
        with closing(sqlite3.connect(str(path))) as conn:
            if not conn.execute("select 1 from sqlite_master where name = ?", (stream,)).fetchone():
                return []
            return [dict(zip(cols, r, strict=True)) for r in conn.execute(f'{select} from "{stream}"')]
    if dest.kind == "duckdb":
        return _duckdb_rows(dest.root / "warehouse.duckdb", stream, select, cols)
    with psycopg.connect(dest.dsn) as conn:
        if conn.execute("select to_regclass(%s)", (f'"{dest.schema}"."{stream}"',)).fetchone() == (None,):
            return []
        table = f'"{dest.schema}"."{stream}"'
        return [dict(zip(cols, r, strict=True)) for r in conn.execute(f"{select} from {table}".encode())]


def _duckdb_rows(path: Path, stream: str, select: str, cols: list[str]) -> list[dict[str, Any]]:
    import duckdb

    if not path.exists():
        return []
    with closing(duckdb.connect(str(path))) as conn:
        if not conn.execute("select 1 from duckdb_tables() where table_name = ?", [stream]).fetchone():
            return []
        return [dict(zip(cols, r, strict=True)) for r in conn.execute(f'{select} from "{stream}"').fetchall()]


def _checksum(rows: list[str]) -> int:
    return sum(int(hashlib.md5(r.encode()).hexdigest(), 16) for r in rows) % (1 << 128)


@dataclass
class Check:
    """How the destination's rows of one stream compare with the source's."""

    stream: str
    expected: int
    found: int
    duplicated: int  # rows present more often than in the source (each extra copy counted)
    missing: int
    unexpected: int
    checksum_ok: bool
    example: str | None

    @property
    def ok(self) -> bool:
        return (self.found == self.expected and not self.duplicated and not self.missing and not self.unexpected
                and self.checksum_ok)

    def describe(self) -> str:
        text = (f"{self.stream}: {self.found} rows, source {self.expected}; {self.duplicated} extra copies, "
                f"{self.missing} missing, {self.unexpected} not in the source; checksum "
                f"{'equal' if self.checksum_ok else 'differs'}")
        return text + (f"; e.g. {self.example}" if self.example else "")


def check_stream(dest: Destination, stream: str, rows: int) -> Check:
    expected = Counter(source_rows(stream, rows))
    found_rows = [canonical(stream, r) for r in read_rows(dest, stream)]
    found = Counter(found_rows)
    extra, missing = found - expected, expected - found
    duplicated = sum(n for row, n in extra.items() if row in expected)
    unexpected = sum(n for row, n in extra.items() if row not in expected)
    example = next(iter(extra or missing), None)
    if example is not None:
        example = ("extra " if example in extra else "missing ") + example
    return Check(stream, sum(expected.values()), len(found_rows), duplicated, sum(missing.values()), unexpected,
                 _checksum(found_rows) == _checksum(list(expected.elements())), example)
