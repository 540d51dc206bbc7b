"""tap-hubspot: contacts, companies, deals and owners from the HubSpot CRM v3 API.

Its settings are in :mod:`taps.hubspot.settings`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from protocol import Bookmarks, Catalog, MessageWriter, Tap, tap_main
from taps.hubspot.client import HubSpotClient
from taps.hubspot.schemas import object_schema
from taps.hubspot.settings import SETTINGS, HubSpotSettings
from taps.hubspot.streams import STREAM_TYPES, HubSpotStream

__all__ = ["TapHubSpot", "main"]


class TapHubSpot(Tap):
    name = "tap-hubspot"
    description = ("Singer tap for HubSpot CRM: contacts, companies, deals (with their properties, typed from "
                   "the properties API) and owners.")
    settings_schema: ClassVar[dict[str, Any]] = SETTINGS

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.settings = HubSpotSettings.from_config(self.config)
        self.client = HubSpotClient(self.settings)

    def streams(self) -> list[HubSpotStream]:  # type: ignore[override]
        return [cls(self) for cls in STREAM_TYPES]

    def object_schema(self, object_type: str) -> dict[str, Any]:
        """The schema of a CRM object type, its properties read from the properties API."""
        return object_schema(self.client.properties(object_type))

    def test_connection(self) -> str:
        try:
            next(iter(self.client.pages("/crm/v3/objects/contacts", {"limit": 1}, "/crm/v3/objects/{objectType}",
                                           "contacts", prefetch=False)))
        finally:
            self.client.close()
        return "token accepted; contacts are readable"

    def sync(self, catalog: Catalog, bookmarks: Bookmarks, writer: MessageWriter) -> None:
        try:
            super().sync(catalog, bookmarks, writer)
        finally:
            self.client.close()


main = tap_main(TapHubSpot)
