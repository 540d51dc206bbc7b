"""tap-webhook: the deliveries spooled by ``tap-webhook serve`` as Singer streams.

    tap-webhook serve --config webhooks.json     # the receiver (needs the extra: sluice[webhooks])
    tap-webhook --config webhooks.json           # this tap: drain the spool (no extra needed)

Both read the same config (:mod:`taps.webhook.settings`). STATE is the spool position,
``{"seq": N, "spool": ..., "reader": ...}`` (:mod:`taps.webhook.position`): a run reads the
deliveries after N up to the horizon it finds at its start, and first prunes those at or below the
lowest position of the spool's readers, each of which the run that wrote it had delivered to a
target that committed them (a runner passes a tap the state its target sent back). So a failed
target never loses a delivery: the next run starts from the same state and sends them again; and a
second pipeline reading the same spool holds back the prune until it has read them too.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, ClassVar

from protocol import Bookmarks, Catalog, FatalSourceError, MessageWriter, Tap, plural, tap_main
from taps.webhook.drain import Routes, drain
from taps.webhook.position import SpoolState, check_spool, check_unpruned
from taps.webhook.reader import SpoolReader, open_reader
from taps.webhook.settings import SETTINGS, WebhookSettings
from taps.webhook.streams import WebhookStream, stream_name

__all__ = ["TapWebhook", "main"]

log = logging.getLogger("tap_webhook")
_DAY = 86_400.0


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
        state = SpoolState.parse(bookmarks.to_value())
        routes = Routes(self.settings.sources, catalog, writer)
        reader = self._reader()
        last = state.seq
        if reader is not None:
            try:
                state, upto = self._start(reader, state)
                last = drain(reader, state.seq, upto, routes, writer, lambda seq: writer.write_state(state.at(seq)))
            finally:
                reader.close()
        writer.write_state(state.at(last), final=True)

    def _start(self, reader: SpoolReader, state: SpoolState) -> tuple[SpoolState, int]:
        """Check the state against the spool, record this pipeline as its reader and prune what every
        reader has passed: the state to write from now on, and the last position to read."""
        upto = reader.horizon()
        spool, identified_at = reader.identity()
        check_spool(state, spool, identified_at, upto, reader.where)
        pruned = reader.pruned_through()
        check_unpruned(state, pruned, reader.where)
        if state.reader is None and pruned:
            log.info("spool %s: this pipeline's first run: it reads the deliveries the spool holds (those at or "
                     "below position %d were pruned before)", reader.where, pruned)
        state = state.on(spool)
        assert state.reader is not None
        now = time.time()
        settings = self.settings.spool
        passed = reader.claim(state.reader, state.seq, now, settings.reader_idle_days * _DAY)
        if passed < state.seq:
            log.info("spool %s: kept the deliveries after position %d for another pipeline reading it", reader.where,
                     passed)
        reader.prune(passed, now, settings.dedupe_days * _DAY)
        return state, upto


_tap_command = tap_main(TapWebhook)


def main() -> Any:
    """The console script: ``tap-webhook serve ...`` runs the receiver, anything else the tap."""
    if sys.argv[1:2] == ["serve"]:
        from taps.webhook.serve import main as serve  # the receiver needs the extra: imported only here

        return serve(sys.argv[2:])
    return _tap_command()
