"""The one pluralisation helper every count message goes through."""

from __future__ import annotations

import pytest

from protocol import plural


@pytest.mark.parametrize(("count", "word", "many", "expected"), [
    (0, "row", None, "0 rows"),
    (1, "row", None, "1 row"),
    (2, "row", None, "2 rows"),
    (1, "pipeline", None, "1 pipeline"),
    (3, "pipeline", None, "3 pipelines"),
    (1200, "record", None, "1,200 records"),
    (-1, "record", None, "-1 records"),
    (2, "entry", None, "2 entries"),
    (1, "table or view", "tables and views", "1 table or view"),
    (5, "table or view", "tables and views", "5 tables and views"),
])
def test_plural(count: int, word: str, many: str | None, expected: str) -> None:
    assert plural(count, word, many) == expected
