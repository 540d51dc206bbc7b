"""Where a run's reading ends, on Stripe's clock, and what it read at that end.

A run lists ``created < now`` (and reads events ``created < now``) where ``now`` is this machine's
clock at the start; Stripe stamps ``created`` with its own. With Stripe's clock behind ours, an
object created once the listing had begun can be stamped before ``now`` and land on a page already
read; the next run, listing from ``now``, never read it (an outside probe lost one that way). So the
end stored for the next run is ``now`` on Stripe's clock as far as its Date headers tell
(:meth:`taps.stripe.client.StripeClient.server_time`, never later than ours): the next run reads
from there again, and skips the ids this run already read at or after that second
(``ids_at_start``), so nothing is read twice either. A clock of Stripe's ahead of ours changes
nothing: the end stays ``now``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from protocol import Bookmarks

if TYPE_CHECKING:
    from taps.stripe.client import StripeClient

__all__ = ["IDS_AT_START", "RunEnd", "read_before"]

IDS_AT_START = "ids_at_start"
#: how far behind ours Stripe's clock may be for the ids at the end to be kept (further: read twice, not lost)
_RECENT_SECONDS = 3600


class RunEnd:
    """The end ``end`` (our clock) of a listing or an events read, and the ids read near it."""

    def __init__(self, client: StripeClient, end: int) -> None:
        self.client = client
        self.end = end
        self.recent: list[tuple[int, str]] = []

    def note(self, created: Any, ident: Any) -> None:
        """An object (or event) read, by its ``created`` seconds and id."""
        if isinstance(created, int) and created >= self.end - _RECENT_SECONDS and isinstance(ident, str):
            self.recent.append((created, ident))

    def save(self, bookmarks: Bookmarks, stream: str, key: str) -> None:
        """Store the end on Stripe's clock under ``stream``/``key``, with the ids read at or after it."""
        start = self.client.server_time(self.end)
        bookmarks.set(stream, key, start)
        ids = sorted({ident for created, ident in self.recent if created >= start})
        if ids:
            bookmarks.set(stream, IDS_AT_START, ids)
        else:
            bookmarks.clear(stream, IDS_AT_START)


def read_before(bookmarks: Bookmarks, stream: str) -> frozenset[str]:
    """The ids the run before read at or after its end: this run, reading from that end, skips them."""
    ids = bookmarks.get(stream, IDS_AT_START)
    return frozenset(i for i in ids if isinstance(i, str)) if isinstance(ids, list) else frozenset()
