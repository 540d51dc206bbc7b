"""Which process of tap | mappers | target a failed run blames (runner/sides.py::first_cause).

The rule: of the processes that failed by themselves and not on a broken pipe, the first in the
pipe, once everything before it has exited; a failure on a broken pipe blames the process that
read that pipe and exited 0 too early.
"""

from __future__ import annotations

import signal

import pytest

from protocol import ExitCode
from runner.sides import Side, SideSpec, first_cause

RUNNING = None
PIPE = -signal.SIGPIPE  # killed by SIGPIPE: a broken pipe


def _chain(*codes: int | None, mappers: int = 1) -> list[Side]:
    roles = ["tap", *(["mapper"] * mappers), "target"]
    assert len(codes) == len(roles)
    sides = []
    for i, (role, rc) in enumerate(zip(roles, codes, strict=True)):
        side = Side(SideSpec(role, f"{role}{i}", ["prog"], {}))
        side.proc = object()  # type: ignore[assignment]  # started; rc None means still running
        side.rc = rc
        if rc not in (None, ExitCode.OK, PIPE):
            side.stats.last_error = f"{role}{i} broke"
        sides.append(side)
    return sides


def _blamed(chain: list[Side]) -> str | None:
    cause = first_cause(chain)
    return None if cause is None else cause[0].spec.name


@pytest.mark.parametrize(("codes", "blamed"), [
    ((0, 0, 0), None),  # all fine
    ((1, 1, 0), "tap0"),  # the tap failed; the mapper then failed on its cut input
    ((PIPE, 1, 1), "mapper1"),  # the mapper failed; the tap only lost its reader
    ((0, 1, 0), "mapper1"),
    ((0, 0, 1), "target2"),
    ((PIPE, PIPE, 1), "target2"),  # the target failed; both before it lost their readers
    ((PIPE, 0, 0), "mapper1"),  # the mapper exited 0 without reading all of the tap's output
    ((PIPE, PIPE, 0), "target2"),  # the target did, and the mapper then lost its reader
    ((RUNNING, 1, RUNNING), None),  # the tap may still fail by itself: wait
    ((0, RUNNING, 1), None),  # the mapper may still fail by itself: wait
    ((1, RUNNING, RUNNING), "tap0"),  # a tap failure is the cause at once
])
def test_the_first_process_that_failed_by_itself_is_blamed(codes: tuple[int | None, ...],
                                                           blamed: str | None) -> None:
    assert _blamed(_chain(*codes)) == blamed


def test_without_mappers_the_pair_is_judged_as_before() -> None:
    assert _blamed(_chain(1, 0, mappers=0)) == "tap0"
    assert _blamed(_chain(PIPE, 1, mappers=0)) == "target1"
    cause = first_cause(_chain(PIPE, 0, mappers=0))
    assert cause is not None and cause[0].spec.role == "target"
    assert cause[1].startswith("exited (exit code 0) before reading all of the tap's output; the tap then ended with")


def test_a_mapper_named_in_the_message() -> None:
    cause = first_cause(_chain(0, PIPE, 0, 0, mappers=2))
    assert cause is not None and cause[0].spec.name == "mapper2"
    assert cause[1].startswith("exited (exit code 0) before reading all of mapper 'mapper1''s output")
