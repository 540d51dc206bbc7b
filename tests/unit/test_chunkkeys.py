"""The key stats a sink gathers for a chunk of bulk rows (targets/sql/chunkkeys.py)."""

from __future__ import annotations

from targets.sql.chunkkeys import ChunkKeys, KeyStats


def test_a_key_repeated_in_a_later_run_makes_the_chunk_not_unique() -> None:
    keys = ChunkKeys()
    keys.add([[3, 1, 2]])
    keys.add([[7, 2]])
    assert keys.take(5) == KeyStats(False, 1, 7)
    keys.add([[9, 8]])  # the next chunk starts empty
    assert keys.take(2) == KeyStats(True, 8, 9)


def test_a_key_of_several_columns_has_no_range() -> None:
    keys = ChunkKeys()
    keys.add([[1, 1], ["x", "y"]])
    assert keys.take(2) == KeyStats(True)
    keys.add([[1, 1], ["x", "x"]])
    assert keys.take(2) == KeyStats(False)


def test_rows_not_gathered_give_no_stats() -> None:
    """A chunk whose rows were not all added (a reset, rows added one by one) is not described."""
    keys = ChunkKeys()
    keys.add([[1, 2]])
    assert keys.take(3) is None
    assert keys.take(0) is None
    keys.add([["é", "a", "z"]])
    assert keys.take(3) == KeyStats(True, "a", "é")
