"""A pgoutput Relation bound to its stream: which value of a change is which column, converted how.

A Relation describes the table as it was when the changes after it were logged (logical decoding
reads the catalog of that time): its columns may have been renamed, retyped, added or dropped
since, and the stream's SCHEMA is the table of now. So:

- a change's values are matched to the stream's columns by the table's attribute numbers, not by
  the logged names: pgoutput sends the live, non-generated columns in attribute order, so the
  logged names, looked up among the attributes of now, must come in that order; when they do not
  (a column renamed since) and the table has no dropped column, the logged columns are the first
  ones of now; otherwise the change cannot be matched, and the stream fails with one line saying
  to take a new snapshot;
- each value is converted by the type it was logged with (the Relation's type oid); a value of a
  type the SCHEMA's cannot hold (``bool`` become ``int``, ``numeric`` become ``int``) fails the
  stream with one line naming the column and the fix (re-discover and take a new snapshot); a
  widening (``int`` to ``numeric``, ``timestamp`` to ``timestamptz`` and back, anything written as
  a string to ``text``) is converted as logged;
- the stream's columns a change does not carry (STORED generated columns, which logical decoding
  never sends, and columns added since) are ``absent``: cdc.py reads them from the table by the
  row's key, as it reads unchanged TOAST values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, NamedTuple

from protocol import FatalSourceError
from taps.postgres.client import Source
from taps.postgres.discovery import Column, kind_of
from taps.postgres.pgoutput import Relation
from taps.postgres.streams import StreamPlan
from taps.postgres.values import Converter, converter_for

__all__ = ["Attribute", "Target", "bind", "match_columns"]

#: the fix of a change the stream's columns cannot take
_RESNAPSHOT = ("take a new snapshot of the stream: drop its bookmark from the state (sluice state set), or run "
               "the pipeline once with --full-refresh")
#: (kind logged, kind of the SCHEMA) pairs whose values the SCHEMA holds; equal kinds always do
_WIDENINGS = {("int", "numeric"), ("int", "float"), ("numeric", "float"), ("float", "numeric"), ("ts", "tstz"),
              ("tstz", "ts")} | {(k, "text") for k in ("uuid", "enum", "date", "time", "tstz", "ts", "bytea")}

_ATTRIBUTES = ("SELECT attnum, attname, attisdropped, attgenerated <> '' FROM pg_attribute "
               "WHERE attrelid = %s AND attnum > 0 ORDER BY attnum")
_TYPES = """
SELECT t0.oid, t0.typname, t.typname, t.typtype, t.typcategory, et.typname, et.typtype
FROM pg_type t0
JOIN pg_type t ON t.oid = CASE WHEN t0.typtype = 'd' THEN t0.typbasetype ELSE t0.oid END
LEFT JOIN pg_type et0 ON et0.oid = t.typelem AND t.typcategory = 'A'
LEFT JOIN pg_type et ON et.oid = CASE WHEN et0.typtype = 'd' THEN et0.typbasetype ELSE et0.oid END
WHERE t0.oid = ANY(%s::oid[])
"""


class Attribute(NamedTuple):
    """One pg_attribute row of the table now."""

    num: int
    name: str
    dropped: bool
    generated: bool


@dataclass
class Target:
    """A decoded relation bound to its stream: (position in the change, column name, converter)."""

    plan: StreamPlan
    picks: list[tuple[int, str, Converter]]
    key_picks: list[tuple[int, str, Converter]]
    #: (position in the change, name) of the key columns logged as numeric or float: NaN, ±Infinity possible
    nonfinite_keys: list[tuple[int, str]] = field(default_factory=list)
    #: selected columns no change of this relation carries: read from the table (cdc.py)
    absent: list[str] = field(default_factory=list)
    #: why this relation's changes cannot be matched to the stream's columns (None: they can)
    problem: str | None = None


def match_columns(logged: Sequence[str], attributes: Sequence[Attribute]) -> list[str] | None:
    """The name now of each logged column, by attribute number; None when that cannot be told."""
    if not attributes:
        return list(logged)  # the table is gone (a new one took its name): its columns by name
    numbers = {a.name: a.num for a in attributes if not a.dropped}
    found = [numbers.get(name, 0) for name in logged]
    if all(found) and all(a < b for a, b in pairwise(found)):
        return list(logged)
    live = [a.name for a in attributes if not a.dropped and not a.generated]
    if not any(a.dropped for a in attributes) and len(logged) <= len(live):
        return live[:len(logged)]  # renamed since: the logged columns are the first live ones
    return None


def _kinds(source: Source, oids: Sequence[int]) -> dict[int, tuple[str, str | None, str]]:
    """Per type oid: (kind, element kind, type name); a type dropped since is text."""
    out: dict[int, tuple[str, str | None, str]] = {}
    for oid, name, typname, typtype, category, elem, elem_typtype in source.query(
            _TYPES, [list(oids)], doing="reading the types of logged changes"):
        kind = kind_of(typname, typtype, category)
        out[int(oid)] = (kind, kind_of(elem, elem_typtype, "") if kind == "array" and elem else None, str(name))
    return out


def _converter(plan: StreamPlan, column: Column, logged: tuple[str, str | None, str]) -> Converter:
    kind, element_kind, type_name = logged
    if (kind, element_kind) != (column.kind, column.element_kind) and (kind, column.kind) not in _WIDENINGS:
        return _refusal(plan.name, column, type_name)
    json_text = plan.surrogates.text_of(column.name) if "json" in (kind, element_kind) else None
    convert = converter_for(kind, element_kind, json_as_object=plan.json_as_object,
                            delimiter=column.element_delimiter, json_text=json_text)
    if kind in ("numeric", "float"):
        return plan.nonfinite.counting(column.name, convert)  # NaN, ±Infinity: null, counted
    return convert


def _refusal(stream: str, column: Column, type_name: str) -> Converter:
    def refuse(text: str) -> Any:
        raise FatalSourceError(
            f"stream '{stream}': column '{column.name}': a change logged while the column had type {type_name} "
            f"holds a value its SCHEMA (type {column.sql_type} now) cannot hold; re-discover the catalog and "
            f"{_RESNAPSHOT}")
    return refuse


def bind(source: Source, plan: StreamPlan, rel: Relation) -> Target:
    attributes = [Attribute(int(n), str(name), bool(d), bool(g))
                  for n, name, d, g in source.query(_ATTRIBUTES, [rel.relid], doing="reading the table's columns")]
    names = match_columns(rel.columns, attributes)
    if names is None:
        problem = (f"stream '{plan.name}': changes were logged with the columns {', '.join(rel.columns)} of "
                   f"{rel.schema}.{rel.name}, which cannot be matched to its columns now (renamed and dropped "
                   f"since); {_RESNAPSHOT}")
        return Target(plan, [], [], problem=problem)
    if not set(plan.keys) <= set(names):
        problem = (f"stream '{plan.name}': changes were logged before its key ({', '.join(plan.keys)}) was a column "
                   f"of {rel.schema}.{rel.name}; {_RESNAPSHOT}")
        return Target(plan, [], [], problem=problem)
    wanted = {c.name: c for c in plan.columns}
    oids = rel.type_oids or [0] * len(names)
    kinds = _kinds(source, sorted(set(oids)))
    picks = []
    nonfinite_keys = []
    for i, name in enumerate(names):
        column = wanted.get(name)
        if column is not None:
            logged = kinds.get(oids[i], (column.kind, column.element_kind, column.sql_type) if not oids[i]
                               else ("text", None, f"oid {oids[i]}"))
            picks.append((i, name, _converter(plan, column, logged)))
            if name in plan.keys and logged[0] in ("numeric", "float"):
                nonfinite_keys.append((i, name))
    # a deleted row is identified by its key; without one (REPLICA IDENTITY FULL) by its whole old row
    key_picks = [p for p in picks if p[1] in plan.keys] if plan.keys else picks
    absent = [c.name for c in plan.columns if c.name not in names]
    return Target(plan, picks, key_picks, nonfinite_keys, absent)
