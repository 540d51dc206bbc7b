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


def test_record_counter_increments_add_up_to_the_count(caplog: pytest.LogCaptureFixture) -> None:
    import json
    import logging

    from protocol._metrics import RecordCounter

    flushes = []
    ticks = 0
    counter = RecordCounter("s", lambda: flushes.append(1))
    with caplog.at_level(logging.INFO, logger="sluice.metrics"):
        for count in range(1, 50_001):
            if count >= counter.check_at:
                counter.tick(count)
                ticks += 1
        counter.finish(50_000)
        empty = RecordCounter("e")
        empty.finish(0)
    points = [json.loads(r.getMessage().split("METRIC: ", 1)[1]) for r in caplog.records]
    assert sum(p["value"] for p in points if p["tags"]["stream"] == "s") == 50_000
    assert [p["value"] for p in points if p["tags"]["stream"] == "e"] == [0]
    assert len(flushes) == len([p for p in points if p["tags"]["stream"] == "s"]) - 1  # every report but the last
    assert ticks < 5_000  # a fast stream does not read the clock at every record
