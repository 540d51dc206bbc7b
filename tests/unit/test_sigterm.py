"""protocol.sigterm: SIGTERM raises Terminated, except inside a hold, where it waits for the hold's end."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from protocol.errors import TargetError, Terminated
from protocol.sigterm import on_sigterm, sigterm_held


@pytest.fixture(autouse=True)
def handler() -> Iterator[None]:
    old = signal.signal(signal.SIGTERM, on_sigterm)
    yield
    signal.signal(signal.SIGTERM, old)


def test_sigterm_outside_a_hold_raises_at_once() -> None:
    with pytest.raises(Terminated, match=r"^stopped by SIGTERM$"):
        signal.raise_signal(signal.SIGTERM)


def test_sigterm_inside_nested_holds_is_raised_when_the_outermost_ends() -> None:
    steps = []
    with pytest.raises(Terminated, match=r"^stopped by SIGTERM after the outer work$"):
        with sigterm_held("the outer work"):
            with sigterm_held("the inner work"):
                signal.raise_signal(signal.SIGTERM)
                steps.append("inner finished")
            steps.append("outer finished")
    assert steps == ["inner finished", "outer finished"]
    with sigterm_held("nothing"):  # the SIGTERM was consumed: a new hold ends quietly
        pass


def test_a_failing_hold_reports_its_own_error_and_forgets_the_sigterm() -> None:
    with pytest.raises(TargetError, match="commit refused"):
        with sigterm_held("committing"):
            signal.raise_signal(signal.SIGTERM)
            raise TargetError("commit refused")
    with sigterm_held("nothing"):
        pass
    with pytest.raises(Terminated, match=r"^stopped by SIGTERM$"):  # the handler is back to raising
        signal.raise_signal(signal.SIGTERM)
