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
from targets.sql.types import INTEGER, NUMBER, accepts, widen, width

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
    #: the columns that held the spec's fields in other types (siblings, see plan_table): an upsert
    #: sets them to NULL, so a row never keeps an older value beside the one its field now has
    superseded: tuple[str, ...] = ()

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
    if existing is None:
        key = tuple(names[k] for k in key_fields)
        cols = [Column(names[w.field], w.logical, w) for w in wanted]
        create = CreateTable(tuple((c.name, c.logical) for c in cols), key)
        return [create], TableSpec(schema, table, cols, key)

    actions: list[Action] = []
    have = dict(existing.columns)
    names = _existing_names(wanted, names, have, mapper)
    key = tuple(names[k] for k in key_fields)
    columns: list[Column] = []
    superseded: list[str] = []
    for w in wanted:
        base = names[w.field]
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
            superseded += [c for c in candidates if c != best]
            continue
        wider = widen(have[base], w.logical)
        if can_alter:
            actions.append(AlterColumn(base, have[base], wider, w.field))
            have[base] = wider
            columns.append(Column(base, wider, w))
        elif is_key:  # kept: a key column's values are what rows are found by
            if have[base] in (INTEGER, NUMBER) and wider not in (INTEGER, NUMBER):
                raise KeyTypeChanged(table, base, have[base], w.logical)  # '007' would be found as 7
            columns.append(Column(base, have[base], w))
        else:
            sib = sibling_name(mapper, w.field, wider)
            actions.append(AddColumn(sib, wider, sibling_of=base))
            have[sib] = wider
            columns.append(Column(sib, wider, w))
            superseded += candidates
    actions += _unique_key(existing, key, table)
    return actions, TableSpec(schema, table, columns, key, tuple(dict.fromkeys(superseded)))


def _unique_key(existing: Existing, key: tuple[str, ...], table: str) -> list[Action]:
    """The key to add to a table that exists (none when it has it)."""
    if not key or any(set(u) == set(key) for u in existing.unique_keys):
        return []
    narrower = [u for u in existing.unique_keys if set(u) < set(key)]
    if narrower:  # rows that differ only in the added key columns could not both be stored
        raise KeyChanged(table, narrower[0], key)
    return [AddUniqueKey(key)]


def _existing_names(wanted: list[Wanted], names: dict[str, str], have: dict[str, str],
                    mapper: IdentifierMapper) -> dict[str, str]:
    """The columns of the fields of a table that exists. Where the database compares names without
    regard to case (SQLite, DuckDB), a field whose own name (or hashed name) is a column keeps it,
    whatever other fields the schema now has; a field whose name is a column's in another case
    takes that column (a table made by another program: "ID" for "id") unless the column is a
    field's own, in which case it gets its hashed name. So a column never changes fields between
    runs, and two fields never share one."""
    if not mapper.case_insensitive:
        return names
    own: dict[str, str] = {}
    for w in wanted:
        for name in (mapper.one(w.field), mapper.forced(w.field)):
            if name in have:
                own[w.field] = name
                break
    taken = set(own.values())
    folded = {n.lower(): n for n in have}
    mapped = {}
    for w in wanted:
        name = own.get(w.field, names[w.field])
        if w.field not in own and name not in have and name.lower() in folded:
            other = folded[name.lower()]
            name = mapper.forced(w.field) if other in taken else other
        mapped[w.field] = name
    return mapped


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


class KeyTypeChanged(KeyChanged):
    """A key column that would need another type, where the database cannot change it (SQLite)."""

    def __init__(self, table: str, column: str, old: str, new: str) -> None:
        ValueError.__init__(
            self, f"key column {column} of table {table} holds {old} values and the stream now declares that "
                  f"key {new}: the database cannot change a key column's type, and converting the values "
                  f"would merge keys ('007' and '7' are one integer). Load the stream into a new table "
                  f"(table_names), or drop the table for the next run to create it anew")
