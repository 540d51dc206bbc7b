"""tap-jira's read-ahead of search pages: order kept, errors raised in place, an early stop stops the reader."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from protocol import FatalSourceError
from taps.jira.client import prefetched


def pages(n: int, fail_at: int | None = None, read: list[int] | None = None) -> Iterator[list[int]]:
    for i in range(n):
        if i == fail_at:
            raise FatalSourceError(f"page {i}: HTTP 400")
        if read is not None:
            read.append(i)
        yield [i]


def test_pages_come_in_order() -> None:
    assert list(prefetched(pages(50))) == [[i] for i in range(50)]


def test_an_error_is_raised_after_the_pages_before_it() -> None:
    got: list[list[int]] = []
    with pytest.raises(FatalSourceError, match="page 3: HTTP 400"):
        for page in prefetched(pages(10, fail_at=3)):
            got.append(page)
    assert got == [[0], [1], [2]]


def test_closing_early_stops_the_reader() -> None:
    read: list[int] = []
    ahead = prefetched(pages(1000, read=read), depth=2)
    assert next(ahead) == [0]
    ahead.close()
    assert not [t for t in threading.enumerate() if t.name == "jira-prefetch"]
    assert len(read) <= 5  # the page handed out, at most two waiting, one being put
