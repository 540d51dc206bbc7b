"""A FULL_TABLE read of a view resumes from its declared key (view-key-properties), which may hold
nulls and repeat: before, ``(k) > (last)`` never matched a null key (nulls come last in key order)
and skipped the rest of a repeated key, so a resumed read lost those rows; a checkpoint on a null
key (``{"k": null}``) matched nothing at all. A resumed read now starts at the last key: rows
sharing it are read again, rows with a null key are read after every value."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from psycopg import sql

from taps.postgres.client import Source
from taps.postgres.discovery import REL, load_tables
from taps.postgres.streams import at_or_after
from tests.integration.postgres_tap.conftest import Src, records, tap, tap_killed_at

ROWS = 25000
STREAM = "public-vv"


def _view(src: Src) -> None:
    # k: null for even ids; odd ids share k three by three (1 -> 0, 3 -> 1, 5 -> 1, 7 -> 2, ...)
    src.sql("CREATE TABLE vb (id int, k int)")
    src.sql(f"INSERT INTO vb SELECT i, CASE WHEN i % 2 = 0 THEN NULL ELSE i / 3 END FROM generate_series(1, {ROWS}) i")
    src.sql("CREATE VIEW vv AS SELECT id, k FROM vb")


def _k(i: int) -> int | None:
    return None if i % 2 == 0 else i // 3


def _catalog(src: Src, config: Path) -> Path:
    return src.catalog(config, {STREAM: {"replication-method": "FULL_TABLE", "view-key-properties": ["k"]}})


def _state(last: dict[str, Any]) -> dict[str, Any]:
    return {"bookmarks": {STREAM: {"version": 1, "last_pk_fetched": last}}}


def test_a_view_read_resumed_at_a_value_or_a_null_key_loses_no_row(src: Src) -> None:
    _view(src)
    config = src.config()
    catalog = _catalog(src, config)
    assert sorted(r["id"] for r in records(tap(config, catalog))) == list(range(1, ROWS + 1))
    at_value = [r["id"] for r in records(tap(config, catalog, _state({"k": 1111}), src.tmp))]
    # every row with k >= 1111 (both ids of k = 1111: 3333 and 3335), then every null key
    expected = [i for i in range(1, ROWS + 1) if (k := _k(i)) is None or k >= 1111]
    assert sorted(at_value) == expected and {3333, 3335} <= set(at_value)
    at_null = [r["id"] for r in records(tap(config, catalog, _state({"k": None}), src.tmp))]
    assert sorted(at_null) == list(range(2, ROWS + 1, 2))


def test_a_killed_view_read_resumed_from_its_states_emits_every_row(src: Src) -> None:
    _view(src)
    config = src.config()
    catalog = _catalog(src, config)
    args = ["--config", str(config), "--catalog", str(catalog)]

    def at(want_null: bool) -> Any:
        def stop(value: dict[str, Any]) -> bool:
            last = value["bookmarks"].get(STREAM, {}).get("last_pk_fetched")
            return last is not None and (last["k"] is None) == want_null
        return stop

    for want_null in (False, True):  # a checkpoint on a value (row 10,000), on a null key (row 20,000)
        seen, state = tap_killed_at(args, at(want_null))
        assert state is not None and (state["bookmarks"][STREAM]["last_pk_fetched"]["k"] is None) == want_null
        resumed = tap(config, catalog, state, src.tmp)
        assert {r["id"] for r in records(seen) + records(resumed)} == set(range(1, ROWS + 1))


def test_the_resume_predicate_selects_the_rows_at_or_after_a_key_in_key_order(src: Src) -> None:
    """Two key columns, each null or repeated: for every key as the last one, exactly the rows that
    ``ORDER BY a, b`` (nulls last) puts at or after it."""
    values = [None, 0, 1]
    rows = [(i, a, b) for i, (a, b) in enumerate(list(itertools.product(values, values)) * 2)]
    src.sql("CREATE TABLE kb (id int, a int, b int)")
    src.sql("INSERT INTO kb VALUES " + ", ".join(f"({i}, {a if a is not None else 'NULL'}, "
                                                 f"{b if b is not None else 'NULL'})" for i, a, b in rows))
    src.sql("CREATE VIEW kv AS SELECT * FROM kb")

    def order(a: int | None, b: int | None) -> tuple[Any, ...]:
        return (a is None, a or 0, b is None, b or 0)

    with Source({"sqlalchemy_url": src.dsn}) as source:
        view = next(t for t in load_tables(source, ["public"]) if t.name == "kv")
        keys = [view.columns["a"], view.columns["b"]]
        for a, b in itertools.product(values, values):
            where = at_or_after(keys, {"a": a, "b": b})
            query = sql.SQL("SELECT {} FROM {} WHERE {}").format(sql.Identifier(REL, "id"), view.aliased, where)
            got = sorted(r[0] for r in source.query(query, doing="testing"))
            assert got == [i for i, ra, rb in rows if order(ra, rb) >= order(a, b)], (a, b)
