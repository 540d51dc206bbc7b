"""Paginators on their own: the next request each derives from one page, and when paging must stop
with an error instead of looping or ending early."""

from __future__ import annotations

import pytest

from protocol.http import LinkPaginator, OffsetPaginator, PagingError, Response


def answer(url: str, link: str | None = None) -> Response:
    return Response(200, {"Link": link} if link else {}, b"[]", url)


def test_a_relative_link_is_resolved_against_the_page_url() -> None:
    p = LinkPaginator()
    p.first_params()
    nxt = p.next_page(answer("http://h/api/items?page=1", '</api/items?page=2>; rel="next"'), [], [1])
    assert nxt is not None and nxt.url == "http://h/api/items?page=2"


def test_a_link_to_a_page_already_read_is_an_error() -> None:
    p = LinkPaginator()
    p.first_params()
    assert p.next_page(answer("http://h/i?a=1&page=1", '<http://h/i?page=2&a=1>; rel="next"'), [], [1])
    with pytest.raises(PagingError, match=r"next link http://h/i\?a=1&page=1 came twice; paging would not end"):
        p.next_page(answer("http://h/i?page=2&a=1", '<http://h/i?a=1&page=1>; rel="next"'), [], [1])
    p.first_params()  # a new listing forgets the pages of the last
    assert p.next_page(answer("http://h/i?page=2&a=1", '<http://h/i?a=1&page=1>; rel="next"'), [], [1])


def test_offset_with_a_total_pages_past_short_pages_until_the_total() -> None:
    p = OffsetPaginator(100, total_path="$.total")
    p.first_params()
    resp = answer("http://h/i")
    nxt = p.next_page(resp, {"total": 120}, list(range(50)))
    assert nxt is not None and nxt.params == {"offset": 50, "limit": 100}
    assert p.next_page(resp, {"total": 120}, list(range(50))) is not None
    assert p.next_page(resp, {"total": 120}, list(range(20))) is None  # the total is read
    p.first_params()
    assert p.next_page(resp, {"total": 120}, []) is None  # an empty page ends it too


def test_offset_without_a_total_stops_on_a_short_page() -> None:
    p = OffsetPaginator(100)
    p.first_params()
    assert p.next_page(answer("http://h/i"), {}, list(range(50))) is None
