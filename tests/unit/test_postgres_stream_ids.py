"""tap-postgres stream ids: ``<schema>-<table>``, made unique (and stable) when relations share one."""

from __future__ import annotations

import hashlib

from taps.postgres.discovery import Table, unique_stream_ids


def _digest(schema: str, table: str, length: int = 8) -> str:
    return hashlib.sha256(f"{schema}\0{table}".encode()).hexdigest()[:length]


def _ids(pairs: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    tables = [Table(schema, name, False) for schema, name in pairs]
    unique_stream_ids(tables)
    return {(t.schema_name, t.name): t.stream_id for t in tables}


def test_unique_ids_stay_schema_dash_table() -> None:
    assert _ids([("public", "t"), ("s", "t")]) == {("public", "t"): "public-t", ("s", "t"): "s-t"}


def test_shared_ids_get_a_stable_hash_suffix_whatever_the_order() -> None:
    pairs = [("a-b", "c"), ("a", "b-c"), ("a-b-c", "x"), ("a-b-c-", "d")]
    ids = _ids(pairs)
    assert ids[("a-b", "c")] == "a-b-c-" + _digest("a-b", "c")
    assert ids[("a", "b-c")] == "a-b-c-" + _digest("a", "b-c")
    assert ids[("a-b-c", "x")] == "a-b-c-x"
    assert _ids(list(reversed(pairs))) == ids
    assert len(set(ids.values())) == len(pairs)


def test_a_suffixed_id_that_meets_another_table_is_made_longer() -> None:
    taken = "b-c-" + _digest("a-b", "c")  # a table named like the suffixed id of "a-b".c
    ids = _ids([("a-b", "c"), ("a", "b-c"), ("a", taken)])
    assert len(set(ids.values())) == 3
    assert ids[("a-b", "c")] == "a-b-c-" + _digest("a-b", "c", 16)
    assert ids[("a", "b-c")] == "a-b-c-" + _digest("a", "b-c")
