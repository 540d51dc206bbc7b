"""Schema evolution: new fields add columns, widened types alter (PostgreSQL, DuckDB) or get a
sibling column (SQLite, or a PostgreSQL column a view depends on); nothing is ever dropped or lost."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.integration.sql.helpers import Dest, singer


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
    # the old values stay where they were; later ones go to the wider sibling, v3 included
    assert rows[1] == {"id": 1, "a": 10, "b": Decimal("2.5"), "gone": "kept", "a__number": Decimal(11),
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
