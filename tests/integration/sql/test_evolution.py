"""Schema evolution: new fields add columns, widened types alter (PostgreSQL, DuckDB) or get a
sibling column (SQLite, or a PostgreSQL column a view depends on); nothing is ever dropped or lost."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.integration.sql.helpers import Dest, error_lines, singer


def _schema(**props: Any) -> dict[str, Any]:
    return {"type": "SCHEMA", "stream": "evo", "key_properties": ["id"],
            "schema": {"type": "object", "properties": {"id": {"type": "integer"}, **props}}}


def _rec(**record: Any) -> dict[str, Any]:
    return {"type": "RECORD", "stream": "evo", "record": record}


V1 = _schema(a={"type": ["integer", "null"]}, b={"type": ["number", "null"]}, gone={"type": ["string", "null"]})
V2 = _schema(a={"type": ["number", "null"]}, b={"type": ["string", "null"]}, c={"type": ["boolean", "null"]})
V3 = _schema(a={"type": ["integer", "null"]}, b={"type": ["number", "null"]}, c={"type": ["boolean", "null"]})


def _load_three_versions(dest: Dest) -> None:
    first = dest.load(singer(V1, _rec(id=1, a=10, b=2.5, gone="kept"), {"type": "STATE", "value": {"v": 1}}))
    assert first.returncode == 0, first.stderr.decode()
    second = dest.load(singer(V2, _rec(id=2, a=1.25, b="two", c=True), _rec(id=1, a=11, b="1b"),
                              {"type": "STATE", "value": {"v": 2}}))
    assert second.returncode == 0, second.stderr.decode()
    third = dest.load(singer(V3, _rec(id=3, a=7, b=0.5, c=False), {"type": "STATE", "value": {"v": 3}}))
    assert third.returncode == 0, third.stderr.decode()


def test_widening_alters_columns_in_postgres(dest_factory: Any) -> None:
    dest: Dest = dest_factory()
    if dest.kind == "sqlite":
        return _widening_adds_siblings_in_sqlite(dest)
    _load_three_versions(dest)
    if dest.kind == "duckdb":
        assert dest.columns("evo") == {"id": "hugeint", "a": "decimal(38,18)", "b": "varchar", "gone": "varchar",
                                       "c": "boolean"}
    else:
        assert dest.columns("evo") == {"id": "bigint", "a": "numeric", "b": "text", "gone": "text", "c": "boolean"}
    rows = {r["id"]: r for r in dest.rows("evo")}
    assert rows[1] == {"id": 1, "a": Decimal(11), "b": "1b", "gone": "kept", "c": None}
    assert rows[2] == {"id": 2, "a": Decimal("1.25"), "b": "two", "gone": None, "c": True}
    # v3 narrows back: values go into the wider columns, which stay as they are
    assert rows[3] == {"id": 3, "a": Decimal(7), "b": "0.5", "gone": None, "c": False}
    return None


def _widening_adds_siblings_in_sqlite(dest: Dest) -> None:
    _load_three_versions(dest)
    assert dest.columns("evo") == {"id": "integer", "a": "integer", "b": "decimal_text", "gone": "text",
                                   "a__number": "decimal_text", "b__string": "text", "c": "boolean"}
    rows = {r["id"]: r for r in dest.rows("evo")}
    # later values go to the wider sibling, v3 included; the rows they upsert lose their older values
    # (id 1's a=10 and b=2.5 stayed beside a__number=11 and b__string='1b': a reader of column a saw
    # a value its record no longer had); a row no later record touched keeps its columns as they were
    assert rows[1] == {"id": 1, "a": None, "b": None, "gone": "kept", "a__number": Decimal(11),
                       "b__string": "1b", "c": None}
    assert rows[2]["a__number"] == Decimal("1.25") and rows[2]["b__string"] == "two" and rows[2]["a"] is None
    assert rows[3]["a__number"] == Decimal(7) and rows[3]["b__string"] == "0.5" and rows[3]["c"] is False


def test_a_view_on_a_column_keeps_it_and_adds_a_sibling(dest_factory: Any) -> None:
    """PostgreSQL cannot change the type of a column a view selects; SQLite never changes a
    column's type. Either way the column and the view stay as they are and the wider values
    go to a sibling column. DuckDB binds a view when it is queried: the column is altered in
    place (its values kept, as text) and the view reads the new type."""
    dest: Dest = dest_factory()
    assert dest.load(singer(V1, _rec(id=1, a=10, b=2.5))).returncode == 0
    dest.execute("CREATE VIEW evo_b AS SELECT id, b FROM evo")
    result = dest.load(singer(V2, _rec(id=2, a=3, b="text now")))
    assert result.returncode == 0, result.stderr.decode()
    columns = dest.columns("evo")
    if dest.kind == "duckdb":
        assert columns == {"id": "hugeint", "a": "decimal(38,18)", "b": "varchar", "gone": "varchar",
                           "c": "boolean"}
        assert sorted(dest.sql("SELECT id, b FROM evo")) == [(1, "2.5"), (2, "text now")]
        import duckdb

        if tuple(int(p) for p in duckdb.__version__.split(".")[:2]) < (1, 5):  # README: recreate the view
            with pytest.raises(duckdb.BinderException, match="Contents of view were altered"):
                dest.sql("SELECT id, b FROM evo_b")
            return
        assert sorted(dest.sql("SELECT id, b FROM evo_b")) == [(1, "2.5"), (2, "text now")]
        return
    if dest.kind == "postgres":
        assert columns["b"] == "numeric" and columns["b__string"] == "text" and columns["a"] == "numeric"
    else:  # a: integer -> number gets a sibling too
        assert columns["b"] == "decimal_text" and columns["b__string"] == "text" and columns["a"] == "integer"
        assert columns["a__number"] == "decimal_text"
    rows = {r["id"]: r for r in dest.rows("evo", ["id", "b", "b__string"])}
    assert rows == {1: {"id": 1, "b": Decimal("2.5"), "b__string": None},
                    2: {"id": 2, "b": None, "b__string": "text now"}}
    assert sorted(dest.sql("SELECT id, b FROM evo_b")) == [(1, Decimal("2.5") if dest.kind == "postgres" else "2.5"),
                                                           (2, None)]


def test_new_key_properties_add_a_unique_key(dest_factory: Any) -> None:
    dest: Dest = dest_factory()
    no_key = {"type": "SCHEMA", "stream": "evo", "key_properties": [],
              "schema": {"type": "object", "properties": {"id": {"type": "integer"}, "v": {"type": "string"}}}}
    assert dest.load(singer(no_key, _rec(id=1, v="a"), _rec(id=2, v="b"))).returncode == 0
    keyed = {**no_key, "key_properties": ["id"]}
    result = dest.load(singer(keyed, _rec(id=1, v="A"), _rec(id=3, v="C"), _rec(id=3, v="C2")))
    assert result.returncode == 0, result.stderr.decode()
    assert sorted((r["id"], r["v"]) for r in dest.rows("evo")) == [(1, "A"), (2, "b"), (3, "C2")]


def _names(**fields: Any) -> dict[str, Any]:
    return {"type": "SCHEMA", "stream": "evo", "key_properties": ["id"],
            "schema": {"type": "object", "properties": {"id": {"type": "integer"}, **fields}}}


def test_a_column_keeps_its_field_when_a_field_differing_only_in_case_arrives(dest: Dest) -> None:
    """SQLite and DuckDB find "V" and "v" one column: the field "v" that arrives beside "V" gets a
    column of its own, and "V" stays in its column (it used to move to a new one, column V then
    holding field v's values from that run on). PostgreSQL keeps both names as they are."""
    text = {"type": ["string", "null"]}
    first = dest.load(singer(_names(V=text), _rec(id=1, V="BIG1"), {"type": "STATE", "value": {"v": 1}}))
    assert first.returncode == 0, first.stderr.decode()
    second = dest.load(singer(_names(V=text, v=text), _rec(id=2, V="BIG2", v="small2"),
                              {"type": "STATE", "value": {"v": 2}}))
    assert second.returncode == 0, second.stderr.decode()
    columns = list(dest.columns("evo"))
    assert columns[:2] == ["id", "V"]
    small = next(c for c in columns if c not in ("id", "V"))
    assert small == "v" if dest.kind == "postgres" else small.startswith("v_")
    rows = sorted(dest.rows("evo"), key=lambda r: r["id"])
    assert [(r["V"], r[small]) for r in rows] == [("BIG1", None), ("BIG2", "small2")]


def test_a_key_column_keeps_its_field_when_a_field_differing_only_in_case_arrives(dest: Dest) -> None:
    text, whole = {"type": ["string", "null"]}, {"type": ["integer", "null"]}
    schema = {"type": "SCHEMA", "stream": "evo", "key_properties": ["ID"],
              "schema": {"type": "object", "properties": {"ID": {"type": "integer"}, "v": text}}}
    first = dest.load(singer(schema, {"type": "RECORD", "stream": "evo", "record": {"ID": 1, "v": "a"}},
                             {"type": "STATE", "value": {"v": 1}}))
    assert first.returncode == 0, first.stderr.decode()
    schema["schema"]["properties"]["id"] = whole  # type: ignore[index]
    second = dest.load(singer(schema, {"type": "RECORD", "stream": "evo", "record": {"ID": 3, "v": "c", "id": 7}},
                              {"type": "STATE", "value": {"v": 2}}))
    assert second.returncode == 0, second.stderr.decode()
    rows = sorted(dest.rows("evo"), key=lambda r: r["ID"])
    assert [r["ID"] for r in rows] == [1, 3]  # the key column holds the key, not field "id"
    other = next(c for c in dest.columns("evo") if c not in ("ID", "v"))
    assert rows[1][other] == 7 and rows[0][other] is None


def test_sqlite_refuses_a_key_that_turns_from_integer_to_string(dest_factory: Any) -> None:
    """SQLite cannot change the key column's type, and its integer column would read '007' and
    '7.0' as 7: the records of three keys were one row. PostgreSQL changes the column's type;
    DuckDB refuses to (its README says so): the run fails there too, and no key is merged."""
    dest: Dest = dest_factory()
    first = dest.load(singer(_schema(v={"type": ["string", "null"]}), _rec(id=7, v="int7"),
                             {"type": "STATE", "value": {"v": 1}}))
    assert first.returncode == 0, first.stderr.decode()
    as_text = _schema(v={"type": ["string", "null"]})
    as_text["schema"]["properties"]["id"] = {"type": "string"}
    second = dest.load(singer(as_text, _rec(id="007", v="str007"), _rec(id="7.0", v="str7.0"),
                              {"type": "STATE", "value": {"v": 2}}))
    if dest.kind == "sqlite":
        assert second.returncode == 1
        assert "key column id of table evo holds integer values and the stream now declares that key string" in \
            second.stderr.decode()
        assert [r["v"] for r in dest.rows("evo")] == ["int7"]
    elif dest.kind == "duckdb":
        assert second.returncode == 1, second.stderr.decode()
        assert "key column id of table evo holds integer values and the stream now declares that key string " \
               "(key property 'id')" in second.stderr.decode()
        assert [r["v"] for r in dest.rows("evo")] == ["int7"]
    else:
        assert second.returncode == 0, second.stderr.decode()
        assert sorted(str(r["id"]) for r in dest.rows("evo")) == ["007", "7", "7.0"]


def test_a_key_widened_where_its_column_cannot_change_is_one_clear_error(dest_factory: Any) -> None:
    """integer -> number: PostgreSQL changes the key column's type; SQLite and DuckDB cannot (SQLite
    refused 7.5 with "datatype mismatch", DuckDB with its Binder Error): one error naming the stream,
    the key property, both types and the fix, and nothing of the run is loaded."""
    dest: Dest = dest_factory()
    first = dest.load(singer(_schema(v={"type": ["string", "null"]}), _rec(id=7, v="int7"),
                             {"type": "STATE", "value": {"v": 1}}))
    assert first.returncode == 0, first.stderr.decode()
    as_number = _schema(v={"type": ["string", "null"]})
    as_number["schema"]["properties"]["id"] = {"type": "number"}
    second = dest.load(singer(as_number, _rec(id=7.5, v="num7.5"), _rec(id=8, v="num8"),
                              {"type": "STATE", "value": {"v": 2}}))
    if dest.kind == "postgres":
        assert second.returncode == 0, second.stderr.decode()
        assert sorted((r["id"], r["v"]) for r in dest.rows("evo")) == \
            [(Decimal(7), "int7"), (Decimal("7.5"), "num7.5"), (Decimal(8), "num8")]
        return
    assert second.returncode == 1
    (line,) = error_lines(second.stderr)
    assert "stream 'evo': key column id of table evo holds integer values and the stream now declares that key " \
           "number (key property 'id'): the database cannot change a key column's type. Load the stream into a " \
           "new table (table_names), or drop the table" in line, line
    assert [(r["id"], r["v"]) for r in dest.rows("evo")] == [(7, "int7")]


_INTEGER, _TEXT = {"type": ["integer", "null"]}, {"type": ["string", "null"]}


def test_a_field_named_like_a_sibling_column_keeps_its_own_column(dest: Dest) -> None:
    """Fields "v" and "v__string" (the name of v's sibling column for strings): each keeps its own
    column, run after run (SQLite wrote v into v__string, losing v__string's value; PostgreSQL and
    DuckDB failed every run with "column v__string specified more than once")."""
    for i in (1, 2):
        result = dest.load(singer(_schema(v=_INTEGER, v__string=_TEXT), _rec(id=i, v=10 * i, v__string=f"text{i}"),
                                  {"type": "STATE", "value": {"v": i}}))
        assert result.returncode == 0, result.stderr.decode()
    assert list(dest.columns("evo")) == ["id", "v", "v__string"]
    assert sorted((r["id"], r["v"], r["v__string"]) for r in dest.rows("evo")) == [(1, 10, "text1"), (2, 20, "text2")]


def test_a_sibling_column_never_takes_a_declared_fields_column(dest: Dest) -> None:
    """v widens from integer to string beside a field v__string: PostgreSQL and DuckDB change v's type;
    SQLite, which would keep v's strings in a sibling column v__string, refuses naming both properties
    and the fix (it wrote v's values into v__string's column)."""
    first = dest.load(singer(_schema(v=_INTEGER, v__string=_TEXT), _rec(id=1, v=10, v__string="own1"),
                             {"type": "STATE", "value": {"v": 1}}))
    assert first.returncode == 0, first.stderr.decode()
    second = dest.load(singer(_schema(v=_TEXT, v__string=_TEXT), _rec(id=2, v="twenty", v__string="own2"),
                              {"type": "STATE", "value": {"v": 2}}))
    if dest.kind == "sqlite":
        assert second.returncode == 1
        (line,) = error_lines(second.stderr)
        assert "stream 'evo': property 'v' now declares string values and its column v of table evo holds " \
               "integer" in line and "would be v__string, which is the column of property 'v__string'. Rename " \
               "one of the two properties (a stream map), or load the stream into a new table" in line, line
        assert dest.rows("evo") == [{"id": 1, "v": 10, "v__string": "own1"}]
        return
    assert second.returncode == 0, second.stderr.decode()
    assert list(dest.columns("evo")) == ["id", "v", "v__string"]
    assert sorted((r["id"], r["v"], r["v__string"]) for r in dest.rows("evo")) == [(1, "10", "own1"),
                                                                                  (2, "twenty", "own2")]
