"""protocol._signals: SIGTERM and SIGINT raise Terminated, except inside a hold, where they wait for its end."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from protocol._errors import TargetError, Terminated
from protocol._signals import install, on_stop_signal, stop_held


@pytest.fixture(autouse=True)
def handler() -> Iterator[None]:
    restore = install()
    yield
    restore()


def test_sigterm_outside_a_hold_raises_at_once() -> None:
    with pytest.raises(Terminated, match=r"^stopped by SIGTERM$"):
        signal.raise_signal(signal.SIGTERM)


def test_sigterm_inside_nested_holds_is_raised_when_the_outermost_ends() -> None:
    steps = []
    with pytest.raises(Terminated, match=r"^stopped by SIGTERM after the outer work$"):
        with stop_held("the outer work"):
            with stop_held("the inner work"):
                signal.raise_signal(signal.SIGTERM)
                steps.append("inner finished")
            steps.append("outer finished")
    assert steps == ["inner finished", "outer finished"]
    with stop_held("nothing"):  # the SIGTERM was consumed: a new hold ends quietly
        pass


def test_a_failing_hold_reports_its_own_error_and_forgets_the_sigterm() -> None:
    with pytest.raises(TargetError, match="commit refused"):
        with stop_held("committing"):
            signal.raise_signal(signal.SIGTERM)
            raise TargetError("commit refused")
    with stop_held("nothing"):
        pass
    with pytest.raises(Terminated, match=r"^stopped by SIGTERM$"):  # the handler is back to raising
        signal.raise_signal(signal.SIGTERM)


def test_sigint_is_a_stop_too_with_its_own_exit_code_and_waits_in_a_hold() -> None:
    with pytest.raises(Terminated, match=r"^interrupted by SIGINT \(Ctrl-C\) after committing$") as caught:
        with stop_held("committing"):
            signal.raise_signal(signal.SIGINT)
    assert caught.value.exit_code == 130
    with pytest.raises(Terminated, match=r"^interrupted by SIGINT \(Ctrl-C\)$") as caught:
        signal.raise_signal(signal.SIGINT)
    assert caught.value.exit_code == 130


def test_run_cli_puts_the_previous_handlers_back() -> None:
    """A connector run inside a test process (click's CliRunner) leaves no handler of its own behind."""
    from protocol._cli import run_cli

    def before() -> dict[int, object]:
        return {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    seen: list[object] = []
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    old = before()
    run_cli(lambda: seen.append(signal.getsignal(signal.SIGTERM)))
    assert seen == [on_stop_signal] and before() == old
    with pytest.raises(SystemExit) as exited:
        run_cli(lambda: signal.raise_signal(signal.SIGINT))
    assert exited.value.code == 130 and before() == old
