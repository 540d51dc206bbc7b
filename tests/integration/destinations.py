"""Every target behind one small interface: configure it, run it as a real process, read back
what landed (target-jsonl, target-csv, target-sqlite, target-postgres, target-duckdb)."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.conftest import exe, run
from tests.integration.sql.helpers import Dest, make_dest

KINDS = ("jsonl", "csv", "sqlite", "postgres", "duckdb")

# How a column is read back: "int", "str" (None for null / an empty CSV cell) or "json" (parsed).
Columns = dict[str, str]


@dataclass
class Destination:
    kind: str
    out: Path
    config_path: Path
    sql: Dest | None = None

    def load(self, data: bytes, *, fast: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
        env = {**os.environ, "SLUICE_FAST_PATH": "1" if fast else "0"}
        return run([exe(f"target-{self.kind}"), "--config", str(self.config_path)],
                   input=data, env=env, timeout=timeout)

    def rows(self, stream: str, columns: Columns) -> list[tuple[Any, ...]]:
        """The stream's rows as tuples of ``columns`` (in file or table order)."""
        if self.kind == "jsonl":
            path = self.out / f"{stream}.jsonl"
            if not path.exists():
                return []
            objs = [exact(raw) for raw in path.read_bytes().splitlines()]
            return [tuple(_plain(obj.get(c), k) for c, k in columns.items()) for obj in objs]
        if self.kind == "csv":
            path = self.out / f"{stream}.csv"
            if not path.exists():
                return []
            limit = csv.field_size_limit(1 << 30)  # cells as large as a line may be
            try:
                with path.open(newline="", encoding="utf-8") as fh:
                    return [tuple(_cell(row.get(c), k) for c, k in columns.items()) for row in csv.DictReader(fh)]
            finally:
                csv.field_size_limit(limit)
        assert self.sql is not None
        if stream not in self.sql.tables():
            return []
        select = ", ".join(f'"{c}"' if k != "json" or self.kind == "sqlite" else f'"{c}"::text' for c, k in
                           columns.items())
        table = {"sqlite": f'"{stream}"', "duckdb": f'main."{stream}"'}.get(self.kind, f'public."{stream}"')
        return [tuple(_sql(v, k) for v, k in zip(row, columns.values(), strict=True))
                for row in self.sql.sql(f"SELECT {select} FROM {table}")]


def make(kind: str, tmp_path: Path, pg_dsn: str | None, **settings: Any) -> Destination:
    out = tmp_path / "out"
    if kind in ("sqlite", "postgres", "duckdb"):
        dest = make_dest(kind, tmp_path, pg_dsn if kind == "postgres" else None, **settings)
        return Destination(kind, out, dest.config_path, dest)
    config = tmp_path / f"{kind}.json"
    config.write_text(json.dumps({"destination_path": str(out), "state_flush_seconds": 0, **settings}))
    return Destination(kind, out, config)


def _plain(value: Any, kind: str) -> Any:
    return value


def _integral(text: str) -> Any:
    return int(text) if text.lstrip("-").isdigit() else exact(text)


def _cell(text: str | None, kind: str) -> Any:
    if text is None or text == "":
        return None
    # an integer column may hold "0.0": a number such as 2.5e-400 reads as 0.0 in every JSON parser
    convert: Callable[[str], Any] = {"int": _integral, "str": str, "json": exact}[kind]
    return convert(text)


def _sql(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "json":
        return exact(value)
    return int(value) if kind == "int" else str(value)


@contextlib.contextmanager
def room() -> Iterator[None]:
    """Values nested 1,000 levels deep: json.loads and == recurse; give the interpreter room."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 20_000))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def exact(text: str | bytes) -> Any:
    """JSON text to Python, numbers exact (long digit runs are not float-rounded)."""
    with room():
        return json.loads(text, parse_float=Decimal)
