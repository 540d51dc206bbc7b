"""Server-side bar charts of a pipeline's runs: geometry only, drawn as SVG by templates/_chart.html.

One bar per run, oldest on the left; a run that did not succeed is drawn in the failure colour with
a mark above it, so a failure with no rows (a zero-height bar) still shows. The y axis has a few round
ticks. No script and no inline style: the page's CSP forbids both, classes carry the colours.
Coordinates reach the page as attribute strings made of numbers only (``Bar.geometry``, ``Bar.mark``),
inserted unescaped; every text (titles, labels) is escaped by the template.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from runner.ui.data import RunRow
from runner.ui.format import count, seconds, utc

__all__ = ["Bar", "Chart", "duration_chart", "rows_chart"]

WIDTH, HEIGHT = 760, 180
LEFT, RIGHT, TOP, BOTTOM = 64, 8, 14, 22
OK_STATUSES = {"succeeded", "running"}


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str  # "ok", "running" or "failed"
    title: str  # the tooltip: run number, value, status
    run_id: int

    @property
    def geometry(self) -> str:
        """The rect's attributes: numbers only, so the template inserts them as they are."""
        return f'x="{self.x:.1f}" y="{self.y:.1f}" width="{self.width:.1f}" height="{self.height:.1f}"'

    @property
    def mark(self) -> str:
        """The failure mark's attributes (a circle above the bar): numbers only."""
        return f'cx="{self.x + self.width / 2:.1f}" cy="{self.y - 6:.1f}" r="3.5"'


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class Chart:
    title: str
    width: int
    height: int
    bars: list[Bar]
    ticks: list[Tick]
    baseline: float
    left: int
    right: float
    failures: int
    first: str  # when the oldest run shown started (under the axis, left)
    last: str  # when the newest did (right)

    @property
    def empty(self) -> bool:
        return not self.bars


def _nice_top(top: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above ``top`` (1 for nothing)."""
    if top <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(top))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= top)


def _chart(title: str, runs: Sequence[RunRow], value: Callable[[RunRow], float | None],
           label: Callable[[float], str], unit: str) -> Chart:
    ordered = sorted(runs, key=lambda r: r.id)
    values = [value(r) for r in ordered]
    top = _nice_top(max((v for v in values if v is not None), default=0.0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(ordered))
    gap = min(2.0, slot * 0.2)
    bars = []
    for i, (run, v) in enumerate(zip(ordered, values, strict=True)):
        h = 0.0 if v is None else plot_h * min(1.0, v / top)
        css = "ok" if run.status == "succeeded" else "running" if run.status == "running" else "failed"
        shown = "-" if v is None else label(v)
        bars.append(Bar(LEFT + i * slot + gap / 2, TOP + plot_h - h, max(0.5, slot - gap), h, css,
                        f"run {run.number}: {shown} {unit}, {run.status}", run.id))
    ticks = [Tick(TOP + plot_h * (1 - f), label(top * f)) for f in (0.0, 0.5, 1.0)]
    failures = sum(1 for b in bars if b.css == "failed")
    first, last = (utc(ordered[0].started_at), utc(ordered[-1].started_at)) if ordered else ("", "")
    return Chart(title, WIDTH, HEIGHT, bars, ticks, TOP + plot_h, LEFT, WIDTH - RIGHT, failures, first, last)


def rows_chart(runs: Sequence[RunRow]) -> Chart:
    """Rows moved per run: what the target committed (what the tap emitted when the target did not say)."""

    def rows(r: RunRow) -> float | None:
        moved = r.records_committed if r.records_committed is not None else r.records_emitted
        return None if moved is None else float(moved)

    return _chart("Rows moved per run", runs, rows, lambda v: count(round(v)), "rows")


def duration_chart(runs: Sequence[RunRow]) -> Chart:
    """Seconds per run (a run still going: none yet)."""
    return _chart("Duration per run", runs, lambda r: r.duration, seconds, "")
