"""tap-webhook: the deliveries spooled by ``tap-webhook serve`` as Singer streams.

    tap-webhook serve --config webhooks.json     # the receiver (needs the extra: sluice[webhooks])
    tap-webhook --config webhooks.json           # this tap: drain the spool (no extra needed)

Both read the same config (:mod:`taps.webhook.settings`). STATE is the spool position,
``{"seq": N}``: a run reads the deliveries after N up to the horizon it finds at its start, and
first prunes those at or below N, which the run that wrote N had delivered to a target that
committed them (a runner passes a tap the state its target sent back). So a failed target never
loses a delivery: the next run starts from the same state and sends them again.
"""

from __future__ import annotations

import sys
from typing import Any, ClassVar

from protocol import Bookmarks, Catalog, ConfigError, FatalSourceError, MessageWriter, Tap, plural, tap_main
from taps.webhook.drain import Routes, drain
from taps.webhook.reader import SpoolReader, open_reader
from taps.webhook.settings import SETTINGS, WebhookSettings
from taps.webhook.streams import WebhookStream, stream_name

__all__ = ["TapWebhook", "main"]


class TapWebhook(Tap):
    name = "tap-webhook"
    description = ("Webhook deliveries as Singer streams: a verifying receiver (tap-webhook serve) spools them "
                   "durably; the tap drains the spool.")
    settings_schema: ClassVar[dict[str, Any]] = SETTINGS

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.settings = WebhookSettings.from_config(self.config)

    def _reader(self) -> SpoolReader | None:
        return open_reader(self.settings.spool)

    def streams(self) -> list[WebhookStream]:  # type: ignore[override]
        sources = self.settings.sources
        kinds: list[tuple[str, str | None]] = [(name, None) for name, s in sources.items() if s.streams == "source"]
        reader = self._reader()
        if reader is not None:
            try:
                kinds += reader.kinds()
            finally:
                reader.close()
        names = dict.fromkeys(stream_name(sources, source, event) for source, event in kinds)
        return [WebhookStream(self, name) for name in names]

    def test_connection(self) -> str:
        reader = self._reader()
        if reader is None:
            raise FatalSourceError(f"spool {self.settings.spool.path} does not exist: nothing received yet "
                                   "(start the receiver: tap-webhook serve)")
        try:
            count, low, high = reader.depth()
            where = reader.where
        finally:
            reader.close()
        held = f" (positions {low} to {high})" if count else ""
        return f"spool {where}: {plural(count, 'delivery', 'deliveries')} spooled{held}"

    def sync(self, catalog: Catalog, bookmarks: Bookmarks, writer: MessageWriter) -> None:
        start = _start_seq(bookmarks.to_value())
        routes = Routes(self.settings.sources, catalog, writer)
        reader = self._reader()
        last = start
        if reader is not None:
            try:
                upto = reader.horizon()
                if start > upto:
                    raise ConfigError(f"the state's position {start} is past the last position of spool "
                                      f"{reader.where} ({upto}): it is not the spool the state was taken from "
                                      "(recreated?); clear the state to read this spool from its start")
                reader.prune(start)
                last = drain(reader, start, upto, routes, writer, lambda seq: writer.write_state({"seq": seq}))
            finally:
                reader.close()
        writer.write_state({"seq": last}, final=True)


def _start_seq(state: dict[str, Any]) -> int:
    seq = state.get("seq", 0)
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise ConfigError(f"state: 'seq' must be a spool position (an integer >= 0), not {seq!r}")
    return seq


_tap_command = tap_main(TapWebhook)


def main() -> Any:
    """The console script: ``tap-webhook serve ...`` runs the receiver, anything else the tap."""
    if sys.argv[1:2] == ["serve"]:
        from taps.webhook.serve import main as serve  # the receiver needs the extra: imported only here

        return serve(sys.argv[2:])
    return _tap_command()
