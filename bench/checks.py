"""Output checks: a run that did not deliver every record does not count."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import orjson
from datagen import Dataset

__all__ = ["Check", "lines_check", "metric_count_check"]

Check = Callable[[Path, Path, Dataset], str]


def _count_lines(out: Path, pattern: str) -> tuple[int, int]:
    files = sorted(p for p in out.rglob(pattern) if p.is_file())
    lines = 0
    for path in files:
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                lines += chunk.count(b"\n")
    return len(files), lines


def lines_check(pattern: str, header: bool) -> Check:
    def check(out: Path, _stderr: Path, ds: Dataset) -> str:
        files, lines = _count_lines(out, pattern)
        rows = lines - (files if header else 0)
        if rows != ds.records:
            return f"wrote {rows} rows in {files} {pattern} file(s) under {out}, expected {ds.records}"
        return ""
    return check


_METRIC_COUNT = re.compile(rb"METRIC: (\{.*\"record_count\".*\})")


def metric_count_check(out: Path, stderr: Path, ds: Dataset) -> str:
    """A tap's stdout goes to /dev/null; its record_count METRIC lines say what it sent."""
    total = 0
    for match in _METRIC_COUNT.finditer(stderr.read_bytes()):
        point = orjson.loads(match.group(1))
        if point.get("type") == "counter":
            total += int(point.get("value", 0))
    return "" if total == ds.records else f"reported {total} records in record_count METRICs, expected {ds.records}"
