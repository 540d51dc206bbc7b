"""Runs handed to the database as the JSON text they arrived in (the fast lane of a loader
whose database reads JSON lines itself: DuckDB's ``read_json``).

The chunked reader gives a run's "record" values as the exact bytes received, one per line
(:class:`protocol.RecordRun`), after validating every record against the stream's schema. For a
table whose columns :func:`targets.sql.rawrows.plan_raw_rows` would build in bulk, those bytes
*are* the chunk: nothing is decoded again or re-encoded. The database reads each column from the
record's field of the same name (keys compare exactly, extra keys are ignored, an absent key is
NULL) and converts the JSON value to the column's type itself, numbers from their text (a
decimal keeps every digit its scale holds; no float on the way).

The text is valid for the database's reader as it is: the fast lane's decoder has already
refused what a JSON reader would (invalid UTF-8, a lone UTF-16 surrogate escape), and such a
line reaches the reference lane, which names it. A table is left to the CSV builder when it
has a constant column that is not NULL (the table version, which differs between runs), a
field named by the empty string, or two fields whose names differ only in case (the reader's
columns are SQL names: never empty, compared without regard to case).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from targets.sql.rawrows import RawRows, plan_raw_rows
from targets.sql.table import TableSpec

__all__ = ["JsonRuns", "plan_runs"]


class JsonRuns(RawRows):
    """How one table's chunks are built from runs: their JSON text, as received."""

    fmt = "json"

    def build(self, values: list[Any], records: bytes | memoryview, version: int | None, *,
              faithful: bool = False) -> bytes | None:
        if not values or self._getter(values[0].__class__) is None:
            return None
        return bytes(records)  # no copy: the sink adds the newline after it as a part of its own


def plan_runs(spec: TableSpec, props: Mapping[str, Any], *, json: bool, keep_nul: bool = False,
              nul_removed: Any = None, backslash: bool = False) -> RawRows | None:
    """The bulk builder for ``spec``: a :class:`JsonRuns` where ``json`` (the loader reads
    JSON lines) and the table allows it, else the CSV builder of rawrows.py, else None."""
    plan = plan_raw_rows(spec, props, nul_removed, keep_nul=keep_nul, backslash=backslash)
    if plan is None or not json:
        return plan
    names = [f for _, f in plan.fields]
    if (any(kind != "null" for _, kind in plan.constants) or "" in names
            or len({n.casefold() for n in names}) < len(names)):
        return plan
    return JsonRuns(plan.fields, plan.constants, table=spec.table, nul_removed=nul_removed, keep_nul=keep_nul)
