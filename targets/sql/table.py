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
from targets.sql.types import INTEGER, LOGICAL_TYPES, NUMBER, accepts, widen, width

__all__ = [
    "AddColumn",
    "AddUniqueKey",
    "AlterColumn",
    "Column",
    "CreateTable",
    "Existing",
    "KeyChanged",
    "KeyTypeChanged",
    "SiblingTaken",
    "TableError",
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
    #: the declared field whose own column has the name of this column's sibling: where the type cannot
    #: change after all (PostgreSQL: a view depends on the column), no sibling can be added
    taken_by: str | None = None


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
    can_alter_key: bool = True,
) -> tuple[list[Action], TableSpec]:
    names = mapper.columns(w.field for w in wanted)
    if existing is None:
        return _create(wanted, key_fields, names, schema, table)

    actions: list[Action] = []
    have = dict(existing.columns)
    names = _existing_names(wanted, names, have, mapper)
    key = tuple(names[k] for k in key_fields)
    # each declared field's own column: never another field's sibling, never a sibling's name
    owners = {mapper.same_key(c): f for f, c in names.items()}
    keyed = {c for u in existing.unique_keys for c in u}
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
        candidates = [base] if is_key else [base, *_siblings(mapper, w.field, have, owners)]
        fitting = [c for c in candidates if accepts(have[c], w.logical)]
        if fitting:
            best = max(fitting, key=lambda c: (width(have[c]), c == base))
            columns.append(Column(best, have[best], w))
            superseded += [c for c in candidates if c != best]
            continue
        wider = widen(have[base], w.logical)
        if can_alter and (can_alter_key or not (is_key or base in keyed)):
            taken = owners.get(mapper.same_key(sibling_name(mapper, w.field, wider)))
            actions.append(AlterColumn(base, have[base], wider, w.field, taken_by=taken))
            have[base] = wider
            columns.append(Column(base, wider, w))
        elif is_key or can_alter:  # a key column's values are what rows are found by
            if can_alter or have[base] in (INTEGER, NUMBER):  # '007' would be found as 7, 7.5 not at all
                raise KeyTypeChanged(table, w.field, base, have[base], w.logical)
            columns.append(Column(base, have[base], w))
        else:
            sib = sibling_name(mapper, w.field, wider)
            if mapper.same_key(sib) in owners:
                raise SiblingTaken(table, (w.field, base), owners[mapper.same_key(sib)], sib, (have[base], wider))
            actions.append(AddColumn(sib, wider, sibling_of=base))
            have[sib] = wider
            columns.append(Column(sib, wider, w))
            superseded += candidates
    actions += _unique_key(existing, key, table)
    return actions, TableSpec(schema, table, columns, key, tuple(dict.fromkeys(superseded)))


def _create(wanted: list[Wanted], key_fields: list[str], names: dict[str, str], schema: str | None,
            table: str) -> tuple[list[Action], TableSpec]:
    key = tuple(names[k] for k in key_fields)
    cols = [Column(names[w.field], w.logical, w) for w in wanted]
    return [CreateTable(tuple((c.name, c.logical) for c in cols), key)], TableSpec(schema, table, cols, key)


def _siblings(mapper: IdentifierMapper, field_name: str, have: dict[str, str], owners: dict[str, str]) -> list[str]:
    """The sibling columns of a field in the table (``<field>__<type>``, see :func:`sibling_name`),
    leaving out the columns that are declared fields' own (a field "v__string" beside "v")."""
    found = (sibling_name(mapper, field_name, t) for t in LOGICAL_TYPES)
    return [s for s in found if s in have and mapper.same_key(s) not in owners]


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


class TableError(ValueError):
    """The table cannot take the stream as it is now; the message says what to do."""


class KeyChanged(TableError):
    """The stream's key properties add columns to a key the table already has."""

    def __init__(self, table: str, old: tuple[str, ...], new: tuple[str, ...]) -> None:
        self.table, self.old, self.new = table, old, new
        added = [c for c in new if c not in old]
        super().__init__(
            f"table {table} has the key ({', '.join(old)}) and the key properties make it ({', '.join(new)}): "
            f"rows that differ only in {', '.join(added)} cannot both be stored. Load the stream into a new "
            f"table (table_names), or drop the table (PostgreSQL: or its key's constraint) for the next run "
            f"to key it anew")


class KeyTypeChanged(TableError):
    """A key column that would need another type, where the database cannot change it (SQLite; DuckDB,
    whose key columns keep their type)."""

    def __init__(self, table: str, field_name: str, column: str, old: str, new: str) -> None:
        merge = old in (INTEGER, NUMBER) and new not in (INTEGER, NUMBER)
        why = ", and converting the values would merge keys ('007' and '7' are one integer)" if merge else ""
        super().__init__(
            f"key column {column} of table {table} holds {old} values and the stream now declares that key {new} "
            f"(key property {field_name!r}): the database cannot change a key column's type{why}. Load the stream "
            f"into a new table (table_names), or drop the table for the next run to create it anew")


class SiblingTaken(TableError):
    """A field whose column cannot change type needs a sibling column, and that column's name is the
    column of another declared field (``v`` widened to string, beside a field ``v__string``)."""

    def __init__(self, table: str, field: tuple[str, str], other: str, column: str, types: tuple[str, str]) -> None:
        (field_name, base), (old, new) = field, types
        super().__init__(
            f"property {field_name!r} now declares {new} values and its column {base} of table {table} holds "
            f"{old}: the database cannot change its type, and the column kept for its {new} values would be "
            f"{column}, which is the column of property {other!r}. Rename one of the two properties (a stream "
            f"map), or load the stream into a new table (table_names)")
