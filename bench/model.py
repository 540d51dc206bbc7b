"""What a comparison is made of: venvs, programs, goals. The tables live in peers.py (and cmp_*.py).

A ``Program`` is one side of a comparison. Targets and taps are started as
``EXE --config FILE`` (targets read the stream file on stdin); a ``command`` builds its own argv
(a runner, a shell pipe, ``psql``) and reads nothing on stdin.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from datagen import Dataset

__all__ = ["Comparison", "Goal", "Program", "Venv"]


@dataclass(frozen=True)
class Venv:
    name: str
    requirements: tuple[str, ...]
    pythons: tuple[str, ...] = ("python3.11", "python3.12", "python3.10")  # tried in order
    note: str = ""  # install quirk, printed with the results


@dataclass(frozen=True)
class Program:
    label: str
    exe: str   # console-script name: in the venv's bin, else in ours, else on PATH (commands: sh, psql)
    kind: Literal["target", "tap", "command"]
    config: Callable[[Path, Dataset], dict[str, Any]] | None   # (output dir, dataset) -> config; None for commands
    verify: Callable[[Path, Path, Dataset], str]               # (output dir, stderr file, dataset) -> "" or problem
    venv: Venv | None = None                                   # None: ours (or a system program, for commands)
    argv: Callable[[Path, Path, Dataset], list[str]] | None = None   # commands: (bin dir, output dir, dataset)
    setup: Callable[[Path, Dataset], None] | None = None       # once before the first run: (bin dir, dataset)
    prepare: Callable[[Dataset], None] | None = None           # before every run (e.g. a fresh schema)
    env: Mapping[str, str] = field(default_factory=dict)       # added to the harness's environment
    rss: Literal["child", "self"] = "child"    # self: the process alone, its children excluded
    timing: Literal["wall", "reported"] = "wall"   # reported: the program prints seconds=S on stderr
    note: Callable[[], str] | None = None      # after every run: a remark shown with its figure (server CPU)


GoalKind = Literal["peer", "floor", "rate", "rss", "vs", "overhead", "startup", "mb"]


@dataclass(frozen=True)
class Goal:
    """peer: x times the peer's records/s; floor: fraction of the orjson floor; rate: records/s;
    rss: max % change of peak RSS from 200k to 1M records (--rss-check); vs: x times the records/s
    of the program labelled ``against``; overhead: at most this % more wall time than ``against``;
    startup: at most this many seconds more start-up than ``against``; mb: peak RSS at most this."""

    kind: GoalKind
    threshold: float
    against: str = ""   # vs, overhead, startup: the label of the other program
    short: str = ""     # how ``against`` is named in the goal text

    def text(self) -> str:
        other = self.short or self.against
        if self.kind == "peer":
            return f">= {self.threshold:g}x peer"
        if self.kind == "floor":
            return f">= {self.threshold:.0%} orjson"
        if self.kind == "rate":
            return f">= {self.threshold:,.0f} rec/s"
        if self.kind == "vs":
            return f">= {self.threshold:.0%} {other}" if self.threshold < 1 else f">= {self.threshold:g}x {other}"
        if self.kind == "overhead":
            return f"overhead <= {self.threshold:g}% vs {other}"
        if self.kind == "startup":
            return f"start-up <= {self.threshold:g} s over {other}"
        if self.kind == "mb":
            return f"RSS <= {self.threshold:g} MB"
        return f"RSS +<= {self.threshold:g}%"


@dataclass(frozen=True)
class Comparison:
    name: str
    ours: Program
    peer: Program | None
    goals: tuple[Goal, ...] = field(default_factory=tuple)
    others: tuple[Program, ...] = ()   # more sides (other peers, floors), run alternately with the rest
    startup: bool = False              # also run every side on an empty input; report start-up and net rate
    count: Callable[[Dataset], int] | None = None   # units per run (default: the records)
    scale: int = 1                     # runs on N x scale records (a longer run, for a stable net rate)
    records: Callable[[int], int] | None = None   # records it runs on, from N (e.g. a cap); overrides scale
    teardown: Callable[[], None] | None = None    # after its last run (e.g. stop a server its setup started)
    data: str = "plain"                # the data set variant it runs on (datagen.VARIANTS)
