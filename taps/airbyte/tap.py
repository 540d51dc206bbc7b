"""tap-airbyte: any Airbyte source program as a Singer tap, without Docker or Airbyte's platform.

The source (installed from its package into its own environment, or found on PATH) is run with
its own commands: ``spec`` for ``--about``, ``check`` for ``--test``, ``discover`` for
``--discover`` and ``read`` for a run; catalogs, records, states, logs and errors are translated
both ways (:mod:`taps.airbyte.streams`, :mod:`taps.airbyte.sync`, :mod:`taps.airbyte.state`).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any, ClassVar

from protocol import (
    Bookmarks,
    Catalog,
    ConfigError,
    FatalSourceError,
    MessageWriter,
    SluiceError,
    Tap,
    dumps,
    load_config,
    secret_values,
    tap_main,
)
from taps.airbyte.client import SourceRun
from taps.airbyte.events import ask
from taps.airbyte.settings import SETTINGS, AirbyteSettings, secret_like_values, with_source_spec
from taps.airbyte.specs import cached_spec
from taps.airbyte.state import AirbyteState
from taps.airbyte.streams import AIRBYTE_STREAM, AirbyteStream, StreamPlan, plan_stream
from taps.airbyte.sync import Translation

__all__ = ["TapAirbyte", "main"]

log = logging.getLogger("sluice.airbyte")


class TapAirbyte(Tap):
    name = "tap-airbyte"
    description = ("Singer tap for any Airbyte source program: its spec, check, discover and read, translated "
                   "to Singer catalogs, records and states.")
    settings_schema: ClassVar[dict[str, Any]] = SETTINGS

    @classmethod
    def log_secrets(cls, config: Mapping[str, Any]) -> list[str]:
        """The values of ``airbyte_config`` the source's spec marks ``airbyte_secret`` (the spec cached
        per program version, specs.py), and those under keys named like secrets (settings.py)."""
        values = secret_like_values(config.get("airbyte_config") or {})
        try:
            settings = AirbyteSettings.from_config(config)
        except SluiceError:
            return values  # a config error: the run reports it next
        spec = cached_spec(settings, lambda: _spec(settings))
        if spec:
            values += secret_values(dict(config), with_source_spec(cls.settings_schema, spec, ""))
        return list(dict.fromkeys(values))

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.settings = AirbyteSettings.from_config(self.config)
        self._streams: list[AirbyteStream] | None = None

    def _config_file(self) -> dict[str, bytes]:
        return {"config": dumps(dict(self.settings.airbyte_config))}  # exact: numbers as the config wrote them

    def spec(self) -> dict[str, Any]:
        """The source's SPEC (its ``connectionSpecification`` is the schema of its config)."""
        return _spec(self.settings)

    def airbyte_catalog(self) -> list[dict[str, Any]]:
        message = ask(self.settings, "discover", "CATALOG", self._config_file())
        streams = (message.catalog or {}).get("streams")
        if not isinstance(streams, list):
            raise FatalSourceError(f"the Airbyte source {self.settings.executable} wrote a CATALOG without streams")
        return streams

    def streams(self) -> list[AirbyteStream]:  # type: ignore[override]
        if self._streams is None:
            streams = [AirbyteStream(self, item) for item in self.airbyte_catalog()]
            _refuse_collisions(streams)
            self._streams = streams
        return self._streams

    def test_connection(self) -> str:
        status = ask(self.settings, "check", "CONNECTION_STATUS", self._config_file()).connectionStatus
        name = self.settings.source_name
        if status is None or status.status != "SUCCEEDED":
            said = " ".join((status.message or "no message").split()) if status is not None else "no status"
            raise FatalSourceError(f"the Airbyte source {name} check FAILED: {said}")
        return f"the Airbyte source {name} check SUCCEEDED"

    def plans(self, catalog: Catalog) -> dict[str, StreamPlan]:
        """The selected streams' plans; a catalog written without tap-airbyte's metadata is
        completed from the source's own catalog (one ``discover``)."""
        selected = catalog.selected()
        known: dict[str, dict[str, Any]] = {}
        if any(entry.metadata.get((), AIRBYTE_STREAM) is None for entry in selected):
            known = {stream.name: stream.airbyte for stream in self.streams()}
        plans: dict[str, StreamPlan] = {}
        for entry in selected:
            if entry.tap_stream_id in plans:
                raise ConfigError(f"the catalog selects stream '{entry.tap_stream_id}' twice: one Singer stream "
                                  "cannot carry two Airbyte streams (their records and states would be merged)")
            airbyte = entry.metadata.get((), AIRBYTE_STREAM) or known.get(entry.tap_stream_id)
            if not isinstance(airbyte, dict) or not airbyte.get("name"):
                log.warning("catalog stream '%s' is not offered by the source; skipped", entry.tap_stream_id)
                continue
            plans[entry.tap_stream_id] = plan_stream(entry, airbyte)
        return plans

    def sync(self, catalog: Catalog, bookmarks: Bookmarks, writer: MessageWriter) -> None:
        state = AirbyteState(bookmarks.to_value())
        plans = self.plans(catalog)
        if not plans:
            log.warning("no stream is selected; the source is not run")
            writer.write_state(state.to_value(), final=True)
            return
        files = {**self._config_file(),
                 "catalog": dumps({"streams": [plan.configured for plan in plans.values()]})}
        given = state.state_file(frozenset(name for name, plan in plans.items() if not plan.incremental))
        if given is not None:
            files["state"] = given
        with SourceRun(self.settings, "read", files) as run:
            Translation(run, plans, state, writer).translate()


def _spec(settings: AirbyteSettings) -> dict[str, Any]:
    return ask(settings, "spec", "SPEC", {}).spec or {}


def _about_schema(argv: list[str]) -> dict[str, Any] | None:
    """For ``--about`` with ``--config``: the settings schema with the source's spec in ``airbyte_config``
    (or a note saying why it is missing). None without ``--config``."""
    configs = [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == "--config"]
    configs += [arg.split("=", 1)[1] for arg in argv if arg.startswith("--config=")]
    if not configs:
        return None
    try:
        config = load_config(configs, connector_name=TapAirbyte.name, settings_schema=TapAirbyte.settings_schema)
        spec = TapAirbyte(config).spec()
    except SluiceError as exc:
        return with_source_spec(TapAirbyte.settings_schema, None, f"the source's spec is not shown: {exc}")
    return with_source_spec(TapAirbyte.settings_schema, spec, "the source's own connection specification")


_main = tap_main(TapAirbyte)


def main() -> Any:
    """The console script. ``--about --config FILE`` runs the source's ``spec`` to show its settings."""
    argv = sys.argv[1:]
    if "--about" in argv:
        schema = _about_schema(argv)
        if schema is not None:
            about = type("TapAirbyte", (TapAirbyte,), {"settings_schema": schema})
            return tap_main(about)()
    return _main()


def _refuse_collisions(streams: list[AirbyteStream]) -> None:
    """Two Airbyte streams whose Singer names are one (``orders`` of namespace ``shop`` and a stream
    named ``shop-orders``) would share a table and a bookmark: one's rows would overwrite the
    other's and one state would be lost. Refused, naming both."""
    seen: dict[str, AirbyteStream] = {}
    for stream in streams:
        other = seen.setdefault(stream.name, stream)
        if other is not stream:
            raise FatalSourceError(
                f"the Airbyte streams {_described(other)} and {_described(stream)} are both Singer stream "
                f"'{stream.name}' (namespace-name): tap-airbyte cannot keep their records and states apart")


def _described(stream: AirbyteStream) -> str:
    namespace = stream.airbyte.get("namespace")
    return f"'{stream.airbyte['name']}' (namespace '{namespace}')" if namespace else f"'{stream.airbyte['name']}'"
