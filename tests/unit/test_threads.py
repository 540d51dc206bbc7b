"""protocol._threads: the switch interval a connector with an I/O worker thread runs with."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from protocol import hand_over_promptly
from protocol._threads import WORKER_SWITCH_INTERVAL


@pytest.fixture
def interval() -> Iterator[None]:
    before = sys.getswitchinterval()
    yield
    sys.setswitchinterval(before)


@pytest.mark.usefixtures("interval")
def test_the_default_interval_is_shortened() -> None:
    sys.setswitchinterval(0.005)  # CPython's default
    hand_over_promptly()
    assert sys.getswitchinterval() == pytest.approx(WORKER_SWITCH_INTERVAL)


@pytest.mark.usefixtures("interval")
def test_a_shorter_interval_is_kept() -> None:
    sys.setswitchinterval(WORKER_SWITCH_INTERVAL / 5)
    hand_over_promptly()
    assert sys.getswitchinterval() == pytest.approx(WORKER_SWITCH_INTERVAL / 5)
