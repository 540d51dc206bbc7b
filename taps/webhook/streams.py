"""tap-webhook's streams: one per source, or one per source and event type (the source's ``streams``).

Every stream has the same schema: a record per delivery, keyed by ``delivery_id`` (so a target
upserts a delivery that a run sends again), with the time it was received, its event type, the
headers the source keeps and the body (parsed JSON, or a string when the body is not JSON).

A stream per event type is named ``<source>__<event type>``, the event type in lower case with every
run of other characters than letters and digits made one ``_`` (``stripe__invoice_paid``);
deliveries without an event type go to ``<source>__none``. Discovery lists the event types the spool
holds; one first seen later is synced too (selected, every field), since a webhook announces no
schedule: deselect its stream in the catalog to drop it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from protocol import Stream, Tap
from taps.webhook.settings import SourceSettings

__all__ = ["KEY", "RECORD_SCHEMA", "WebhookStream", "stream_name"]

KEY = "delivery_id"
RECORD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "delivery_id": {"type": "string"},
        "received_at": {"type": "string", "format": "date-time"},
        "event_type": {"type": ["string", "null"]},
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "body": {},
    },
}
#: the fields in the order the spool reader writes them (taps/webhook/reader.py)
FIELDS = tuple(RECORD_SCHEMA["properties"])
_OTHER = re.compile(r"[^a-z0-9]+")


def stream_name(sources: Mapping[str, SourceSettings], source: str, event_type: str | None) -> str:
    """The stream of a delivery. A source the config no longer names keeps one stream of its own."""
    settings = sources.get(source)
    if settings is None or settings.streams == "source":
        return source
    slug = _OTHER.sub("_", event_type.lower()).strip("_") if event_type is not None else ""
    return f"{source}__{slug or 'none'}"


class WebhookStream(Stream):
    primary_keys = (KEY,)

    def __init__(self, tap: Tap, name: str) -> None:
        super().__init__(tap)
        self.name = name

    @property
    def schema(self) -> dict[str, Any]:
        return copy.deepcopy(RECORD_SCHEMA)
