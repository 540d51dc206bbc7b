"""The SQL core without a database: identifier mapping, type mapping, evolution plans."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from targets.sql.naming import EMPTY_NAME, IdentifierMapper, safe_identifier
from targets.sql.table import (
    AddColumn,
    AddUniqueKey,
    AlterColumn,
    CreateTable,
    Existing,
    KeyChanged,
    KeyTypeChanged,
    SiblingTaken,
    Wanted,
    plan_table,
)
from targets.sql.types import accepts, logical_type, utc_time, widen


def test_short_names_are_kept_as_they_are() -> None:
    for name in ("id", "Id", 'a"b', "semi;colon", "ünïcødé", " x "):
        assert safe_identifier(name, 63) == name


def test_long_names_map_to_prefix_and_hash_within_the_limit() -> None:
    a, b = "p" * 100 + "a", "p" * 100 + "b"
    ma, mb = safe_identifier(a, 63), safe_identifier(b, 63)
    assert ma != mb and len(ma.encode()) <= 63 and ma.startswith("p" * 50)
    assert safe_identifier(a, 63) == ma  # deterministic


def test_multibyte_names_are_cut_on_a_character_boundary() -> None:
    mapped = safe_identifier("名" * 40, 63)
    assert len(mapped.encode()) <= 63
    mapped.encode().decode()  # still valid UTF-8


def test_a_name_shaped_like_a_mapped_one_is_mapped_too() -> None:
    long_name = "q" * 80
    mapped = safe_identifier(long_name, 63)
    assert safe_identifier(mapped, 63) != mapped


def test_the_empty_name_is_mapped_like_an_unsafe_one_in_every_database() -> None:
    assert EMPTY_NAME == "_da39a3ee"
    for limit in (63, None):
        assert safe_identifier("", limit) == EMPTY_NAME
        assert safe_identifier(EMPTY_NAME, limit) not in (EMPTY_NAME, "")  # a literal one is mapped apart
        assert safe_identifier("\x00", limit) not in (EMPTY_NAME, "")


_NAMES = st.lists(st.sampled_from(["", EMPTY_NAME, "\x00", "Id", "id"]) | st.text(max_size=120), min_size=1,
                  max_size=8, unique=True)


@given(_NAMES)
def test_distinct_names_never_share_a_column(names: list[str]) -> None:
    for mapper, limit in ((IdentifierMapper(63), 63), (IdentifierMapper(None, case_insensitive=True), None)):
        mapped = mapper.columns(names)
        keys = {mapper.same_key(m) for m in mapped.values()}
        assert len(keys) == len(names) and "" not in keys
        assert limit is None or all(len(m.encode("utf-8", "surrogatepass")) <= limit for m in mapped.values())


def test_case_insensitive_databases_separate_names_differing_by_case() -> None:
    mapped = IdentifierMapper(None, case_insensitive=True).columns(["id", "Id", "ID", "name"])
    assert mapped["id"] == "id" and mapped["name"] == "name"
    assert len({m.lower() for m in mapped.values()}) == 4
    assert IdentifierMapper(None, case_insensitive=True).columns(["Id"]) == {"Id": "Id"}


@pytest.mark.parametrize(("prop", "logical"), [
    ({"type": "integer"}, "integer"),
    ({"type": ["null", "integer", "number"]}, "number"),
    ({"type": "number"}, "number"),
    ({"type": "string", "format": "date-time"}, "timestamp"),
    ({"type": ["string", "null"], "format": "date"}, "date"),
    ({"type": "string", "format": "time"}, "time"),
    ({"type": "string", "format": "x-singer.decimal"}, "number"),
    ({"anyOf": [{"type": "string", "format": "date-time"}, {"type": ["string", "null"]}]}, "string"),
    ({"type": ["boolean", "null"]}, "boolean"),
    ({"type": "object", "properties": {}}, "json"),
    ({"type": "array", "items": {"type": "string"}}, "json"),
    ({"type": ["string", "integer"]}, "string"),
    ({"type": ["object", "string"]}, "json"),
    ({}, "json"),
    ({"type": "string"}, "string"),
])
def test_json_schema_to_logical_type(prop: dict[str, object], logical: str) -> None:
    assert logical_type(prop) == logical


def test_widening_rules() -> None:
    assert widen("integer", "number") == "number"
    assert widen("number", "integer") == "number"
    assert widen("number", "string") == "string"
    assert widen("boolean", "integer") == "string"
    assert widen("timestamp", "json") == "json"
    assert widen("string", "integer") == "string"
    assert accepts("json", "boolean") and not accepts("integer", "number")


def _wanted(**types: str) -> list[Wanted]:
    return [Wanted(f, t) for f, t in types.items()]


def test_plan_creates_a_table_with_its_key() -> None:
    actions, spec = plan_table(None, _wanted(id="integer", v="string"), ["id"], IdentifierMapper(63),
                               can_alter=True, schema="s", table="t")
    assert actions == [CreateTable((("id", "integer"), ("v", "string")), ("id",))]
    assert spec.names == ["id", "v"] and spec.key == ("id",)


def test_plan_adds_and_alters_and_never_drops() -> None:
    existing = Existing({"id": "integer", "a": "integer", "old": "string"}, [("id",)])
    actions, spec = plan_table(existing, _wanted(id="integer", a="number", b="boolean"), ["id"],
                               IdentifierMapper(63), can_alter=True, schema=None, table="t")
    assert actions == [AlterColumn("a", "integer", "number", "a"), AddColumn("b", "boolean")]
    assert [(c.name, c.logical) for c in spec.columns] == [("id", "integer"), ("a", "number"), ("b", "boolean")]


def test_plan_adds_a_sibling_where_columns_cannot_change_and_keeps_using_it() -> None:
    existing = Existing({"id": "integer", "a": "integer"}, [("id",)])
    actions, spec = plan_table(existing, _wanted(id="integer", a="number"), ["id"], IdentifierMapper(None),
                               can_alter=False, schema=None, table="t")
    assert actions == [AddColumn("a__number", "number", sibling_of="a")]
    existing.columns["a__number"] = "number"
    actions, spec = plan_table(existing, _wanted(id="integer", a="integer"), ["id"], IdentifierMapper(None),
                               can_alter=False, schema=None, table="t")
    assert actions == [] and spec.columns[1].name == "a__number"


def test_plan_refuses_key_properties_that_widen_the_tables_key() -> None:
    """(id) -> (id, r): rows differing only in r would collide on the table's key (the database said
    "duplicate key", "only one primary key" or "ON CONFLICT clause does not match" before)."""
    existing = Existing({"id": "integer", "r": "string", "v": "string"}, [("id",)])
    with pytest.raises(KeyChanged) as info:
        plan_table(existing, _wanted(id="integer", r="string", v="string"), ["id", "r"], IdentifierMapper(63),
                   can_alter=True, schema=None, table="t")
    assert "table t has the key (id) and the key properties make it (id, r)" in str(info.value)
    assert "differ only in r" in str(info.value)
    # a key the table's key is part of (or the same key) is fine: distinct rows stay distinct
    wider = Existing({"id": "integer", "r": "string"}, [("id", "r")])
    actions, _ = plan_table(wider, _wanted(id="integer", r="string"), ["id"], IdentifierMapper(63),
                            can_alter=True, schema=None, table="t")
    assert actions == [AddUniqueKey(("id",))]
    same = Existing({"id": "integer", "r": "string"}, [("r", "id")])
    assert plan_table(same, _wanted(id="integer", r="string"), ["id", "r"], IdentifierMapper(63),
                      can_alter=True, schema=None, table="t")[0] == []


def test_plan_adds_a_unique_key_for_new_key_properties() -> None:
    existing = Existing({"id": "integer", "v": "string"}, [])
    actions, _ = plan_table(existing, _wanted(id="integer", v="string"), ["id"], IdentifierMapper(63),
                            can_alter=True, schema=None, table="t")
    assert actions == [AddUniqueKey(("id",))]


def test_plan_never_takes_a_declared_fields_column_for_a_sibling() -> None:
    """"v__string" is the name of v's sibling for strings, and here the column of a field of that name:
    each field keeps its own column (v's values went to v__string's, the wider of the two)."""
    existing = Existing({"id": "integer", "v": "integer", "v__string": "string"}, [("id",)])
    for can_alter in (True, False):
        actions, spec = plan_table(existing, _wanted(id="integer", v="integer", v__string="string"), ["id"],
                                   IdentifierMapper(None, case_insensitive=not can_alter), can_alter=can_alter,
                                   schema=None, table="t")
        assert actions == [] and spec.superseded == ()
        assert [(c.name, c.source.field) for c in spec.columns] == \
            [("id", "id"), ("v", "v"), ("v__string", "v__string")]


def test_plan_refuses_a_sibling_named_as_a_declared_fields_column() -> None:
    existing = Existing({"id": "integer", "v": "integer", "v__string": "string"}, [("id",)])
    wanted = _wanted(id="integer", v="string", v__string="string")
    with pytest.raises(SiblingTaken, match=r"property 'v' now declares string values and its column v of table t "
                                           r"holds integer.* would be v__string, which is the column of property "
                                           r"'v__string'\. Rename one of the two properties"):
        plan_table(existing, wanted, ["id"], IdentifierMapper(None), can_alter=False, schema=None, table="t")
    # where the column can change, it does; the sibling PostgreSQL would add if a view kept it is named taken
    actions, _ = plan_table(existing, wanted, ["id"], IdentifierMapper(63), can_alter=True, schema=None, table="t")
    assert actions == [AlterColumn("v", "integer", "string", "v", taken_by="v__string")]


@pytest.mark.parametrize(("can_alter", "can_alter_key"), [(False, False), (True, False)])
def test_plan_refuses_a_key_whose_column_cannot_change(can_alter: bool, can_alter_key: bool) -> None:
    """SQLite (no column changes) and DuckDB (no key column changes): integer -> number is refused, naming the
    key property; PostgreSQL alters the column."""
    existing = Existing({"id": "integer", "v": "string"}, [("id",)])
    wanted = _wanted(id="number", v="string")
    with pytest.raises(KeyTypeChanged, match="key column id of table t holds integer values and the stream now "
                                             r"declares that key number \(key property 'id'\)"):
        plan_table(existing, wanted, ["id"], IdentifierMapper(None), can_alter=can_alter,
                   can_alter_key=can_alter_key, schema=None, table="t")
    actions, _ = plan_table(existing, wanted, ["id"], IdentifierMapper(63), can_alter=True, schema=None, table="t")
    assert actions == [AlterColumn("id", "integer", "number", "id")]


@pytest.mark.parametrize(("sent", "stored"), [
    ("10:00:00+02:00", "08:00:00"), ("10:00:00-07:00", "17:00:00"), ("10:00:00Z", "10:00:00"),
    ("10:00:00z", "10:00:00"), ("23:30:15.123456789-02:00", "01:30:15.123456789"), ("00:10:00+0530", "18:40:00"),
    ("10:00:00", "10:00:00"), ("24:00:00", "24:00:00"), ("not a time", "not a time"), (5, 5), (None, None),
])
def test_a_time_with_an_offset_is_its_utc_time(sent: object, stored: object) -> None:
    assert utc_time(sent) == stored
