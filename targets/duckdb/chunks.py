"""One chunk's load: the statements run on the connection's worker thread.

- streams without keys: ``INSERT INTO t SELECT ... FROM read_csv(...)``;
- streams with keys, when the chunk writes every column of the table and holds no key twice
  (the sink's gathered key stats tell, targets/sql/chunkkeys.py, or else one aggregate over
  the file): ``DELETE FROM t WHERE (keys) IN (SELECT keys FROM read_csv(...))``, only when
  the table may hold one of the chunk's keys (in its range, or not empty), then the insert
  above. DuckDB reads the file again for each; that costs less than its ``ON CONFLICT`` path;
- otherwise (a key twice in the chunk, or columns of the table the chunk does not write,
  whose values an upsert keeps): the file becomes a temp staging table (its ``rowid`` keeps
  the order of the records) and one statement upserts it, the last record of a key winning::

    INSERT INTO t SELECT ... FROM stage QUALIFY row_number() OVER (PARTITION BY keys
    ORDER BY rowid DESC) = 1 ON CONFLICT (keys) DO UPDATE SET col = excluded.col, ...
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from protocol import TargetError
from targets.sql.chunkkeys import KeyStats
from targets.sql.chunklines import ChunkOrigin
from targets.sql.dialect import quote_identifier
from targets.sql.table import TableSpec

__all__ = ["Execute", "LoadPlan", "qualified"]

#: a column of a chunk file, as an error names it
_CHUNK_COLUMN = re.compile(r'column "c(\d+)"')
#: DuckDB's JSON reader on an object holding a key twice (the key as JSON text would write it)
_DUPLICATE_KEY = re.compile(r'has duplicate key "((?:[^"\\]|\\.)*)"')

#: execute(what, sql, params=None) -> rows: one statement on the connection
Execute = Callable[..., list[Any]]


def qualified(schema: str | None, table: str) -> str:
    return f"{quote_identifier(schema)}.{quote_identifier(table)}" if schema else quote_identifier(table)


class LoadPlan:
    """The statements of one chunk's load, run on the connection's worker thread."""

    def __init__(self, spec: TableSpec, columns: list[str], source: str, *, whole: bool,
                 origin: tuple[Path, ChunkOrigin] | None = None) -> None:
        self.origin = origin  # a chunk of JSON lines: its file and the input line of each record
        self.target = qualified(spec.schema, spec.table)
        self.what = f"load into table {spec.table}"
        self.source = source
        self.columns = columns
        self.cols = ", ".join(quote_identifier(n) for n in columns)
        self.stage_cols = ", ".join(f"c{i}" for i in range(len(columns)))
        position = {n: i for i, n in enumerate(columns)}
        self.key_names = [quote_identifier(k) for k in spec.key]
        self.keys = [f"c{position[k]}" for k in spec.key]
        self.others = [n for n in columns if n not in spec.key]
        self.whole = whole  # the chunk writes every column of the table: delete + insert is an upsert

    def _upsert_unique(self, execute: Execute, keys: str, stats: KeyStats | None) -> bool:
        """Delete + insert when no key is twice in the chunk (False: it is, nothing done). With
        one key column, rows outside the chunk's key range are not looked at: the delete is
        skipped when the table holds none in it (row groups are pruned by their min/max). With
        ``stats`` (gathered by the sink, targets/sql/chunkkeys.py) the file is not read for them."""
        if stats is None:
            stats = self._stats(execute, keys)
        if not stats.unique:
            return False
        if stats.new:  # the sink knows the table holds none of the chunk's keys
            overlap = False
        elif stats.low is not None:
            key = self.key_names[0]
            ((overlap,),) = execute(self.what, f"SELECT EXISTS (SELECT 1 FROM {self.target} WHERE {key} >= ? AND "
                                               f"{key} <= ?)", (stats.low, stats.high))
        else:  # a key of several columns: only an empty table is known to hold none of the chunk's
            ((overlap,),) = execute(self.what, f"SELECT EXISTS (SELECT 1 FROM {self.target})")
        if overlap:
            match = f"({', '.join(self.key_names)}) IN (SELECT {keys} FROM {self.source})"
            execute(self.what, f"DELETE FROM {self.target} WHERE {match}")
        self.append(execute)
        return True

    def _stats(self, execute: Execute, keys: str) -> KeyStats:
        """The chunk's key stats, read from its file."""
        if len(self.keys) > 1:
            ((unique,),) = execute(self.what, f"SELECT count(*) = count(DISTINCT ({keys})) FROM {self.source}")
            return KeyStats(bool(unique))
        ((unique, low, high),) = execute(self.what, f"SELECT count(*) = count(DISTINCT {keys}), min({keys}), "
                                                    f"max({keys}) FROM {self.source}")
        return KeyStats(bool(unique), low, high)

    def load(self, execute: Execute, *, upsert: bool, keys: KeyStats | None = None) -> None:
        """The chunk's load; an error that names a column of the chunk file (``c0``...) names
        the table's column instead. ``keys``: the chunk's key stats, when the sink gathered them."""
        try:
            self.upsert(execute, keys) if upsert else self.append(execute)
        except TargetError as exc:
            twice = self._key_twice(str(exc))
            if twice is not None:
                raise twice from exc
            named = _CHUNK_COLUMN.sub(lambda m: f'column "{self.columns[int(m[1])]}"', str(exc))
            if named == str(exc):
                raise
            raise TargetError(named) from exc

    def _key_twice(self, error: str) -> TargetError | None:
        """DuckDB's JSON reader refusing an object that holds a key twice, said of the input's line
        (None: not that error, or not a chunk whose origin is known)."""
        found = _DUPLICATE_KEY.search(error)
        if found is None or self.origin is None:
            return None
        path, origin = self.origin
        line = twice_in(path, origin, found[1])
        if line is None:
            return None
        return TargetError(f"line {line}, stream '{origin.stream}', field '{found[1]}': the record holds this key "
                           "twice, which DuckDB's JSON reader refuses (the record-by-record path, SLUICE_FAST_PATH=0, "
                           "loads its last value)")

    def append(self, execute: Execute) -> None:
        execute(self.what, f"INSERT INTO {self.target} ({self.cols}) SELECT {self.stage_cols} FROM {self.source}")

    def upsert(self, execute: Execute, stats: KeyStats | None = None) -> None:
        keys = ", ".join(self.keys)
        if self.whole and self._upsert_unique(execute, keys, stats):
            return
        execute(self.what, f"CREATE OR REPLACE TEMP TABLE sluice_stage AS SELECT * FROM {self.source}")
        action = ("DO UPDATE SET " + ", ".join(f"{quote_identifier(n)} = excluded.{quote_identifier(n)}"
                                              for n in self.others)) if self.others else "DO NOTHING"
        execute(self.what, f"INSERT INTO {self.target} ({self.cols}) SELECT {self.stage_cols} FROM sluice_stage "
                f"QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY rowid DESC) = 1 "
                f"ON CONFLICT ({', '.join(self.key_names)}) {action}")
        execute(self.what, "DROP TABLE sluice_stage")


def twice_in(path: Path, origin: ChunkOrigin, key: str) -> int | None:
    """The input line of the first record of a chunk file of JSON lines whose top-level object
    holds ``key`` twice; None if there is none (or the file cannot be read again)."""
    try:
        with path.open("rb") as fh:
            for k, text in enumerate(fh):
                pairs = json.loads(text, object_pairs_hook=list)  # each object as the list of its pairs
                if sum(1 for name, _ in pairs if name == key) > 1:
                    return origin.line(k)
    except (OSError, ValueError):
        return None
    return None
