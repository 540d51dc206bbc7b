"""tap-stripe: customers, charges, invoices, subscriptions, products, prices, payment intents and events.

Its settings are in :mod:`taps.stripe.settings`, its streams in :mod:`taps.stripe.streams`.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from protocol import Bookmarks, Catalog, MessageWriter, Tap, tap_main
from taps.stripe.client import StripeClient
from taps.stripe.settings import SETTINGS, StripeSettings
from taps.stripe.streams import STREAM_TYPES, StripeStream

__all__ = ["TapStripe", "main"]


class TapStripe(Tap):
    name = "tap-stripe"
    description = ("Singer tap for Stripe: customers, charges, invoices, subscriptions, products, prices, "
                   "payment intents and events.")
    settings_schema: ClassVar[dict[str, Any]] = SETTINGS

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.settings = StripeSettings.from_config(self.config)
        self.client = StripeClient(self.settings)
        #: the end of every window of this run (unix seconds): what is created later, the next run reads
        self.now = int(time.time())
        self.writer: MessageWriter | None = None

    def checkpoint(self, bookmarks: Bookmarks) -> None:
        """A STATE now (a page's records are all written): a resumed run goes on from the next page."""
        if self.writer is not None:
            self.writer.write_state(bookmarks.to_value())

    def streams(self) -> list[StripeStream]:  # type: ignore[override]
        return [cls(self) for cls in STREAM_TYPES]

    def test_connection(self) -> str:
        account = self.settings.account_id
        try:
            body = self.client.get(f"accounts/{account}" if account else "account")
        finally:
            self.client.close()
        name = ((body.get("settings") or {}).get("dashboard") or {}).get("display_name") if body else None
        return f"key accepted; account {body.get('id', account)}" + (f" ({name})" if name else "") + " is readable"

    def sync(self, catalog: Catalog, bookmarks: Bookmarks, writer: MessageWriter) -> None:
        self.writer = writer
        try:
            super().sync(catalog, bookmarks, writer)
        finally:
            self.client.close()


main = tap_main(TapStripe)
