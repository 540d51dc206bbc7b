"""The dashboard's SVG chart geometry (runner/ui/charts.py) and its guard's helpers, against plain arithmetic."""

from __future__ import annotations

import pytest

from runner.ui.charts import HEIGHT, TOP, duration_chart, rows_chart
from runner.ui.data import RunRow
from runner.ui.format import seconds
from runner.ui.security import is_loopback, session_value

BOTTOM_Y = HEIGHT - 22


def _run(i: int, status: str, committed: int | None, duration: float | None) -> RunRow:
    started = 1_700_000_000.0 + 3600 * i
    ended = None if duration is None else started + duration
    return RunRow(i, i, "p", None, status, started, ended, duration, committed, committed, None, "h", 1)


RUNS = [_run(3, "failed", 0, 2.0), _run(1, "succeeded", 340, 12.5), _run(2, "succeeded", 1000, 61.0),
        _run(4, "running", None, None), _run(5, "abandoned", 70, 3.0)]


def test_rows_chart_bars_are_proportional_oldest_first() -> None:
    chart = rows_chart(RUNS)
    assert [b.run_id for b in chart.bars] == [1, 2, 3, 4, 5]
    assert [b.css for b in chart.bars] == ["ok", "ok", "failed", "running", "failed"]
    assert chart.failures == 2
    plot = BOTTOM_Y - TOP
    top = 1000  # the largest value is already a round number
    for bar, value in zip(chart.bars, [340, 1000, 0, 0, 70], strict=True):
        assert bar.height == pytest.approx(plot * value / top)
        assert bar.y + bar.height == pytest.approx(BOTTOM_Y)
    assert [t.label for t in chart.ticks] == ["0", "500", "1,000"]
    xs = [b.x for b in chart.bars]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)
    assert chart.bars[2].title == "run 3: 0 rows, failed"
    assert chart.first == "2023-11-14 23:13:20Z" and chart.last == "2023-11-15 03:13:20Z"


def test_duration_chart_rounds_its_top_up() -> None:
    chart = duration_chart(RUNS)
    top = 100.0  # 61 s rounds up to 100
    assert [t.label for t in chart.ticks] == [seconds(0), seconds(50.0), seconds(100.0)]
    assert chart.bars[1].height == pytest.approx((BOTTOM_Y - TOP) * 61.0 / top)
    assert chart.bars[3].height == 0 and chart.bars[3].title.startswith("run 4: -")


def test_empty_chart() -> None:
    assert rows_chart([]).empty and duration_chart([]).bars == []


@pytest.mark.parametrize(("host", "loop"), [("127.0.0.1", True), ("127.8.9.1", True), ("::1", True),
                                             ("[::1]", True), ("localhost", True), ("LOCALHOST", True),
                                             ("0.0.0.0", False), ("10.0.0.1", False), ("localhost.evil", False),
                                             ("::", False), ("example.com", False)])
def test_is_loopback(host: str, loop: bool) -> None:
    assert is_loopback(host) is loop


def test_the_cookie_is_not_the_token() -> None:
    assert session_value("abc") != "abc" and session_value("abc") != session_value("abd")
    assert session_value("abc") == session_value("abc")
