"""Tables and their evolution: what the stream needs vs what the database has.

``plan_table`` compares the columns a stream needs with the table as it exists and
returns the DDL actions to run (never a drop) and the resulting column layout:

- a new field adds a column;
- a field whose type widened alters its column when the database can do so safely
  (``can_alter``); otherwise a sibling column ``<field>__<type>`` is added and the old
  one is kept as it is, so no value is ever lost or rewritten;
- a narrower type than the column's is written into the existing, wider column;
- key properties become the primary key (or a unique key on an existing table).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from targets.sql.naming import IdentifierMapper
from targets.sql.types import accepts, widen, width

__all__ = [
    "AddColumn",
    "AddUniqueKey",
    "AlterColumn",
    "Column",
    "CreateTable",
    "Existing",
    "KeyChanged",
    "TableSpec",
    "Wanted",
    "plan_table",
    "sibling_name",
]


@dataclass(frozen=True)
class Wanted:
    """One value a stream writes: a record field or a metadata column (``meta``)."""

    field: str
    logical: str
    meta: str | None = None


@dataclass(frozen=True)
class Column:
    name: str
    logical: str
    source: Wanted


@dataclass
class Existing:
    """A table as the database describes it."""

    columns: dict[str, str]
    unique_keys: list[tuple[str, ...]] = field(default_factory=list)


@dataclass(frozen=True)
class CreateTable:
    columns: tuple[tuple[str, str], ...]
    key: tuple[str, ...]


@dataclass(frozen=True)
class AddColumn:
    name: str
    logical: str
    sibling_of: str | None = None


@dataclass(frozen=True)
class AlterColumn:
    name: str
    old: str
    new: str
    field: str


@dataclass(frozen=True)
class AddUniqueKey:
    columns: tuple[str, ...]


Action = CreateTable | AddColumn | AlterColumn | AddUniqueKey


@dataclass
class TableSpec:
    """Where and how one stream lands: the table and the columns written, in order."""

    schema: str | None
    table: str
    columns: list[Column]
    key: tuple[str, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


def sibling_name(mapper: IdentifierMapper, field_name: str, logical: str) -> str:
    return mapper.one(f"{field_name}__{logical}")


def plan_table(
    existing: Existing | None,
    wanted: list[Wanted],
    key_fields: list[str],
    mapper: IdentifierMapper,
    *,
    can_alter: bool,
    schema: str | None,
    table: str,
) -> tuple[list[Action], TableSpec]:
    names = mapper.columns(w.field for w in wanted)
    key = tuple(names[k] for k in key_fields)
    if existing is None:
        cols = [Column(names[w.field], w.logical, w) for w in wanted]
        create = CreateTable(tuple((c.name, c.logical) for c in cols), key)
        return [create], TableSpec(schema, table, cols, key)

    actions: list[Action] = []
    have = dict(existing.columns)
    have_folded = {n.lower(): n for n in have} if mapper.case_insensitive else {}
    columns: list[Column] = []
    for w in wanted:
        base = names[w.field]
        if have_folded and base not in have and base.lower() in have_folded:
            base = have_folded[base.lower()]
        if base not in have:
            actions.append(AddColumn(base, w.logical))
            have[base] = w.logical
            columns.append(Column(base, w.logical, w))
            continue
        is_key = w.field in key_fields
        candidates = [base] if is_key else [base] + [
            s for s in (sibling_name(mapper, w.field, t) for t in set(have.values()) | {w.logical}) if s in have
        ]
        fitting = [c for c in candidates if accepts(have[c], w.logical)]
        if fitting:
            best = max(fitting, key=lambda c: (width(have[c]), c == base))
            columns.append(Column(best, have[best], w))
            continue
        wider = widen(have[base], w.logical)
        if can_alter:
            actions.append(AlterColumn(base, have[base], wider, w.field))
            have[base] = wider
            columns.append(Column(base, wider, w))
        elif is_key:
            columns.append(Column(base, have[base], w))
        else:
            sib = sibling_name(mapper, w.field, wider)
            actions.append(AddColumn(sib, wider, sibling_of=base))
            have[sib] = wider
            columns.append(Column(sib, wider, w))
    if key and not any(set(u) == set(key) for u in existing.unique_keys):
        narrower = [u for u in existing.unique_keys if set(u) < set(key)]
        if narrower:  # rows that differ only in the added key columns could not both be stored
            raise KeyChanged(table, narrower[0], key)
        actions.append(AddUniqueKey(key))
    return actions, TableSpec(schema, table, columns, key)


class KeyChanged(ValueError):
    """The stream's key properties add columns to a key the table already has."""

    def __init__(self, table: str, old: tuple[str, ...], new: tuple[str, ...]) -> None:
        self.table, self.old, self.new = table, old, new
        added = [c for c in new if c not in old]
        super().__init__(
            f"table {table} has the key ({', '.join(old)}) and the key properties make it ({', '.join(new)}): "
            f"rows that differ only in {', '.join(added)} cannot both be stored. Load the stream into a new "
            f"table (table_names), or drop the table (PostgreSQL: or its key's constraint) for the next run "
            f"to key it anew")
