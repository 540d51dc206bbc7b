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


def test_a_new_tables_chunks_are_new_until_their_ranges_meet() -> None:
    keys = ChunkKeys(created=True)
    keys.add([[1, 5]])
    assert keys.take(2) == KeyStats(True, 1, 5, new=True)
    keys.add([[6, 9]])
    assert keys.take(2) == KeyStats(True, 6, 9, new=True)
    keys.add([[9, 12]])  # meets the range loaded before
    assert keys.take(2) == KeyStats(True, 9, 12)
    keys.add([[20]])
    assert keys.take(1) == KeyStats(True, 20, 20, new=True)  # the loaded range is 1..12: 20 is outside it
    keys.add([[15]])  # inside 1..20, the range now known (a conservative envelope)
    assert keys.take(1) == KeyStats(True, 15, 15)
    keys.add([[0]])
    assert keys.take(1) == KeyStats(True, 0, 0, new=True)


def test_rows_loaded_otherwise_end_what_is_known() -> None:
    keys = ChunkKeys(created=True)
    keys.forget()
    keys.add([[1]])
    assert keys.take(1) == KeyStats(True, 1, 1)
    existing = ChunkKeys()  # a table that was there before the run
    existing.add([[1]])
    assert existing.take(1) == KeyStats(True, 1, 1)
